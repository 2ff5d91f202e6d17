"""Commands in the instructions in real Chromium: Copy puts one on the clipboard, Run types it in the terminal;
the intro, reading steps and the finish page as the learner sees them."""

from __future__ import annotations

import pathlib
import uuid
import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

LAB = pathlib.Path(__file__).resolve().parents[1] / "labs" / "block" / "olx" / "pages_and_reading_steps.xml"


def test_run_types_a_command_into_the_terminal_copy_copies_it_and_the_finish_page_shows_at_the_end(
    live_server, terminal_gateway, browser_page
):
    from workbench.scenarios import add_xml_scenario, init_scenarios

    from tests.labs.helpers import solve_in_sandbox
    from xblocks.labs.models import LabSession
    from xblocks.labs.sandbox.base import get_backend

    init_scenarios()
    name = f"kafaat_lab.pages-{uuid.uuid4().hex[:6]}"
    add_xml_scenario(name, f"Pages lab {name}", LAB.read_text(encoding="utf-8"))
    page = browser_page
    page.context.grant_permissions(["clipboard-read", "clipboard-write"], origin=live_server.url)
    page.goto(f"{live_server.url}/scenario/{name}/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    assert "In this lab you serve a page on port" in lab.locator(".kafaat-lab__intro").inner_text()
    assert not lab.locator(".kafaat-lab__finish").is_visible()
    config = lab.locator('.kafaat-lab__step[data-step="config"]')
    run = config.get_by_role("button", name="Run in the terminal")
    assert run.is_disabled()  # no terminal yet

    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-terminal[data-state='connected']").wait_for(timeout=30_000)
    reading = lab.locator('.kafaat-lab__step[data-step="read"] .kafaat-lab__step-state')
    assert reading.inner_text() == "Nothing to check: read on"
    session = LabSession.objects.get(state="ready")
    port = session.params["port"]
    command = f"echo 'listen {port}' > ~/site.conf"

    config.get_by_role("button", name="Copy").click()
    config.get_by_role("button", name="Copied").wait_for(timeout=5_000)
    assert page.evaluate("navigator.clipboard.readText()") == command

    page.wait_for_function(
        "!document.querySelector('.kafaat-lab__step[data-step=\"config\"] .kafaat-lab__run-command').disabled"
    )
    run.click()
    lab.locator(".xterm-rows").filter(has_text=command).wait_for(timeout=10_000)  # typed in the learner's shell
    config.get_by_role("button", name="Check").click()
    config.locator(".kafaat-lab__result--passed").wait_for(timeout=30_000)  # ...and it ran there

    solve_in_sandbox(get_backend(), session.pk, "later")
    lab.locator('.kafaat-lab__step[data-step="later"]').get_by_role("button", name="Check").click()
    finish = lab.locator(".kafaat-lab__finish")
    finish.wait_for(state="visible", timeout=30_000)
    assert f"Well done: the service listens on {port}" in finish.inner_text()
    assert page.js_errors == []


FOREGROUND = pathlib.Path(__file__).resolve().parents[1] / "labs" / "block" / "olx" / "foreground.xml"


def test_foreground_commands_are_typed_when_the_terminal_opens_and_each_step_is_reached_once(
    live_server, terminal_gateway, browser_page
):
    from workbench.scenarios import add_xml_scenario, init_scenarios

    from tests.labs.helpers import wait_for
    from xblocks.labs import api
    from xblocks.labs.models import LabSession
    from xblocks.labs.sandbox.base import get_backend

    init_scenarios()
    name = f"kafaat_lab.foreground-{uuid.uuid4().hex[:6]}"
    add_xml_scenario(name, f"Foreground lab {name}", FOREGROUND.read_text(encoding="utf-8"))
    page = browser_page
    page.goto(f"{live_server.url}/scenario/{name}/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-terminal[data-state='connected']").wait_for(timeout=30_000)
    session = LabSession.objects.get(state="ready")

    def typed() -> list[str]:
        result = get_backend().exec(
            api.terminal_target(session.pk), "cat ~/typed.log 2>/dev/null || true", user="learner", timeout=10
        )
        return result.stdout.split()

    # the lab's commands, then the open step's, typed visibly in the learner's shell; not the locked step's
    lab.locator(".xterm-rows").filter(has_text="echo first >> ~/typed.log").wait_for(timeout=10_000)
    wait_for(lambda: typed() == ["lab", "first"], 10, "the lab's and the first step's commands ran")
    first = lab.locator('.kafaat-lab__step[data-step="first"]')
    first.get_by_role("button", name="Check").click()
    first.locator(".kafaat-lab__result--passed").wait_for(timeout=30_000)
    # passing the first step reaches the second: its commands are typed now
    wait_for(lambda: typed() == ["lab", "first", "second"], 15, "the second step's commands ran once reached")
    # a reload in the same tab does not type anything again
    page.reload()
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-terminal[data-state='connected']").wait_for(timeout=30_000)
    page.wait_for_timeout(1500)
    assert typed() == ["lab", "first", "second"]
    assert page.js_errors == []


def test_an_imported_killercoda_lab_opens_a_root_terminal_and_types_its_foreground_scripts(
    live_server, terminal_gateway, browser_page
):
    from workbench.scenarios import add_xml_scenario, init_scenarios

    from xblocks.labs.importing.killercoda import import_scenario

    scenario = pathlib.Path(__file__).resolve().parents[1] / "labs" / "fixtures" / "killercoda" / "linux-basics"
    init_scenarios()
    name = f"kafaat_lab.imported-{uuid.uuid4().hex[:6]}"
    add_xml_scenario(name, f"Imported lab {name}", import_scenario(scenario / "katacoda-grep").olx)
    page = browser_page
    page.goto(f"{live_server.url}/scenario/{name}/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-terminal[data-state='connected']").wait_for(timeout=30_000)
    # the step's foreground script (head -n 3 ~/access.log) ran in a root shell in /root: its output is there,
    # typed once the prompt showed (input typed while sudo -i takes the terminal over would be lost)
    rows = lab.locator(".xterm-rows")
    rows.filter(has_text='10.0.0.9 - - [01/Mar/2026:10:00:02] "GET /cart').wait_for(timeout=15_000)
    assert "No such file" not in rows.inner_text()
    assert page.js_errors == []
