"""Start → prompt in real Chromium with a real worker: the page learns "ready" by a short poll that brings the token.

The terminal is built while the lab provisions, the status answer that says "ready" carries the
terminal token (no separate token request), and a second learner asking the same handler learns
nothing of the first learner's lab.
"""

from __future__ import annotations

import json
import re
import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def terminal_gateway(live_server, settings):
    """The gateway beside the live LMS stand-in: its own process and port, allowing the page's origin."""
    from django.db import connection

    from tests.labs.terminal.helpers import start_gateway, stop_gateway

    gateway = start_gateway(
        "uvicorn",
        str(connection.settings_dict["NAME"]),
        KAFAAT_TERMINAL_ALLOWED_ORIGINS=json.dumps([live_server.url]),
    )
    settings.KAFAAT = {**(settings.KAFAAT or {}), "TERMINAL_GATEWAY_URL": f"ws://127.0.0.1:{gateway.port}"}
    yield gateway
    stop_gateway(gateway)


def _handler_calls(page) -> list[tuple[str, dict, str]]:
    """Every handler the page posts to: (name, body, url)."""
    calls: list[tuple[str, dict, str]] = []

    def seen(request):
        match = re.search(r"/handler/[^/]+/([a-z_]+)/", request.url)
        if match and request.method == "POST":
            calls.append((match.group(1), json.loads(request.post_data or "{}"), request.url))

    page.on("request", seen)
    return calls


def test_start_polls_briefly_and_the_ready_answer_opens_the_prompt(
    live_server, terminal_gateway, browser_page, redis_lab_queue, tmp_path
):
    from workbench.scenarios import init_scenarios

    from tests.labs.helpers import Worker
    from xblocks.labs.models import LabSession

    init_scenarios()
    worker = Worker(redis_lab_queue, tmp_path / "worker.log")
    try:
        page = browser_page
        calls = _handler_calls(page)
        page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
        lab = page.locator(".kafaat-lab").first
        lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
        lab.get_by_role("button", name="Start lab").click()
        # built while the lab provisions: the frame is there before the lab is ready
        lab.locator(".kafaat-terminal").wait_for(timeout=10_000)
        terminal = lab.locator(".kafaat-terminal[data-state='connected']")
        terminal.wait_for(timeout=90_000)  # the worker's first start waits for its self-test
        terminal.locator(".xterm").click()
        page.keyboard.type("echo prompt-$((20+22))")
        page.keyboard.press("Enter")
        terminal.locator(".xterm-rows").filter(has_text="prompt-42").wait_for(timeout=10_000)

        names = [name for name, _body, _url in calls]
        assert names[0] == "start" and calls[0][1] == {"terminal": True}
        assert "terminal_token" not in names  # the token came with "ready"
        polls = [body for name, body, _url in calls if name == "status"]
        assert polls and all(body == {"terminal": True} for body in polls)
        assert LabSession.objects.get(state="ready").user.username == "alice"
        assert page.js_errors == []
    finally:
        worker.kill()


def test_a_second_learner_cannot_read_the_first_learners_status_or_token(live_server, browser_page):
    from workbench.scenarios import init_scenarios

    from xblocks.labs.models import LabSession

    init_scenarios()  # Celery eager here: Start answers "ready" at once
    page = browser_page
    calls = _handler_calls(page)
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-lab__status").filter(has_text="Your lab is ready").wait_for(timeout=30_000)
    alice_session = LabSession.objects.get(state="ready").pk
    status_url = next(url for name, _body, url in calls if name == "start").replace("/start/", "/status/")

    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=bob")
    page.locator(".kafaat-lab__score").first.filter(has_text="Score").wait_for(timeout=10_000)
    bob_url = status_url.replace("student=alice", "student=bob")
    answer = page.evaluate(
        "([url, body]) => KafaatHttp.postJSON(url, body)",
        [bob_url, {"terminal": True, "session_id": alice_session}],
    )
    assert answer["ok"] and answer["body"]["session_id"] is None and answer["body"]["state"] == ""
    assert "terminal" not in answer["body"]
    token = page.evaluate(
        "([url, body]) => KafaatHttp.postJSON(url, body)",
        [bob_url.replace("/status/", "/terminal_token/"), {"session_id": alice_session}],
    )
    assert token["status"] == 409 and "token" not in (token["body"] or {})


def test_a_refused_start_leaves_no_terminal_behind(live_server, browser_page):
    from workbench.scenarios import init_scenarios

    from xblocks.labs.models import LabSession

    init_scenarios()
    page = browser_page
    refusal = json.dumps({"error": "No lab machine is free right now. Please try again in a few minutes."})
    # the handler's own refusal (409 with a message), held back a moment so the click's terminal is built first
    page.route(
        re.compile(r".*/handler/[^/]+/start/.*"),
        lambda route: (page.wait_for_timeout(300), route.fulfill(status=409, body=refusal)),
    )
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    lab.get_by_role("button", name="Start lab").click()
    lab.locator(".kafaat-terminal").wait_for(state="attached", timeout=10_000)  # built while Start is on its way
    lab.locator(".kafaat-lab__status").filter(has_text="No lab machine is free").wait_for(timeout=30_000)
    # the terminal the click took is gone again; at most one built ahead, hidden, waits for the next Start
    terminals = lab.locator(".kafaat-terminal")
    assert terminals.count() <= 1 and not any(terminals.nth(i).is_visible() for i in range(terminals.count()))
    assert lab.locator(".kafaat-lab__terminal-placeholder").is_visible()
    assert lab.get_by_role("button", name="Start lab").is_enabled()
    assert not LabSession.objects.exists() and page.js_errors == []


def test_the_terminal_is_built_ahead_hidden_and_the_start_takes_it(live_server, terminal_gateway, browser_page):
    """xterm.js is built once the page is idle, before any Start, unseen; Start shows that very terminal
    (no second build holding the main thread when the Start answer arrives) and it connects."""
    from workbench.scenarios import init_scenarios

    init_scenarios()  # Celery eager here: Start answers "ready" with its token at once
    page = browser_page
    page.goto(f"{live_server.url}/scenario/kafaat_lab.0/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    ahead = lab.locator(".kafaat-lab__terminal-screen--ahead .kafaat-terminal")
    ahead.wait_for(state="attached", timeout=10_000)
    assert not ahead.is_visible() and lab.locator(".kafaat-lab__terminal-placeholder").is_visible()
    screen = lab.locator(".kafaat-lab__terminal-screen").bounding_box()
    assert screen is not None and screen["height"] == 0  # takes no room on the page before Start
    page.evaluate("() => { document.querySelector('.kafaat-terminal').dataset.built = 'ahead'; }")
    lab.get_by_role("button", name="Start lab").click()
    terminal = lab.locator(".kafaat-terminal[data-state='connected']")
    terminal.wait_for(timeout=60_000)
    assert terminal.get_attribute("data-built") == "ahead" and lab.locator(".kafaat-terminal").count() == 1
    assert terminal.is_visible() and not lab.locator(".kafaat-lab__terminal-placeholder").is_visible()
    terminal.locator(".xterm").click()
    page.keyboard.type("echo ahead-$((40+2))")
    page.keyboard.press("Enter")
    terminal.locator(".xterm-rows").filter(has_text="ahead-42").wait_for(timeout=10_000)
    assert page.js_errors == []
