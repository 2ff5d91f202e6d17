"""Real Celery workers over Redis for the labs tests: a lab host, or an LMS worker without the lab-host role.

Workers run ``celery -A demo worker`` in their own process group on the test database (the sqlite file
or the MariaDB test database the test process uses), on queues named for one test only, because other
test runs may share the Redis server.
"""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid

import pytest
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

    def __init__(self, queues: str, log_path: pathlib.Path, *, name: str = "", **extra_env: str):
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
                "solo",
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


@pytest.fixture
def redis_lab_queue(monkeypatch):
    """Lab queues of this test only on Redis, and the api sending to them as an LMS would (not eagerly).

    The name is the shared lab queue (``KAFAAT_LAB_QUEUE``); host queues are ``<name>.<host>``.
    Workers started afterwards inherit the setting.
    """
    from xblocks.labs import api, tasks  # pylint: disable=import-outside-toplevel

    queue = f"kafaat-labs-test-{uuid.uuid4().hex[:8]}"
    monkeypatch.setenv("KAFAAT_LAB_QUEUE", queue)
    broker = sender()
    used: set[str] = {queue}

    def enqueue(task, session_id, queue=None):
        target = queue or api.lab_task_queue(task.name, [session_id])
        used.add(target)
        broker.send_task(task.name, args=[session_id], queue=target)

    monkeypatch.setattr(tasks, "enqueue", enqueue)
    yield queue
    with broker.connection_for_write() as connection:
        for name in used | {f"{queue}.labhost-b"}:
            connection.default_channel.queue_delete(name)
