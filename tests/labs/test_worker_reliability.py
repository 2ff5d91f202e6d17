"""A real Celery worker over Redis, killed between provisioning and ready: the session never stays stuck."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.labs.helpers import Worker, checked, wait_for
from xblocks.labs import api
from xblocks.labs.conf import labs_settings
from xblocks.labs.models import CheckRun, LabSession, SessionEvent, label_prefix
from xblocks.labs.sandbox.base import SandboxHandle

TASK = "xblocks.labs.tasks.provision_session"

pytestmark = [pytest.mark.redis, pytest.mark.sandbox, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def test_a_worker_killed_mid_provisioning_is_taken_over_and_the_lab_ends_ready(
    lab_factory, backend, redis_lab_queue, tmp_path
):
    first = Worker(redis_lab_queue, tmp_path / "worker-1.log")
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
        later = timezone.now() + timedelta(seconds=labs_settings.PROVISION_TIMEOUT + 1)
        report = api.reap_sessions(now=later)
        assert report.retried == (session_id,)
        assert not [
            h for h in backend.inventory() if h.label == f"{label_prefix()}{session_id}"
        ]  # partial sandbox gone
        second = Worker(redis_lab_queue, tmp_path / "worker-2.log")
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
        assert checked(lab, "one")["passed"] is True  # the retried setup ran to the end
    finally:
        first.kill()
        if second is not None:
            second.kill()
        for handle in backend.inventory():
            if handle.label.startswith(label_prefix()):
                backend.destroy(handle)


def test_a_start_that_keeps_stalling_fails_with_a_message_for_the_learner(
    lab_factory, backend, redis_lab_queue, monkeypatch
):
    monkeypatch.setenv("KAFAAT_PROVISION_MAX_ATTEMPTS", "1")
    lab = lab_factory("slow_setup")
    session_id = lab.ok("start")["session_id"]  # queued on Redis; no worker takes it
    from xblocks.labs.lifecycle import transition

    transition(session_id, "provisioning", actor="system:worker", provision_attempts=1, phase="creating")
    report = api.reap_sessions(now=timezone.now() + timedelta(seconds=labs_settings.PROVISION_TIMEOUT + 1))
    assert report.failed == (session_id,)
    status = lab.ok("status")
    assert status["state"] == "failed" and "took too long" in status["learner_message"]
    assert "attempts" not in status["learner_message"]


def test_with_per_host_queues_checks_run_on_the_session_lab_host(
    lab_factory, backend, redis_lab_queue, monkeypatch, tmp_path
):
    """The web process is not the lab host: its Check travels to the host's queue and back."""
    host_b = Worker(
        f"{redis_lab_queue},{redis_lab_queue}.labhost-b",
        tmp_path / "host-b.log",
        KAFAAT_LAB_HOST="labhost-b",
        KAFAAT_LAB_HOST_ROLE="1",
    )
    try:
        lab = lab_factory("files_and_flags")
        session_id = lab.ok("start")["session_id"]
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "ready", 90, "host B to start the lab")
        row = LabSession.objects.get(pk=session_id)
        assert row.host == "labhost-b" and api.host_queue(row.host) == f"{redis_lab_queue}.labhost-b"
        first = checked(lab, "write")
        assert first["passed"] is False and "does not hold the word" in first["results"][0]["feedback"]
        backend.exec(api.terminal_target(session_id), f"echo {row.params['word']} > ~/answer.txt", user="learner")
        second = checked(lab, "write")
        assert second["passed"] is True and lab.grades()[-1] == {"value": 2.0, "max_value": 3.0}
        lab.ok("stop")
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "stopped", 60, "host B to tear the lab down")
        assert not backend.alive(SandboxHandle.from_json(row.handle))
    finally:
        host_b.kill()
        for handle in backend.inventory():
            if handle.label.startswith(label_prefix()):
                backend.destroy(handle)


def test_a_worker_killed_during_a_check_run_is_reported_and_the_learner_can_press_again(
    lab_factory, backend, redis_lab_queue, tmp_path
):
    first = Worker(redis_lab_queue, tmp_path / "worker-1.log")
    second = None
    try:
        lab = lab_factory("slow_checks")
        session_id = lab.ok("start")["session_id"]
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "ready", 90, "the worker to start the lab")
        run_id = lab.ok("check", {"step": "slow"})["run_id"]

        def in_the_long_check():
            body = lab.ok("check_status", {"run_id": run_id})
            return body["state"] == "running" and body["checks_done"] == 1

        wait_for(in_the_long_check, 60, "the worker to reach the second check")
        first.kill()
        time.sleep(1)
        assert lab.ok("check_status", {"run_id": run_id})["state"] == "running"  # nobody will finish it
        status, body = lab.call("check", {"step": "slow"})
        assert status == 409 and "still running" in body["error"]
        run = CheckRun.objects.get(pk=run_id)
        settings = labs_settings
        later = run.started_at + timedelta(seconds=settings.CHECK_RUN_TIME_LIMIT + settings.CHECK_RUN_GRACE + 1)
        assert api.reap_sessions(now=later).runs_failed == (run_id,)
        ended = lab.ok("check_status", {"run_id": run_id})
        assert ended["state"] == "error" and "interrupted" in ended["message"] and "not counted" in ended["message"]
        assert ended["status"]["steps"][0]["attempts"] == 0 and lab.grades() == []
        second = Worker(redis_lab_queue, tmp_path / "worker-2.log")
        again = checked(lab, "slow")
        assert again["state"] == "done" and again["passed"] is True
        assert lab.grades()[-1] == {"value": 3.0, "max_value": 3.0}
    finally:
        first.kill()
        if second is not None:
            second.kill()
        for handle in backend.inventory():
            if handle.label.startswith(label_prefix()):
                backend.destroy(handle)
