"""Leases on held work: renewed while the holder lives, and the reaper takes over a row whose lease ran out
long before the work's own time limits (the fast cases; real killed workers are in test_worker_pool_lost)."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.labs.test_check_runs import make_ready
from xblocks.labs import api, leases
from xblocks.labs.lifecycle import transition
from xblocks.labs.models import CheckRun, LabSession


@pytest.mark.django_db(transaction=True)
def test_a_held_row_is_renewed_while_its_holder_works_and_no_longer_once_it_moved_on(
    lab_factory, no_dispatch, monkeypatch
):
    monkeypatch.setenv("KAFAAT_WORKER_LOST_TIMEOUT", "2")  # a lease of 1 s, renewed every third of it
    session_id = api_start(lab_factory)
    transition(session_id, "provisioning", actor="system:worker", provision_attempts=1, held_until=leases.lease_until())
    first = LabSession.objects.get(pk=session_id).held_until
    rows = LabSession.objects.filter(pk=session_id, state="provisioning", provision_attempts=1)
    with leases.held(rows):
        time.sleep(1.5)
        renewed = LabSession.objects.get(pk=session_id).held_until
        assert renewed > first + timedelta(seconds=0.5) and renewed > timezone.now()
        transition(session_id, "failed", actor="system:worker", reason="test")
        time.sleep(0.8)
    assert LabSession.objects.get(pk=session_id).held_until <= renewed + timedelta(seconds=0.5)


def api_start(lab_factory) -> int:
    return lab_factory("files_and_flags").ok("start")["session_id"]


@pytest.mark.django_db
def test_a_start_whose_lease_ran_out_is_retried_at_once_though_its_phase_is_recent(lab_factory, no_dispatch):
    session_id = api_start(lab_factory)
    now = timezone.now()
    transition(
        session_id,
        "provisioning",
        actor="system:worker",
        provision_attempts=1,
        phase="running_setup",
        phase_at=now,
        held_until=now + timedelta(seconds=leases.lease_seconds()),
    )
    assert api.reap_sessions(now=now + timedelta(seconds=1)).retried == ()  # its holder is alive
    later = now + timedelta(seconds=leases.lease_seconds() + 1)  # far below PROVISION_TIMEOUT
    assert api.reap_sessions(now=later).retried == (session_id,)
    row = LabSession.objects.get(pk=session_id)
    assert row.state == "requested" and row.events.last().reason == "worker lost; retrying"
    assert no_dispatch.count(("provision_session", session_id)) == 2


@pytest.mark.django_db
def test_a_start_whose_lease_ran_out_on_its_last_attempt_fails_with_a_message(lab_factory, no_dispatch, monkeypatch):
    monkeypatch.setenv("KAFAAT_PROVISION_MAX_ATTEMPTS", "1")
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    now = timezone.now()
    transition(session_id, "provisioning", actor="system:worker", provision_attempts=1, phase_at=now, held_until=now)
    assert api.reap_sessions(now=now + timedelta(seconds=1)).failed == (session_id,)
    status = lab.ok("status")
    assert status["state"] == "failed" and "machine preparing your lab stopped" in status["learner_message"]
    assert "stopped renewing its lease" in LabSession.objects.get(pk=session_id).detail


@pytest.mark.django_db
def test_a_check_run_whose_lease_ran_out_is_ended_with_the_attempt_given_back(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    run_id = lab.ok("check", {"step": "write"})["run_id"]
    now = timezone.now()
    CheckRun.objects.filter(pk=run_id).update(state="running", started_at=now, held_until=now + timedelta(seconds=5))
    assert api.reap_sessions(now=now + timedelta(seconds=1)).runs_failed == ()
    assert api.reap_sessions(now=now + timedelta(seconds=6)).runs_failed == (run_id,)
    ended = lab.ok("check_status", {"run_id": run_id})
    assert ended["state"] == "error" and "interrupted" in ended["message"] and "not counted" in ended["message"]
    assert ended["status"]["steps"][0]["attempts"] == 0
