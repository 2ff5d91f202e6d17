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


def test_a_create_during_the_workers_self_test_waits_for_its_outcome_then_goes_on(local_backend):
    thread = selftest.run_in_background(local_backend)
    assert selftest.running() and selftest.failed()  # marked before the worker consumes anything
    handle = local_backend.create(SandboxSpec(label="during-selftest"))
    try:
        assert not selftest.running() and not selftest.failed(), selftest.last_summary()
    finally:
        local_backend.destroy(handle)
    thread.join(timeout=30)


def test_a_create_during_a_failing_self_test_is_refused_when_it_ends(local_backend, monkeypatch):
    monkeypatch.setattr(selftest, "run", lambda backend=None: _failing_after(0.3))
    selftest.run_in_background(local_backend)
    with pytest.raises(BackendUnavailable, match="self-test failed"):
        local_backend.create(SandboxSpec(label="refused-after-wait"))
    assert all(handle.label != "refused-after-wait" for handle in local_backend.inventory())


def test_another_process_waits_for_the_hosts_running_self_test(tmp_path):
    import os
    import threading
    import time

    selftest._write_host_file({"passed": False, "running": True, "pid": os.getpid(), "at": time.time()})
    assert selftest.running() and selftest.failed()
    assert selftest.wait_until_settled(timeout=0.1) is False  # still running: the caller refuses
    passed = {"passed": True, "summary": "ok", "pid": os.getpid(), "at": time.time(), "failures": []}
    threading.Timer(0.3, selftest._write_host_file, args=(passed,)).start()
    started = time.monotonic()
    assert selftest.wait_until_settled(timeout=10) is True
    assert 0.25 < time.monotonic() - started < 5
    assert not selftest.failed()


def test_a_run_whose_process_died_counts_as_not_passed():
    import subprocess
    import time

    dead = subprocess.Popen(["true"])
    dead.wait()
    selftest._write_host_file({"passed": False, "running": True, "pid": dead.pid, "at": time.time()})
    assert selftest.wait_until_settled(timeout=5) is True  # nobody will finish it: no waiting
    assert selftest.failed()  # and nothing vouches for the host: lab work stays refused


def _failing_after(seconds: float) -> selftest.SelfTestReport:
    import time

    time.sleep(seconds)
    return selftest.SelfTestReport(
        cases=(selftest.CaseResult("egress", "8-9", False, "reachable: 10.0.0.1:80", 0.1),), seconds=seconds
    )


def _scripted(outcomes):
    """A case that fails or passes in turn, as ``outcomes`` says, counting its tries."""
    tries = []

    def case(_ctx):
        tries.append(1)
        if not outcomes[len(tries) - 1]:
            raise selftest.Escape(f"try {len(tries)} escaped")
        return f"try {len(tries)} held"

    return case, tries


def test_a_time_bound_limit_that_acts_late_once_is_tried_again_and_an_escape_never_is(local_backend, monkeypatch):
    monkeypatch.setattr(selftest, "RETRY_PAUSE", 0.0)
    late_limit, limit_tries = _scripted([False, True])
    escape_once, escape_tries = _scripted([False, True])
    always_late, always_tries = _scripted([False, False])
    monkeypatch.setattr(
        selftest,
        "_cases",
        lambda: [
            ("cpu_quota", "3", late_limit),
            ("other_homes", "10", escape_once),
            ("wall_timeout", "4", always_late),
        ],
    )
    report = selftest.run(local_backend)
    results = {case.name: case for case in report.cases}
    assert results["cpu_quota"].passed and len(limit_tries) == 2
    assert "second try" in results["cpu_quota"].detail and "try 1 escaped" in results["cpu_quota"].detail
    assert not results["other_homes"].passed and len(escape_tries) == 1  # an escape once is an escape
    assert not results["wall_timeout"].passed and len(always_tries) == 2  # late twice: it fails
    assert not report.passed
