"""A lab of three machines in real Chromium: one terminal tab per machine, each tab's shell on its machine,
and the tab row laid out without sideways scrolling in English and Arabic."""

from __future__ import annotations

import uuid
import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

LAB = """<kafaat_lab display_name="Three machines" time_limit="10" idle_timeout="5">
  <machine name="attacker"/>
  <machine name="portal"/>
  <machine name="db" terminal="false"/>
  <network><deny from="attacker" to="db"/></network>
  <step id="s1" title="Look around">
    <instructions>Type `hostname` in each terminal.</instructions>
    <check id="c1" machine="portal">true</check>
  </step>
</kafaat_lab>"""

WORKBENCH_CHROME = "header.banner, section.debug { display: none !important; }"


def _scenario() -> str:
    from workbench.scenarios import add_xml_scenario, init_scenarios

    init_scenarios()
    name = f"kafaat_lab.machines-{uuid.uuid4().hex[:6]}"
    add_xml_scenario(name, f"Machines {name}", LAB)
    return name


def _run(page, terminal, command: str, expected: str) -> None:
    terminal.locator(".xterm").click()
    page.keyboard.type(command)
    page.keyboard.press("Enter")
    terminal.locator(".xterm-rows").filter(has_text=expected).wait_for(timeout=15_000)


@pytest.mark.parametrize("language", ["en", "ar"])
def test_one_terminal_tab_per_machine_each_on_its_machine(live_server, terminal_gateway, browser_page, language):
    page = browser_page
    page.set_extra_http_headers({"Accept-Language": language})
    page.set_viewport_size({"width": 1366, "height": 800})
    page.goto(f"{live_server.url}/scenario/{_scenario()}/?student=alice")
    page.add_style_tag(content=WORKBENCH_CHROME)
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)
    tabs = lab.locator(".kafaat-lab__machine")
    assert tabs.all_inner_texts() == ["attacker", "portal"]  # db has no terminal
    assert tabs.first.get_attribute("aria-selected") == "true"
    lab.locator(".kafaat-lab__start").click()
    terminal = lab.locator(".kafaat-terminal[data-state='connected']")
    terminal.wait_for(timeout=30_000)
    _run(page, terminal, "MARK=kept; echo on-$(hostname)", "on-attacker")

    tabs.nth(1).click()
    assert tabs.nth(1).get_attribute("aria-selected") == "true"
    terminal = lab.locator(".kafaat-terminal[data-state='connected']")
    terminal.wait_for(timeout=30_000)
    _run(page, terminal, "echo on-$(hostname) && getent hosts db | cut -c1-9", "on-portal")
    terminal.locator(".xterm-rows").filter(has_text="10.77.0.4").wait_for(timeout=5_000)

    # back to the attacker: its shell is still there (the variable set before is still set)
    tabs.first.click()
    terminal = lab.locator(".kafaat-terminal[data-state='connected']")
    terminal.wait_for(timeout=30_000)
    _run(page, terminal, "echo $MARK-$((40+2))-$(hostname)", "kept-42-attacker")

    # the tab row follows the page's direction and never makes the page scroll sideways
    first, second = (tab.bounding_box() for tab in (tabs.first, tabs.nth(1)))
    if language == "ar":
        assert first["x"] > second["x"]
    else:
        assert first["x"] < second["x"]
    for width in (390, 768, 1024):
        page.set_viewport_size({"width": width, "height": 800})
        page.wait_for_timeout(250)
        scroll, inner = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
        assert scroll <= inner, (language, width, scroll, inner)
    assert page.js_errors == []


def test_staff_replay_the_recording_of_the_machine_whose_tab_is_selected(live_server, terminal_gateway, browser_page):
    import time

    from xblocks.labs.models import LabSession
    from xblocks.labs.terminal import api as terminal_api

    page = browser_page
    scenario = _scenario()
    page.goto(f"{live_server.url}/scenario/{scenario}/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)
    lab.locator(".kafaat-lab__start").click()
    terminal = lab.locator(".kafaat-terminal[data-state='connected']")
    terminal.wait_for(timeout=30_000)
    _run(page, terminal, "echo typed-on-$(hostname)", "typed-on-attacker")
    lab.locator(".kafaat-lab__machine").nth(1).click()
    terminal = lab.locator(".kafaat-terminal[data-state='connected']")
    terminal.wait_for(timeout=30_000)
    _run(page, terminal, "echo typed-at-$(hostname)", "typed-at-portal")
    session = LabSession.objects.get(user__username="alice", state="ready")
    deadline = time.monotonic() + 20  # the gateway flushes each machine's recording every few seconds
    while not all(b"typed" in terminal_api.command_history(session.pk, m) for m in ("", "portal")):
        assert time.monotonic() < deadline, terminal_api.transcript_machines(session.pk)
        time.sleep(0.25)

    page.goto(f"{live_server.url}/scenario/{scenario}/?student=staff")
    staff_lab = page.locator(".kafaat-lab").first
    staff = staff_lab.locator(".kafaat-lab__staff")
    staff.locator(".kafaat-lab__staff-status").filter(has_text="1 learner").wait_for(timeout=10_000)
    for tab, shown, hidden in (
        (1, "typed-at-portal", "typed-on-attacker"),
        (0, "typed-on-attacker", "typed-at-portal"),
    ):
        staff_lab.locator(".kafaat-lab__machine").nth(tab).click()
        staff.get_by_role("button", name="Replay alice's terminal").click()
        player = staff_lab.locator(".kafaat-terminal--replay")
        player.get_by_role("button", name="Skip to end").click()
        rows = player.locator(".xterm-rows")
        rows.filter(has_text=shown).wait_for(timeout=5_000)
        assert hidden not in rows.inner_text()
    assert page.js_errors == []
