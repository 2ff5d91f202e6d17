"""A real Celery worker over Redis, killed between provisioning and ready: the session never stays stuck."""

from __future__ import annotations

import os
import pathlib
import signal
import subprocess
import sys
import time
import uuid
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from xblocks.labs import api
from xblocks.labs.models import LabSession, SessionEvent, label_prefix
from xblocks.labs.sandbox.base import SandboxHandle

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]
TASK = "xblocks.labs.tasks.provision_session"

pytestmark = [pytest.mark.redis, pytest.mark.sandbox, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


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
    sender = Celery("kafaat-test-sender", broker=settings.REDIS_URL, backend=settings.REDIS_URL)

    def enqueue(name, session_id, queue_name=None, **kwargs):
        target = kwargs.get("queue") or queue_name or queue
        sender.send_task(f"xblocks.labs.tasks.{name}", args=[session_id], queue=target)

    def run_on_host(name, args, queue_name):
        result = sender.send_task(f"xblocks.labs.tasks.{name}", args=args, queue=queue_name)
        return result.get(timeout=60)

    monkeypatch.setattr(api, "_enqueue", enqueue)
    monkeypatch.setattr(api, "_run_on_host", run_on_host)
    yield queue
    with sender.connection_for_write() as connection:
        for name in (queue, "labs.labhost-b"):
            connection.default_channel.queue_delete(name)


def test_a_worker_killed_mid_provisioning_is_taken_over_and_the_lab_ends_ready(
    lab_factory, backend, redis_queue, tmp_path
):
    first = Worker(redis_queue, tmp_path / "worker-1.log")
    second = None
    try:
        lab = lab_factory("slow_setup")
        session_id = lab.ok("start")["session_id"]

        def in_setup():
            row = LabSession.objects.get(pk=session_id)
            return row.state == "provisioning" and row.phase == "running_setup"

        wait_for(in_setup, 90, "the first worker to reach the setup phase")
        first.kill()
        time.sleep(0.5)
        row = LabSession.objects.get(pk=session_id)
        assert row.state == "provisioning" and row.provision_attempts == 1  # stuck without a reaper
        later = timezone.now() + timedelta(seconds=api.session_settings.PROVISION_TIMEOUT + 1)
        report = api.reap_sessions(now=later)
        assert report.retried == (session_id,)
        assert not [
            h for h in backend.inventory() if h.label == f"{label_prefix()}{session_id}"
        ]  # partial sandbox gone
        second = Worker(redis_queue, tmp_path / "worker-2.log")
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "ready", 90, "the retry to finish")
        row = LabSession.objects.get(pk=session_id)
        assert row.provision_attempts == 2
        assert [h.id for h in backend.inventory() if h.label == row.label] == [row.handle["id"]]
        moves = list(SessionEvent.objects.filter(session_id=session_id).values_list("to_state", "actor"))
        assert moves == [
            ("requested", f"user:{row.user_id}"),
            ("provisioning", "system:worker"),
            ("requested", "system:reaper"),
            ("provisioning", "system:worker"),
            ("ready", "system:worker"),
        ]
        assert lab.ok("check", {"step": "one"})["passed"] is True  # the retried setup ran to the end
    finally:
        first.kill()
        if second is not None:
            second.kill()
        for handle in backend.inventory():
            if handle.label.startswith(label_prefix()):
                backend.destroy(handle)


def test_a_start_that_keeps_stalling_fails_with_a_message_for_the_learner(
    lab_factory, backend, redis_queue, monkeypatch
):
    monkeypatch.setenv("KAFAAT_PROVISION_MAX_ATTEMPTS", "1")
    lab = lab_factory("slow_setup")
    session_id = lab.ok("start")["session_id"]  # queued on Redis; no worker takes it
    from xblocks.labs.lifecycle import transition

    transition(session_id, "provisioning", actor="system:worker", provision_attempts=1, phase="creating")
    report = api.reap_sessions(now=timezone.now() + timedelta(seconds=api.session_settings.PROVISION_TIMEOUT + 1))
    assert report.failed == (session_id,)
    status = lab.ok("status")
    assert status["state"] == "failed" and "took too long" in status["learner_message"]
    assert "attempts" not in status["learner_message"]


def test_with_per_host_queues_checks_run_on_the_session_lab_host(
    lab_factory, backend, redis_queue, monkeypatch, tmp_path
):
    """The web process is not the lab host: its Check travels to the host's queue and back."""
    monkeypatch.setenv("KAFAAT_LAB_HOST_QUEUES", "1")
    host_b = Worker(
        f"{redis_queue},labs.labhost-b",
        tmp_path / "host-b.log",
        KAFAAT_LAB_HOST="labhost-b",
        KAFAAT_LAB_HOST_QUEUES="1",
    )
    try:
        lab = lab_factory("files_and_flags")
        session_id = lab.ok("start")["session_id"]
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "ready", 90, "host B to start the lab")
        row = LabSession.objects.get(pk=session_id)
        assert row.host == "labhost-b" and api.host_queue(row.host) == "labs.labhost-b"
        first = lab.ok("check", {"step": "write"})
        assert first["passed"] is False and "does not hold the word" in first["results"][0]["feedback"]
        backend.exec(api.terminal_target(session_id), f"echo {row.params['word']} > ~/answer.txt", user="learner")
        second = lab.ok("check", {"step": "write"})
        assert second["passed"] is True and lab.grades()[-1] == {"value": 2.0, "max_value": 3.0}
        lab.ok("stop")
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "stopped", 60, "host B to tear the lab down")
        assert not backend.alive(SandboxHandle.from_json(row.handle))
    finally:
        host_b.kill()
        for handle in backend.inventory():
            if handle.label.startswith(label_prefix()):
                backend.destroy(handle)
