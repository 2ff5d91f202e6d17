"""The start-up self-test: it passes on this host, and a failed run makes the backend refuse lab work."""

from __future__ import annotations

import logging

import pytest

from xblocks.labs.sandbox import redteam, selftest
from xblocks.labs.sandbox.base import BackendUnavailable, SandboxSpec

pytestmark = pytest.mark.sandbox


@pytest.fixture(autouse=True)
def forget_outcome(tmp_path, monkeypatch):
    # A private host file: a failure recorded here must not stop other test runs sharing this machine.
    monkeypatch.setattr(selftest, "_host_file", lambda: tmp_path / ".selftest.json")
    selftest.reset()
    yield
    selftest.reset()


def test_the_full_self_test_passes_within_its_budget(local_backend):
    report = selftest.run_and_record(local_backend)
    assert report.passed, report.summary() + "\n" + "\n".join(case.line() for case in report.failures)
    assert len(report.cases) == sum(attack.selftest for attack in redteam.CORPUS)
    assert report.seconds < 20  # budget ~10 s; slack for a loaded CI machine
    assert not selftest.failed()


def test_create_is_refused_with_a_log_line_while_the_last_self_test_failed(local_backend, caplog):
    failing = selftest.SelfTestReport(
        cases=(selftest.CaseResult("egress", "8-9", False, "reachable: 10.0.0.1:80", 0.1),),
        seconds=0.1,
    )
    with caplog.at_level(logging.ERROR, logger="xblocks.labs.sandbox"):
        selftest.record(failing)
        with pytest.raises(BackendUnavailable):
            local_backend.create(SandboxSpec(label="refused"))
    assert "egress" in caplog.text and "refus" in caplog.text
    assert all(handle.label != "refused" for handle in local_backend.inventory())


def test_a_self_test_that_cannot_create_sandboxes_fails_closed():
    broken = selftest.run(_Broken(), only=["egress"])
    assert not broken.passed and "cannot create" in broken.error
    selftest.record(broken)
    assert selftest.failed()


def test_a_passing_run_lifts_the_refusal(local_backend):
    selftest.record(selftest.SelfTestReport(cases=(selftest.CaseResult("x", "1", False, "no", 0.0),), seconds=0.0))
    assert selftest.failed()
    report = selftest.run(local_backend, only=["nested_userns", "proc_view"])
    selftest.record(report)
    assert report.passed and not selftest.failed()
    handle = local_backend.create(SandboxSpec(label="after-pass"))
    local_backend.destroy(handle)


class _Broken:
    name = "broken"

    def create(self, spec):
        raise BackendUnavailable("cannot create: bwrap missing")

    def destroy(self, handle):
        pass


def test_a_failure_recorded_by_another_process_refuses_work_here_too(local_backend):
    # Celery runs worker_ready in the main process after forking the pool: children learn through the host file.
    failing = selftest.SelfTestReport(
        cases=(selftest.CaseResult("tiocsti", "15", False, "plain=ok", 0.0),), seconds=0.0
    )
    selftest.record(failing, host=True)
    selftest.reset()  # this process never ran it
    try:
        assert selftest.failed() and "tiocsti" in selftest.last_summary()
        with pytest.raises(BackendUnavailable):
            local_backend.create(SandboxSpec(label="refused-by-host"))
    finally:
        passing = selftest.run(local_backend, only=["nested_userns"])
        selftest.record(passing, host=True)
    selftest.reset()
    assert not selftest.failed()
