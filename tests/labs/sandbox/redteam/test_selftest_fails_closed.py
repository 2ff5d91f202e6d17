"""The worker's self-test fails, naming the missing piece, on a host where a defence is missing.

Each test takes one defence away the way a host could lack it (no helper and no compiler, a kernel
without Landlock or with an older ABI, a seccomp filter that does not load, sandboxes that share an
id range) and runs the self-test cases that depend on it: the run must fail and say what is missing.
"""

from __future__ import annotations

import pathlib

import pytest

from xblocks.labs.sandbox import helper, ranges, seccomp, selftest
from xblocks.labs.sandbox.base import BackendUnavailable, SandboxSpec

pytestmark = pytest.mark.sandbox


@pytest.fixture(autouse=True)
def private_outcome(tmp_path, monkeypatch):
    monkeypatch.setattr(selftest, "_host_file", lambda: tmp_path / ".selftest.json")
    selftest.reset()
    helper.forget()
    yield
    helper.forget()
    selftest.reset()


def _failure(report: selftest.SelfTestReport) -> str:
    assert not report.passed
    return report.error + " ".join(case.detail for case in report.failures)


def test_without_the_helper_lab_work_is_refused_and_the_self_test_names_it(local_backend, monkeypatch):
    monkeypatch.setenv("KAFAAT_SANDBOX_HELPER", "/nonexistent/kafaat-sandbox")
    with pytest.raises(BackendUnavailable, match="SANDBOX_HELPER"):
        local_backend.create(SandboxSpec(label="no-helper"))
    assert "SANDBOX_HELPER /nonexistent/kafaat-sandbox is not usable" in _failure(
        selftest.run(local_backend, only=["id_ranges"])
    )


def test_a_host_without_a_compiler_is_told_what_to_install(local_backend, monkeypatch, tmp_path):
    monkeypatch.setenv("KAFAAT_SANDBOX_HELPER_CACHE", str(tmp_path / "helper"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    with pytest.raises(BackendUnavailable, match="gcc libc6-dev"):
        helper.path()


def test_a_prebuilt_helper_writable_by_others_is_refused(local_backend, monkeypatch, tmp_path):
    copy = tmp_path / "kafaat-sandbox"
    copy.write_bytes(pathlib.Path(helper.path()).read_bytes())
    copy.chmod(0o777)
    monkeypatch.setenv("KAFAAT_SANDBOX_HELPER", str(copy))
    helper.forget()
    with pytest.raises(BackendUnavailable, match="not writable by group or others"):
        helper.path()


def test_without_landlock_signal_scoping_the_self_test_fails_naming_landlock(local_backend, monkeypatch):
    # This kernel has ABI 7; asking for more stands for a kernel that lacks what is required.
    monkeypatch.setenv("KAFAAT_SANDBOX_LANDLOCK_MIN_ABI", "99")
    text = _failure(selftest.run(local_backend, only=["verdict_channel"]))
    assert "Landlock ABI" in text and "below the required 99" in text


def test_without_the_seccomp_filter_the_self_test_fails_naming_it(local_backend, monkeypatch):
    allow_all = seccomp._Assembler()
    allow_all.ret(seccomp.RET_ALLOW)
    monkeypatch.setattr(seccomp, "program", lambda variant="sandbox": allow_all.program())
    report = selftest.run(local_backend, only=["kernel_surface", "check_tree_ptrace"])
    text = _failure(report)
    assert "the seccomp filter or the mounts are not in effect" in text and "mount tmpfs=ok" in text
    assert {case.name for case in report.failures} == {"kernel_surface", "check_tree_ptrace"}


def test_with_one_id_range_for_every_sandbox_the_self_test_fails_naming_it(local_backend, monkeypatch):
    shared = ranges.slot(ranges._geometry()[2])  # the last slot, for all

    monkeypatch.setattr(ranges, "allocate", lambda sandbox_id, folder: shared)
    report = selftest.run(local_backend, only=["id_ranges", "pipes_per_sandbox"])
    text = _failure(report)
    assert "per-sandbox ranges not in effect" in text
    assert "new pipe buffer is 8192 bytes" in text


def test_a_spawner_that_cannot_take_its_domain_stops_the_sandbox_from_being_made(local_backend, monkeypatch):
    monkeypatch.setenv("KAFAAT_SANDBOX_LANDLOCK_MIN_ABI", "99")
    before = {handle.id for handle in local_backend.inventory()}
    with pytest.raises(BackendUnavailable, match="spawner could not start"):
        local_backend.create(SandboxSpec(label="no-landlock"))
    assert {handle.id for handle in local_backend.inventory()} == before  # nothing left behind
