"""The lab page in real Chromium against a live workbench: Start, ready, Check fails, work, Check passes."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def test_a_learner_starts_the_lab_checks_does_the_work_and_sees_the_score(live_server, browser_page):
    from workbench.scenarios import init_scenarios

    from xblocks.labs import api
    from xblocks.labs.models import LabSession
    from xblocks.labs.sandbox.base import get_backend

    init_scenarios()  # the workbench keeps scenarios in the database this test starts empty
    page = browser_page
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)  # the initialiser ran
    lab.get_by_role("button", name="Start lab").click()
    status = lab.locator(".kafaat-lab__status")
    status.filter(has_text="Your lab is ready").wait_for(timeout=30_000)
    assert lab.locator(".kafaat-lab__countdown").is_visible()
    assert lab.get_by_role("button", name="Stop lab").is_visible()
    assert not lab.locator(".kafaat-lab__progress").is_visible()  # the start-up progress bar is gone
    assert not lab.get_by_role("button", name="Start lab").is_visible()

    lab.get_by_role("button", name="Check").click()
    result = lab.locator(".kafaat-lab__result--failed")
    result.wait_for(timeout=30_000)
    assert "hello.txt does not contain hello yet" in result.inner_text()
    assert "Score: 0 / 1" in lab.locator(".kafaat-lab__score").inner_text()

    session = LabSession.objects.get(state="ready")
    done = get_backend().exec(api.terminal_target(session.pk), "echo hello > /home/learner/hello.txt", user="learner")
    assert done.ok

    lab.get_by_role("button", name="Check").click()
    lab.locator(".kafaat-lab__result--passed").wait_for(timeout=30_000)
    assert "Score: 1 / 1" in lab.locator(".kafaat-lab__score").inner_text()
    assert "Passed" in lab.locator(".kafaat-lab__step-state").first.inner_text()

    lab.get_by_role("button", name="Stop lab").click()
    lab.get_by_role("button", name="Start lab").wait_for(timeout=30_000)
    assert LabSession.objects.get(pk=session.pk).state == "stopped"


def test_hostile_check_output_and_hints_stay_text_in_the_page(live_server, browser_page):
    import pathlib
    import uuid

    from workbench.scenarios import add_xml_scenario, init_scenarios

    init_scenarios()
    name = f"kafaat_lab.hostile-{uuid.uuid4().hex[:6]}"
    text = (pathlib.Path(__file__).resolve().parents[1] / "labs" / "block" / "olx" / "hostile.xml").read_text(
        encoding="utf-8"
    )
    add_xml_scenario(name, f"Hostile lab {name}", text)
    page = browser_page
    alerts = []
    page.on("dialog", lambda dialog: alerts.append(dialog.message))
    page.goto(f"{live_server.url}/scenario/{name}/?student=mallory")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)  # the initialiser ran
    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-lab__status").filter(has_text="Your lab is ready").wait_for(timeout=30_000)
    lab.get_by_role("button", name="Check").click()
    feedback = lab.locator(".kafaat-lab__feedback")
    feedback.wait_for(timeout=30_000)
    assert "<img src=x onerror=alert(1)></script><script>alert(4)</script>" in feedback.inner_text()
    lab.get_by_role("button", name="Show a hint").click()
    lab.locator(".kafaat-lab__hint-text").wait_for(timeout=10_000)
    page.wait_for_timeout(300)
    assert alerts == []  # no payload ran: not in the title, instructions, check output or hint
    assert (
        page.evaluate("document.querySelectorAll('.kafaat-lab script, .kafaat-lab [onerror], .kafaat-lab svg').length")
        == 0
    )
    lab.get_by_role("button", name="Stop lab").click()
    lab.get_by_role("button", name="Start lab").wait_for(timeout=30_000)


def test_check_output_reads_left_to_right_in_the_arabic_page(live_server, browser_page):
    from workbench.scenarios import init_scenarios

    init_scenarios()
    page = browser_page
    page.set_extra_http_headers({"Accept-Language": "ar"})
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)
    assert lab.evaluate("node => getComputedStyle(node).direction") == "rtl"
    lab.locator(".kafaat-lab__start").click()
    lab.locator(".kafaat-lab__check").first.wait_for(state="visible", timeout=30_000)
    lab.locator(".kafaat-lab__stop").wait_for(state="visible", timeout=30_000)
    lab.locator(".kafaat-lab__check").first.click()
    feedback = lab.locator(".kafaat-lab__feedback").first
    feedback.wait_for(timeout=30_000)
    # "hello.txt does not contain hello yet" with its full stop and paths where an English reader expects them
    assert feedback.evaluate("node => getComputedStyle(node).direction") == "ltr"
    body = lab.locator(".kafaat-lab__step-body").first
    assert body.evaluate("node => getComputedStyle(node).direction") == "ltr"
    lab.locator(".kafaat-lab__stop").click()
    lab.locator(".kafaat-lab__start").wait_for(state="visible", timeout=30_000)


def test_staff_see_what_their_action_did_after_the_table_reloads(live_server, browser_page):
    from workbench.scenarios import init_scenarios

    init_scenarios()
    page = browser_page
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-lab__status").filter(has_text="Your lab is ready").wait_for(timeout=30_000)

    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=staff")
    staff = page.locator(".kafaat-lab__staff").first
    status = staff.locator(".kafaat-lab__staff-status")
    status.filter(has_text="1 learner").wait_for(timeout=10_000)
    staff.get_by_role("button", name="Extend alice's lab").click()
    status.filter(has_text="Time extended.").wait_for(timeout=10_000)
    page.wait_for_timeout(1_000)  # the table has reloaded by now
    assert status.inner_text() == "Time extended."
    staff.get_by_role("button", name="Refresh").click()
    status.filter(has_text="1 learner").wait_for(timeout=10_000)
    staff.get_by_role("button", name="Stop alice's lab").click()
    status.filter(has_text="Lab stopped.").wait_for(timeout=10_000)


RUNNING_TWO_OF_THREE = {
    "en": "Running check 2 of 3…",
    "fr": "Vérification 2 sur 3 en cours…",
    "ar": "جارٍ تنفيذ عملية التحقّق 2 من 3…",
}


@pytest.mark.redis
@pytest.mark.slow
@pytest.mark.parametrize("language", ["en", "fr", "ar"])
def test_check_runs_on_a_real_worker_while_the_page_shows_progress_then_the_score(
    live_server, browser_page, redis_lab_queue, tmp_path, language
):
    """Start → Check fails → work → Check passes → score, with every task on a Celery worker over Redis."""
    import pathlib
    import uuid

    from workbench.scenarios import add_xml_scenario, init_scenarios

    from tests.labs.helpers import Worker
    from xblocks.labs import api
    from xblocks.labs.models import CheckRun, LabSession
    from xblocks.labs.sandbox.base import get_backend

    init_scenarios()
    name = f"kafaat_lab.paced-{uuid.uuid4().hex[:6]}"
    olx = pathlib.Path(__file__).resolve().parents[1] / "labs" / "block" / "olx" / "paced_checks.xml"
    add_xml_scenario(name, f"Paced lab {name}", olx.read_text(encoding="utf-8"))
    worker = Worker(redis_lab_queue, tmp_path / "worker.log")
    try:
        page = browser_page
        page.set_extra_http_headers({"Accept-Language": language})
        page.goto(f"{live_server.url}/scenario/{name}/?student=alice")
        lab = page.locator(".kafaat-lab").first
        lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)
        lab.locator(".kafaat-lab__start").click()
        lab.locator(".kafaat-lab__stop").wait_for(state="visible", timeout=90_000)  # the worker started it

        lab.locator(".kafaat-lab__check").click()
        progress = lab.locator(".kafaat-lab__run-text").filter(has_text=RUNNING_TWO_OF_THREE[language])
        progress.wait_for(timeout=30_000)
        assert lab.locator(".kafaat-lab__check").is_disabled()  # one run at a time, from this page too
        lab.locator(".kafaat-lab__result--failed").wait_for(timeout=30_000)
        assert "paced.txt is missing" in lab.locator(".kafaat-lab__results").inner_text()
        assert "2 / 3" in lab.locator(".kafaat-lab__score").inner_text()
        assert not lab.locator(".kafaat-lab__run").is_visible()

        session = LabSession.objects.get(state="ready")
        done = get_backend().exec(api.terminal_target(session.pk), "touch /home/learner/paced.txt", user="learner")
        assert done.ok
        lab.locator(".kafaat-lab__check").click()
        lab.locator(".kafaat-lab__result--passed").nth(2).wait_for(timeout=30_000)
        assert "3 / 3" in lab.locator(".kafaat-lab__score").inner_text()
        runs = CheckRun.objects.filter(session=session).order_by("pk")
        assert [(run.state, run.points) for run in runs] == [("done", 2.0), ("done", 3.0)]
        assert all(run.published_at for run in runs)  # the page fetched each result, which published the grade
        assert page.js_errors == []
        lab.locator(".kafaat-lab__stop").click()
        lab.locator(".kafaat-lab__start").wait_for(state="visible", timeout=60_000)
    finally:
        worker.kill()
