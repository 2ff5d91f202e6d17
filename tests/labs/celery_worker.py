"""A real Celery worker for tests: ``celery -A demo worker`` on a Redis queue of its own, sharing the test
database, and a fixture that sends the labs api's tasks there instead of running them eagerly."""

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

from xblocks.labs import api

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]


class Worker:
    """``celery -A demo worker`` in its own process group, on a queue of its own, sharing the test database."""

    def __init__(self, queue: str, log_path: pathlib.Path, **extra_env: str):
        env = {
            **os.environ,
            "KAFAAT_RESULT_BACKEND": settings.REDIS_URL,
            **extra_env,
            "DJANGO_SETTINGS_MODULE": "tests.settings",
            "KAFAAT_BROKER_URL": settings.REDIS_URL,
            "KAFAAT_CELERY_EAGER": "0",
            "PYTHONPATH": str(CHECKOUT),
        }
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
                queue,
                "-n",
                f"{queue}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                "-l",
                "INFO",
            ],
            cwd=CHECKOUT,
            env=env,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

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


@pytest.fixture
def redis_queue(monkeypatch):
    """Send the api's tasks to a fresh Redis queue (as the LMS would) instead of running them eagerly."""
    from celery import Celery

    queue = f"kafaat-labs-test-{uuid.uuid4().hex[:8]}"
    # Not the current app: shared tasks would otherwise send through it (to Redis, never eagerly) in
    # every later test of this process.
    sender = Celery("kafaat-test-sender", broker=settings.REDIS_URL, backend=settings.REDIS_URL, set_as_current=False)

    def enqueue(name, session_id, queue_name=None, **kwargs):
        target = kwargs.get("queue") or queue_name or queue
        sender.send_task(f"xblocks.labs.tasks.{name}", args=[session_id], queue=target)

    monkeypatch.setattr(api, "_enqueue", enqueue)
    yield queue
    with sender.connection_for_write() as connection:
        for name in (queue, "labs.labhost-b"):
            connection.default_channel.queue_delete(name)
