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
