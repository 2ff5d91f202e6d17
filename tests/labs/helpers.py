"""Real Celery workers over Redis for the labs tests: a lab host, or an LMS worker without the lab-host role.

Workers run ``celery -A demo worker`` in their own process group on the test database (the sqlite file
or the MariaDB test database the test process uses), on queues named for one test only, because other
test runs may share the Redis server.
"""

from __future__ import annotations

import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid

from django.conf import settings

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]


def child_env(**extra: str) -> dict[str, str]:
    """The environment a child process needs to share this test's database and broker."""
    env = {
        **os.environ,
        "KAFAAT_RESULT_BACKEND": settings.REDIS_URL,
        **extra,
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "KAFAAT_BROKER_URL": settings.REDIS_URL,
        "KAFAAT_CELERY_EAGER": "0",
        "PYTHONPATH": str(CHECKOUT),
    }
    db = settings.DATABASES["default"]
    if "mysql" in db["ENGINE"]:
        # the child is not a test run: point it at the test database this run created
        env["KAFAAT_TEST_DATABASE"] = "mariadb"
        env["KAFAAT_MARIADB_NAME"] = db["NAME"]
    return env


def sender():
    """A Celery app that sends to this test's Redis like an LMS would, without becoming the current app.

    A new Celery app is made the current one by default; the tasks' shared proxies would then follow
    it and stop running eagerly in every later test of the run.
    """
    from celery import Celery  # pylint: disable=import-outside-toplevel

    return Celery("kafaat-test-sender", broker=settings.REDIS_URL, backend=settings.REDIS_URL, set_as_current=False)


class Worker:
    """``celery -A demo worker`` on ``queues`` (comma-separated), with its log in ``log_path``.

    A single queue name is a lab queue: the worker also consumes that lab host's own queue
    (``<queue>.<LAB_HOST>``), as ``kafaat_lab_host run`` does, where check runs and teardowns go.
    """

    def __init__(
        self,
        queues: str,
        log_path: pathlib.Path,
        *,
        name: str = "",
        pool: str = "solo",
        concurrency: int = 1,
        **extra_env: str,
    ):
        if "," not in queues:
            from xblocks.labs.sandbox.conf import sandbox_settings  # pylint: disable=import-outside-toplevel

            queues = f"{queues},{queues}.{extra_env.get('KAFAAT_LAB_HOST') or sandbox_settings.LAB_HOST}"
        self.log_path = log_path
        self.log = log_path.open("ab")
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "demo",
                "worker",
                "--pool",
                pool,
                "--concurrency",
                str(concurrency),
                "--prefetch-multiplier",
                "1",
                "-Q",
                queues,
                "-n",
                f"{name or queues.split(',')[0]}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "INFO",
            ],
            cwd=CHECKOUT,
            env=child_env(**extra_env),
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")

    def wait_ready(self, timeout: float = 60) -> None:
        wait_for(lambda: "ready." in self.text() or self.process.poll() is not None, timeout, "the worker to start")
        assert self.process.poll() is None, self.text()[-3000:]

    def pool_processes(self) -> list[int]:
        """The pids of the worker's pool processes (prefork): the main process's own children."""
        import psutil  # pylint: disable=import-outside-toplevel

        return [child.pid for child in psutil.Process(self.process.pid).children() if child.name().startswith("python")]

    def kill(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)
        self.log.close()


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def checked(lab, step: str, timeout: float = 90) -> dict:
    """Press Check and poll the run as the page does until a worker has recorded it."""
    run = lab.ok("check", {"step": step})

    def finished():
        body = lab.ok("check_status", {"run_id": run["run_id"]})
        return body if body["finished"] else None

    return run if run["finished"] else wait_for(finished, timeout, f"the check run of {step}")


OLX_DIR = pathlib.Path(__file__).resolve().parent / "block" / "olx"


def olx(name: str) -> str:
    """The text of a lab fixture under tests/labs/block/olx/."""
    return (OLX_DIR / f"{name}.xml").read_text(encoding="utf-8")


class Lab:
    """One lab block in the workbench, usable as any learner (``lab.as_("bob")``)."""

    def __init__(self, text: str, student: str):
        from workbench.runtime import WorkbenchRuntime  # pylint: disable=import-outside-toplevel

        runtime = WorkbenchRuntime(student)
        runtime.id_generator.set_scenario(f"labtest-{uuid.uuid4().hex[:10]}")
        self.usage_id = runtime.parse_xml_string(text)
        self.published: dict[str, list] = {}
        self.student = student
        self.block = self._bind(runtime, student)

    def _bind(self, runtime, student):
        block = runtime.get_block(self.usage_id)
        sink = self.published.setdefault(student, [])
        runtime.publish = lambda _block, event, data: sink.append((event, data))
        return block

    def as_(self, student: str) -> Lab:
        from workbench.runtime import WorkbenchRuntime  # pylint: disable=import-outside-toplevel

        other = object.__new__(Lab)
        other.usage_id, other.published, other.student = self.usage_id, self.published, student
        other.block = other._bind(WorkbenchRuntime(student), student)
        return other

    def call(self, handler: str, data: dict | None = None, method: str = "POST") -> tuple[int, dict]:
        """Call a handler the way the page does (JSON body) and return (HTTP status, JSON body)."""
        from webob import Request  # pylint: disable=import-outside-toplevel

        request = Request.blank("/", method=method)
        if method == "POST":
            request.body = json.dumps(data or {}).encode("utf-8")
            request.content_type = "application/json"
        response = self.block.runtime.handle(self.block, handler, request)
        try:
            body = json.loads(response.body or b"null")
        except ValueError:
            body = None
        return response.status_code, body

    def ok(self, handler: str, data: dict | None = None) -> dict:
        status, body = self.call(handler, data)
        assert status == 200, (handler, status, body)
        return body

    def grades(self, student: str | None = None) -> list[dict]:
        return [data for event, data in self.published.get(student or self.student, []) if event == "grade"]

    @property
    def usage_key(self) -> str:
        return str(self.usage_id)


def solve_in_sandbox(backend, session_id: int, step_id: str):
    """Do a step's work inside the learner's sandbox, as the learner would in the terminal."""
    from xblocks.labs import api, runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.api import status  # pylint: disable=import-outside-toplevel
    from xblocks.labs.models import LabSession  # pylint: disable=import-outside-toplevel

    row = LabSession.objects.get(pk=session_id)
    step = status._rendered(row).step(step_id)
    result = runner.run_solve(backend, api.terminal_target(session_id), step)
    assert result.exit_code == 0, result
    return result


def assert_inert(markup: str) -> None:
    """No element of ``markup`` can run script: no script/svg/iframe, no on* attribute, no javascript: URL."""
    from lxml import html as lxml_html  # pylint: disable=import-outside-toplevel

    tree = lxml_html.fragment_fromstring(markup, create_parent="div")
    assert not tree.xpath("//script[not(@type='json/xblock-args')] | //svg | //iframe | //object | //embed")
    for element in tree.iter():
        if not isinstance(element.tag, str):
            continue
        assert not [name for name in element.attrib if name.lower().startswith("on")], element.attrib
        for name in ("href", "src", "action", "formaction"):
            assert not (element.get(name) or "").strip().lower().startswith("javascript:"), element.attrib
