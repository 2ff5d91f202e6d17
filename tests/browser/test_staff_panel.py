"""The staff panel in real Chromium: step titles and states in words, and a replay that seeks and changes speed."""

from __future__ import annotations

import json
import re
import time
import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.sandbox
def test_the_staff_table_names_the_step_by_its_title_and_the_state_in_words(live_server, browser_page):
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
    staff.locator(".kafaat-lab__staff-status").filter(has_text="1 learner").wait_for(timeout=10_000)
    cells = staff.locator(".kafaat-lab__staff-rows tr").first.locator("td")
    assert cells.nth(0).inner_text() == "alice"
    assert cells.nth(1).inner_text() == "Running"  # not "ready"
    assert cells.nth(2).inner_text() == "Create a file"  # the step's title, not its id "hello"
    staff.get_by_role("button", name="Stop alice's lab").click()
    staff.locator(".kafaat-lab__staff-status").filter(has_text="Lab stopped.").wait_for(timeout=10_000)
    from playwright.sync_api import expect

    expect(cells.nth(1)).to_have_text(re.compile(r"^(Stopping|Stopped)$"), timeout=10_000)  # once the table reloads


# Four seconds of recording: "first" at once, "second" at 2 s, "third" at 4 s.
CAST = "\n".join(
    [
        json.dumps({"version": 2, "width": 40, "height": 6}),
        json.dumps([0.0, "o", "first\r\n"]),
        json.dumps([2.0, "o", "second\r\n"]),
        json.dumps([4.0, "o", "third\r\n"]),
    ]
)


def test_a_replay_seeks_to_any_moment_and_plays_faster(live_server, browser_page):
    from workbench.scenarios import init_scenarios

    init_scenarios()
    page = browser_page
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    page.locator(".kafaat-lab__score").first.filter(has_text="Score").wait_for(timeout=10_000)
    page.evaluate(
        """(cast) => {
          const box = document.createElement('div');
          box.className = 'replay-probe';
          document.body.prepend(box);
          KafaatTerminal.replay(box, cast, {i18n: KafaatI18n({})});
        }""",
        CAST,
    )
    probe = page.locator(".replay-probe")
    rows = probe.locator(".xterm-rows")
    seek = probe.get_by_role("slider", name="Position in the recording")
    assert seek.get_attribute("max") == "40"
    assert probe.locator(".kafaat-terminal__position").inner_text() == "0:00 / 0:04"

    seek.fill("25")  # 2.5 s: "first" and "second" are on screen, "third" is not yet
    rows.filter(has_text="second").wait_for(timeout=5_000)
    assert "first" in rows.inner_text() and "third" not in rows.inner_text()
    assert probe.locator(".kafaat-terminal__position").inner_text() == "0:02 / 0:04"
    seek.fill("5")  # back to 0.5 s: the screen is redrawn up to there only
    page.wait_for_timeout(100)
    assert "first" in rows.inner_text() and "second" not in rows.inner_text()

    seek.fill("0")
    probe.get_by_label("Speed").select_option("8")
    started = time.monotonic()
    probe.get_by_role("button", name="Play").click()
    probe.locator(".kafaat-terminal__status").filter(has_text="End of recording.").wait_for(timeout=10_000)
    assert time.monotonic() - started < 2.0  # four seconds of recording at 8x (at 1x it takes 4)
    assert "third" in rows.inner_text()
    assert probe.locator(".kafaat-terminal__position").inner_text() == "0:04 / 0:04"
    assert page.js_errors == []
