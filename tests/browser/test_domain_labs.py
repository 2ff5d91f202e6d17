"""One sample lab per domain walked as a learner in real Chromium, in French (and a data lab in Arabic).

Each walk is the learner's path through the first step of a lab of the sample course: start the lab, press
Check on the fresh lab and read the keyed feedback in the page's language, type the step's solve in the
terminal, press Check again and see the step's points in the score. Only the first step: the harness
(``kafaat lab test``) proves every step of every lab headless; these tests prove that the page, the
terminal and the translated feedback carry a real domain lab end to end. They are kept lean (CI time):
one step each, the solve pasted into the terminal a line at a time.
"""

from __future__ import annotations

import re
import textwrap
import time
import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

# lab key -> (domain, the feedback a fresh lab's first check shows in French)
FRENCH = {
    "data_sql_postgres": ("data", "Rien ne répond sur localhost:5432"),
    "testing_bug_pin": ("software-testing", "aucun ne reproduit encore le ticket"),
    "cloud_reverse_proxy": ("cloud", "Rien ne répond sur 127.0.0.1:"),
    "devops_make_hooks": ("devops", "Il n'y a pas encore de Makefile dans ~/calc"),
    "security_portal_network": ("cybersecurity", "ne cite pas encore le port ouvert du portail"),
    "ai_model_serving": ("ai", "Rien ne répond sur le port 8000"),
}


def _scenario(lab_key: str):
    """The workbench scenario of a sample-course lab, and the lab's parsed definition."""
    from workbench.scenarios import init_scenarios

    from xblocks.labs.block import LabBlock
    from xblocks.labs.definition import parse_lab

    init_scenarios()
    for index, (_title, olx) in enumerate(LabBlock.workbench_scenarios()):
        definition = parse_lab(olx)
        if definition.lab_key == lab_key:
            return f"kafaat_lab.{index}", definition
    raise AssertionError(f"no sample lab {lab_key}")


def _first_step_solve() -> str:
    """The first step's solve as the running session renders it (this learner's parameters)."""
    from xblocks.labs.definition import parse_lab, render
    from xblocks.labs.models import LabSession

    session = LabSession.objects.get(state="ready")
    rendered = render(parse_lab(session.definition), session.params or {})
    return textwrap.dedent(rendered.steps[0].solve).strip()


def _walk(page, live_server, lab_key: str, language: str, fresh_feedback: str) -> None:
    scenario, definition = _scenario(lab_key)
    first = definition.steps[0]
    step_points, total = first.max_points, sum(step.max_points for step in definition.steps)
    page.set_extra_http_headers({"Accept-Language": language})
    page.goto(f"{live_server.url}/scenario/{scenario}/?student=alice")
    lab = page.locator(".kafaat-lab").first
    score = lab.locator(".kafaat-lab__score")
    score.filter(has_text=f"0 / {total}").wait_for(timeout=10_000)
    lab.locator(".kafaat-lab__start").click()
    lab.locator(".kafaat-lab__check:not([disabled])").first.wait_for(timeout=90_000)  # ready

    # a failed check on the fresh lab, its keyed feedback in the learner's language
    lab.locator(".kafaat-lab__check").first.click()
    failed = lab.locator(".kafaat-lab__result--failed").filter(has_text=fresh_feedback).first
    failed.wait_for(timeout=60_000)
    assert "kafaat-feedback" not in lab.locator(".kafaat-lab__step-body").first.inner_text()

    # the solve, typed in the (first machine's) terminal as one paste; history expansion off for the `!`s
    terminal = lab.locator(".kafaat-terminal[data-state='connected']")
    terminal.wait_for(timeout=30_000)
    terminal.locator(".xterm").click()
    lines = [
        "set +H; bash <<'KAFAAT_SOLVE' && echo solve-done-$((6*7))",
        *_first_step_solve().splitlines(),
        "KAFAAT_SOLVE",
    ]
    for line in lines:  # each line pasted at once, then Enter (a pasted newline is not a key press)
        page.keyboard.insert_text(line)
        page.keyboard.press("Enter")
    try:
        terminal.locator(".xterm-rows").filter(has_text="solve-done-42").wait_for(timeout=30_000)
    except Exception:
        print("TERMINAL:", terminal.locator(".xterm-rows").inner_text())
        raise

    # the passing check and the step's points in the score
    lab.locator(".kafaat-lab__check").first.click()
    score.filter(has_text=re.compile(rf"(^|\D){step_points} / {total}")).wait_for(timeout=120_000)
    assert lab.locator(".kafaat-lab__result--passed").count() >= len(first.checks)
    assert page.js_errors == []
    lab.locator(".kafaat-lab__stop").click()
    lab.locator(".kafaat-lab__start").wait_for(state="visible", timeout=30_000)


@pytest.mark.parametrize("lab_key", sorted(FRENCH), ids=[FRENCH[key][0] for key in sorted(FRENCH)])
def test_a_learner_walks_a_domain_lab_in_french(live_server, terminal_gateway, browser_page, lab_key):
    started = time.monotonic()
    _walk(browser_page, live_server, lab_key, "fr", FRENCH[lab_key][1])
    print(f"{lab_key}: walked in French in {time.monotonic() - started:.1f}s")


def test_a_learner_walks_the_postgresql_data_lab_in_arabic(live_server, terminal_gateway, browser_page):
    started = time.monotonic()
    _walk(browser_page, live_server, "data_sql_postgres", "ar", "لا شيء يجيب على localhost:5432")
    direction = browser_page.locator(".kafaat-lab__step-body").first.evaluate(
        "node => getComputedStyle(node).direction"
    )
    assert direction == "rtl"
    print(f"data_sql_postgres: walked in Arabic in {time.monotonic() - started:.1f}s")
