"""Real prefork Celery workers whose pool processes are SIGKILLed: what they held is taken over within
``WORKER_LOST_TIMEOUT``, and the worker keeps serving (it respawns its pool and takes new work)."""

from __future__ import annotations

import os
import signal
import time

import pytest

from tests.labs.helpers import Worker, checked, wait_for
from xblocks.labs import api
from xblocks.labs.models import CheckRun, LabSession, label_prefix

pytestmark = [pytest.mark.redis, pytest.mark.sandbox, pytest.mark.slow, pytest.mark.django_db(transaction=True)]

BOUND = 6  # WORKER_LOST_TIMEOUT for these workers, in seconds (30 by default)
SLACK = 3  # the test's own reaper runs once a second; a few database round trips


@pytest.fixture
def short_bound(monkeypatch):
    monkeypatch.setenv("KAFAAT_WORKER_LOST_TIMEOUT", str(BOUND))


@pytest.fixture
def clean_sandboxes(backend):
    yield
    for handle in backend.inventory():
        if handle.label.startswith(label_prefix()):
            backend.destroy(handle)


class Reaper:
    """The periodic reaper, as the lab host's loop runs it, but once a second."""

    def __init__(self):
        self.last = 0.0

    def until(self, predicate, timeout: float, what: str):
        def step():
            if time.monotonic() - self.last >= 1:
                self.last = time.monotonic()
                api.reap_sessions()
            return predicate()

        return wait_for(step, timeout, what)


def _kill(pids: list[int]) -> float:
    for pid in pids:
        os.kill(pid, signal.SIGKILL)
    return time.monotonic()


def _in_setup(session_id: int, attempt: int = 1) -> bool:
    row = LabSession.objects.get(pk=session_id)
    return row.state == "provisioning" and row.phase == "running_setup" and row.provision_attempts == attempt


def _taken_over(session_id: int) -> bool:
    """Moved on from the first attempt: retried (a second attempt began) or ended."""
    row = LabSession.objects.get(pk=session_id)
    return row.provision_attempts >= 2 or row.state != "provisioning"


def test_a_start_whose_pool_process_is_killed_is_retried_within_the_bound_and_ends_ready(
    lab_factory, redis_lab_queue, short_bound, tmp_path, clean_sandboxes
):
    worker = Worker(redis_lab_queue, tmp_path / "worker.log", pool="prefork", concurrency=1)
    reaper = Reaper()
    try:
        worker.wait_ready()
        lab = lab_factory("slow_setup")
        session_id = lab.ok("start")["session_id"]
        wait_for(lambda: _in_setup(session_id), 90, "the pool process to reach the setup phase")
        [holder] = worker.pool_processes()
        killed = _kill([holder])

        reaper.until(lambda: _taken_over(session_id), BOUND + SLACK + 5, "the reaper to take the start over")
        assert time.monotonic() - killed <= BOUND + SLACK
        reaper.until(lambda: LabSession.objects.get(pk=session_id).state == "ready", 60, "the retried start")
        assert holder not in worker.pool_processes() and worker.pool_processes()  # a new pool process served it
        reasons = list(LabSession.objects.get(pk=session_id).events.values_list("reason", flat=True))
        assert "worker lost; retrying" in reasons
        assert checked(lab, "one")["passed"] is True
    finally:
        worker.kill()


def test_killing_every_pool_process_during_starts_does_not_wedge_the_worker(
    lab_factory, redis_lab_queue, short_bound, tmp_path, clean_sandboxes
):
    worker = Worker(redis_lab_queue, tmp_path / "worker.log", pool="prefork", concurrency=2)
    reaper = Reaper()
    try:
        worker.wait_ready()
        labs = [lab_factory("slow_setup", student=f"learner{n}") for n in range(4)]
        ids = [lab.ok("start")["session_id"] for lab in labs]
        wait_for(lambda: sum(_in_setup(s) for s in ids) == 2, 90, "two starts to reach their setup")
        killed = _kill(worker.pool_processes())
        wait_for(lambda: len(worker.pool_processes()) == 2, 30, "the worker to respawn its pool")
        reaper.until(lambda: all(_taken_over(s) for s in ids), BOUND + SLACK + 5, "every held start to be taken over")
        assert time.monotonic() - killed <= BOUND + SLACK
        ended = ("ready", "failed")
        reaper.until(lambda: all(LabSession.objects.get(pk=s).state in ended for s in ids), 120, "every start to end")
        rows = [LabSession.objects.get(pk=s) for s in ids]
        assert [row.state for row in rows] == ["ready"] * 4, [(r.state, r.detail) for r in rows]
        # Still serving: a start made after the massacre is ready at the first attempt.
        late = lab_factory("files_and_flags", student="late")
        late_id = late.ok("start")["session_id"]
        reaper.until(lambda: LabSession.objects.get(pk=late_id).state == "ready", 60, "a later start")
        assert LabSession.objects.get(pk=late_id).provision_attempts == 1
        assert worker.process.poll() is None
    finally:
        worker.kill()


def test_a_check_run_whose_pool_process_is_killed_ends_within_the_bound_with_the_attempt_given_back(
    lab_factory, redis_lab_queue, short_bound, tmp_path, clean_sandboxes
):
    worker = Worker(redis_lab_queue, tmp_path / "worker.log", pool="prefork", concurrency=1)
    reaper = Reaper()
    try:
        worker.wait_ready()
        lab = lab_factory("slow_checks")
        session_id = lab.ok("start")["session_id"]
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "ready", 90, "the lab to start")
        run_id = lab.ok("check", {"step": "slow"})["run_id"]

        def in_the_long_check():
            body = lab.ok("check_status", {"run_id": run_id})
            return body["state"] == "running" and body["checks_done"] == 1

        wait_for(in_the_long_check, 60, "the pool process to reach the long check")
        killed = _kill(worker.pool_processes())
        reaper.until(lambda: CheckRun.objects.get(pk=run_id).state != "running", BOUND + SLACK + 5, "the run to end")
        assert time.monotonic() - killed <= BOUND + SLACK
        ended = lab.ok("check_status", {"run_id": run_id})
        assert ended["state"] == "error" and "interrupted" in ended["message"] and "not counted" in ended["message"]
        assert ended["status"]["steps"][0]["attempts"] == 0
        assert "stopped renewing its lease" in CheckRun.objects.get(pk=run_id).detail
        again = checked(lab, "slow")  # the respawned pool process runs the next press
        assert again["state"] == "done" and again["passed"] is True
    finally:
        worker.kill()
