"""The lab page's terminal in real Chromium: xterm.js through the gateway to the sandbox's shell and back."""

from __future__ import annotations

import re
import time
import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def test_a_learner_types_in_the_lab_terminal_and_reads_the_output(live_server, terminal_gateway, browser_page):
    from workbench.scenarios import init_scenarios

    from xblocks.labs.terminal import api as terminal_api

    init_scenarios()
    page = browser_page
    sockets = []  # Playwright sits between page and gateway so the test can cut the connection

    def through(route):
        route.connect_to_server()
        sockets.append(route)

    page.route_web_socket(re.compile(r".*/kafaat/terminal/ws/.*"), through)
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-lab__status").filter(has_text="Your lab is ready").wait_for(timeout=30_000)

    terminal = lab.locator(".kafaat-terminal[data-state='connected']")
    terminal.wait_for(timeout=15_000)
    assert terminal.locator(".kafaat-terminal__status").inner_text() == "Connected"
    terminal.locator(".xterm").click()
    page.keyboard.type("echo from-the-browser-$((6*7))")
    page.keyboard.press("Enter")
    rows = terminal.locator(".xterm-rows")
    rows.filter(has_text="from-the-browser-42").wait_for(timeout=10_000)
    screen_text = rows.inner_text()
    assert "echo from-the-browser-$((6*7))" in screen_text  # the shell echoed the keystrokes
    assert "from-the-browser-42" in screen_text.replace("echo from-the-browser-$((6*7))", "")  # and ran them

    # A network blip: the page shows it is reconnecting, takes a new token and finds the same shell.
    page.keyboard.type("KAFAAT_BLIP=survived-$((2+3))")
    page.keyboard.press("Enter")
    sockets[-1].close(code=4000, reason="blip")
    lab.locator(".kafaat-terminal[data-state='reconnecting']").wait_for(timeout=5_000)
    assert "Reconnecting…" in lab.locator(".kafaat-terminal__status").inner_text()
    terminal.wait_for(timeout=15_000)
    assert len(sockets) == 2
    terminal.locator(".xterm").click()
    page.keyboard.type("echo $KAFAAT_BLIP")
    page.keyboard.press("Enter")
    rows.filter(has_text="survived-5").wait_for(timeout=10_000)

    # An output flood: the page keeps answering and a keystroke gets through within a second or so
    # (the bounds leave room for a loaded CI machine: a drowned page stalls far longer, or for good).
    page.keyboard.type("yes kafaat-flood")
    page.keyboard.press("Enter")
    rows.filter(has_text=re.compile(r"kafaat-flood\s*kafaat-flood")).wait_for(timeout=5_000)
    for _ in range(6):
        time.sleep(0.5)
        started = time.monotonic()
        page.evaluate("() => document.querySelectorAll('.xterm-rows > div').length")
        assert time.monotonic() - started < 3.0  # the page's main thread is not drowned
    page.keyboard.press("Control+C")
    page.keyboard.type("echo after-flood-$((5*5))")
    page.keyboard.press("Enter")
    started = time.monotonic()
    rows.filter(has_text="after-flood-25").wait_for(timeout=5_000)
    assert time.monotonic() - started < 4.0

    # Escape then Tab moves the focus out of the terminal (a keyboard trap otherwise).
    page.keyboard.press("Escape")
    page.keyboard.press("Tab")
    assert page.evaluate("!!document.activeElement.closest('.xterm')") is False

    # The text view for screen readers carries the same output in a polite live region.
    terminal.get_by_role("button", name="Show output as text").click()
    log = terminal.get_by_role("log")
    assert log.get_attribute("aria-live") == "polite"
    log.filter(has_text="after-flood-25").wait_for(timeout=5_000)

    from xblocks.labs.models import LabSession

    session = LabSession.objects.get(state="ready")
    deadline = time.monotonic() + 10
    while b"echo from-the-browser-$((6*7))" not in terminal_api.command_history(session.pk):
        assert time.monotonic() < deadline, "the typed command never reached the command history"
        time.sleep(0.1)
    lab.get_by_role("button", name="Stop lab").click()
    lab.get_by_role("button", name="Start lab").wait_for(timeout=30_000)


def test_staff_replay_of_a_transcript_plays_the_recorded_output(live_server, browser_page):
    """KafaatTerminal.replay renders an asciinema v2 cast: Skip to end shows every output event."""
    from workbench.scenarios import init_scenarios

    init_scenarios()
    page = browser_page
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=staff")
    page.locator(".kafaat-lab").first.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    cast = "\n".join(
        [
            '{"version": 2, "width": 80, "height": 24, "timestamp": 1764460800}',
            '[0.1, "o", "$ "]',
            '[0.5, "i", "ls\\r"]',
            '[0.6, "o", "ls\\r\\nreplayed-file.txt\\r\\n$ "]',
            '[0.7, "m", "transcript truncated"]',
        ]
    )
    page.evaluate(
        """cast => {
            const box = document.createElement("div");
            box.className = "replay-under-test";
            document.body.appendChild(box);
            window.KafaatTerminal.replay(box, cast, {i18n: window.KafaatI18n({})});
        }""",
        cast,
    )
    player = page.locator(".replay-under-test .kafaat-terminal--replay")
    assert "Recording ready" in player.locator(".kafaat-terminal__status").inner_text()
    player.get_by_role("button", name="Skip to end").click()
    player.locator(".xterm-rows").filter(has_text="replayed-file.txt").wait_for(timeout=5_000)
    assert player.locator(".kafaat-terminal__status").inner_text() == "End of recording."
    player.get_by_role("button", name="Play").click()  # plays again from the start
    player.locator(".xterm-rows").filter(has_text="replayed-file.txt").wait_for(timeout=5_000)


def test_the_learner_page_notices_when_staff_stop_the_lab_under_its_open_terminal(
    live_server, terminal_gateway, browser_page
):
    """No status polling while a lab is ready: the ended shell is what tells the page to look again."""
    from workbench.scenarios import init_scenarios

    from xblocks.labs import api
    from xblocks.labs.models import LabSession

    init_scenarios()
    page = browser_page
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-lab__status").filter(has_text="Your lab is ready").wait_for(timeout=30_000)
    lab.locator(".kafaat-terminal[data-state='connected']").wait_for(timeout=15_000)

    session = LabSession.objects.get(state="ready")
    api.stop_session(session.pk, actor="staff")  # as the staff table's Stop button does

    lab.locator(".kafaat-lab__status").filter(has_text="Your lab has ended").wait_for(timeout=20_000)
    assert lab.get_by_role("button", name="Start lab").is_visible()
    assert not lab.get_by_role("button", name="Stop lab").is_visible()
    assert not lab.locator(".kafaat-lab__countdown").is_visible()
