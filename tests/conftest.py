"""Fixtures shared by every test package."""

import os
import uuid

import pytest

# The Open edX conformance tier (tests/openedx) needs its own settings modules, one process per
# project: ``make test-openedx`` runs it; the main run leaves it out.
if not os.environ.get("DJANGO_SETTINGS_MODULE", "").startswith("tests.openedx."):
    collect_ignore = ["openedx"]


@pytest.fixture
def workbench_runtime():
    """A workbench runtime factory: ``workbench_runtime("student_1")`` acts as that learner."""
    from workbench.runtime import WorkbenchRuntime  # pylint: disable=import-outside-toplevel

    return WorkbenchRuntime


CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]


@pytest.fixture(scope="module")
def chromium():
    """Debian's Chromium through Playwright, launched once per test module (a launch costs seconds under load);
    each test gets its own browser context (``browser_page``), as isolated as a browser of its own."""
    from playwright.sync_api import sync_playwright  # pylint: disable=import-outside-toplevel

    # Playwright's sync API runs an event loop in this thread while it is started; the tests' own ORM calls
    # are still synchronous.
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", headless=True, args=CHROMIUM_ARGS)
            yield browser
            browser.close()


@pytest.fixture
def browser_page(chromium):
    """A page in a fresh context of Debian's Chromium: dialogs accepted, downloads allowed, console printed,
    uncaught script errors collected in ``page.js_errors``. Every context the test opened (its own, and any
    ``page.context.browser.new_page()``) is closed after it: no cookie, storage or cache reaches the next test."""
    context = chromium.new_context(accept_downloads=True)
    page = context.new_page()
    errors: list[str] = []
    page.js_errors = errors
    page.on("dialog", lambda dialog: dialog.accept())
    page.on("console", lambda message: print("browser console:", message.type, message.text))
    page.on("pageerror", lambda error: (errors.append(str(error)), print("browser page error:", error)))
    yield page
    for opened in list(chromium.contexts):
        opened.close()


@pytest.fixture
def redis_lab_queue(monkeypatch):
    """Lab queues of this test only on Redis, and the api sending to them as an LMS would (not eagerly).

    The name is the shared lab queue (``KAFAAT_LAB_QUEUE``); host queues are ``<name>.<host>``, outbox
    deliveries go to ``<name>-outbox`` (``KAFAAT_OUTBOX_QUEUE``). Workers started afterwards inherit both.
    """
    from tests.labs.helpers import sender  # pylint: disable=import-outside-toplevel
    from xblocks.labs import api, tasks  # pylint: disable=import-outside-toplevel

    queue = f"kafaat-labs-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("KAFAAT_LAB_QUEUE", queue)
    # the workers' outbox deliveries go to a queue of this test too, not to a default queue other runs share
    monkeypatch.setenv("KAFAAT_OUTBOX_QUEUE", f"{queue}-outbox")
    broker = sender()
    used: set[str] = {queue, f"{queue}-outbox"}

    def enqueue(task, session_id, queue=None):
        target = queue or api.lab_task_queue(task.name, [session_id])
        used.add(target)
        broker.send_task(task.name, args=[session_id], queue=target)

    monkeypatch.setattr(tasks, "enqueue", enqueue)
    yield queue
    with broker.connection_for_write() as connection:
        for name in used | {f"{queue}.labhost-b"}:
            connection.default_channel.queue_delete(name)
