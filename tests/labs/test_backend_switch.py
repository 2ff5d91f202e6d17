"""Changing the configured sandbox backend never strands a live session.

A session's handle names the backend that made its environment: its checks, step setups, teardown
and the reconciler go there, while only new sessions use the newly configured backend. Both
backends here are in-memory (no root needed); the second is named by its dotted path.
"""

from __future__ import annotations

import pytest

from tests.labs.helpers import solve_in_sandbox
from xblocks.labs import api
from xblocks.labs.data import SessionState as S
from xblocks.labs.models import LabSession
from xblocks.labs.sandbox.base import get_backend
from xblocks.labs.sandbox.memory import MemoryBackend


class OtherBackend(MemoryBackend):
    """Another backend, configured by dotted path (its handles carry that path)."""

    name = f"{__name__}.OtherBackend"


@pytest.fixture
def backends(monkeypatch):
    monkeypatch.setenv("KAFAAT_SANDBOX_BACKEND", "memory")
    first, second = MemoryBackend.instance(), get_backend(OtherBackend.name)
    yield first, second
    first.reset()
    second.reset()


@pytest.mark.django_db(transaction=True)
def test_a_live_session_keeps_its_backend_after_the_setting_changes(lab_factory, backends, monkeypatch):
    first, second = backends
    lab = lab_factory("three_checks")
    session_id = lab.ok("start")["session_id"]  # eager: provisioned on the memory backend
    row = LabSession.objects.get(pk=session_id)
    assert row.state == S.READY and row.handle["backend"] == "memory"
    assert [h.label for h in first.inventory()] == [row.label]

    monkeypatch.setenv("KAFAAT_SANDBOX_BACKEND", OtherBackend.name)
    assert second is not first and get_backend() is second
    solve_in_sandbox(first, session_id, "setup")
    run = lab.ok("check", {"step": "setup"})  # runs where the environment is, not on the new backend
    assert run["passed"] is True and [r["passed"] for r in run["results"]] == [True, True, True]

    report = api.reconcile_sessions()  # asks both backends: nothing is missing, nothing is destroyed
    assert report.failed == () and report.destroyed == ()
    assert LabSession.objects.get(pk=session_id).state == S.READY

    other = lab_factory("three_checks", student="bob")
    other_id = other.ok("start")["session_id"]
    assert LabSession.objects.get(pk=other_id).handle["backend"] == OtherBackend.name  # new sessions: new backend

    lab.ok("stop")  # the teardown goes to the backend that made the environment
    assert LabSession.objects.get(pk=session_id).state == S.STOPPED
    assert first.inventory() == [] and len(second.inventory()) == 1


@pytest.mark.django_db(transaction=True)
def test_the_reconciler_fails_a_session_whose_environment_its_own_backend_lost(lab_factory, backends, monkeypatch):
    first, _second = backends
    lab = lab_factory("three_checks")
    session_id = lab.ok("start")["session_id"]
    monkeypatch.setenv("KAFAAT_SANDBOX_BACKEND", OtherBackend.name)
    first.reset()  # the memory "host" lost its sandboxes
    report = api.reconcile_sessions()
    assert report.failed == (session_id,)
    assert LabSession.objects.get(pk=session_id).state == S.FAILED
