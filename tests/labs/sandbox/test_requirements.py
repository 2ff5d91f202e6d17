"""What a lab host needs from its machine: each piece checked by name, and the self-test says which is missing."""

from __future__ import annotations

import os
import pathlib
import stat
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from xblocks.labs.sandbox import requirements, selftest

NAMES = [
    "root",
    "kernel",
    "user namespaces",
    "subordinate range",
    "cgroup controllers",
    "bubblewrap",
    "util-linux",
    "overlayfs",
    "sandbox helper",
    "landlock",
    "sandbox root",
    "image cache",
]


@pytest.fixture(autouse=True)
def private_outcome(tmp_path, monkeypatch):
    # A failed run recorded here must not stop other test runs sharing this machine.
    monkeypatch.setattr(selftest, "_host_file", lambda: tmp_path / ".selftest.json")
    selftest.reset()
    yield
    selftest.reset()


def _by_name(results):
    return {result.name: result for result in results}


def unreserved_base() -> int:
    """A uid base no entry of this machine's /etc/subuid or /etc/subgid covers (other runs may widen them)."""
    ends = [
        start + count
        for path in requirements.SUBID_FILES
        for _user, start, count in requirements._ranges(pathlib.Path(path))
    ]
    return max([100000, *ends]) + 65536


@pytest.mark.sandbox
def test_this_host_provides_every_piece(local_backend):
    results = requirements.check()
    assert [result.name for result in results] == NAMES
    assert all(result.ok for result in results), "\n".join(result.line() for result in results)
    found = _by_name(results)
    assert found["bubblewrap"].detail.startswith("bubblewrap ")
    assert "util-linux" in found["util-linux"].detail
    assert "memory, pids and cpu writable" in found["cgroup controllers"].detail


@pytest.mark.sandbox
def test_a_range_not_reserved_for_the_sandboxes_is_named(monkeypatch):
    base = unreserved_base()
    monkeypatch.setenv("KAFAAT_SANDBOX_UID_BASE", str(base))
    monkeypatch.setenv("KAFAAT_SANDBOX_UID_SLOTS", "0")  # the range is then slot 0 alone: 65536 ids
    (result,) = requirements.check(["subordinate range"])
    assert not result.ok
    assert f"no entry root:{base}:65536 in /etc/subuid" in result.detail


def test_a_range_another_user_was_given_is_named(tmp_path, monkeypatch):
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    subuid.write_text("root:100000:65536\nbob:150000:65536\n")
    subgid.write_text("root:100000:65536\n")
    monkeypatch.setattr(requirements, "SUBID_FILES", (str(subuid), str(subgid)))
    monkeypatch.setenv("KAFAAT_SANDBOX_UID_SLOTS", "0")
    (result,) = requirements.check(["subordinate range"])
    assert not result.ok
    assert "gives bob 150000:65536, which overlaps the sandboxes' range 100000:65536" in result.detail
    subuid.write_text("root:100000:65536\nbob:200000:65536\n")
    (result,) = requirements.check(["subordinate range"])
    assert result.ok, result.detail


def _tool(folder: pathlib.Path, name: str, output: str) -> None:
    script = folder / name
    script.write_text(f"#!/bin/sh\necho '{output}'\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR)


def test_tools_too_old_or_absent_are_named_with_what_is_needed(tmp_path, monkeypatch):
    _tool(tmp_path, "bwrap", "bubblewrap 0.6.1")
    _tool(tmp_path, "unshare", "unshare from util-linux 2.37.2")
    _tool(tmp_path, "nsenter", "nsenter from util-linux 2.37.2")
    monkeypatch.setattr(requirements, "TOOL_PATH", str(tmp_path))
    found = _by_name(requirements.check(["bubblewrap", "util-linux"]))
    assert found["bubblewrap"].detail.startswith("bubblewrap 0.6.1: bubblewrap 0.8 or later is needed")
    assert found["util-linux"].detail.startswith("unshare from util-linux 2.37.2: util-linux 2.38 or later is needed")
    empty = tmp_path / "empty"
    empty.mkdir()
    monkeypatch.setattr(requirements, "TOOL_PATH", str(empty))
    found = _by_name(requirements.check(["bubblewrap", "util-linux"]))
    assert found["bubblewrap"].detail == f"bwrap is not installed in {empty} (Debian: apt install bubblewrap)"
    assert not found["util-linux"].ok and "apt install util-linux" in found["util-linux"].detail


@pytest.mark.sandbox
def test_a_cgroup_parent_that_cannot_hold_limited_cgroups_is_named(monkeypatch):
    monkeypatch.setenv("KAFAAT_SANDBOX_CGROUP_PARENT", "cgroup.procs/kafaat")  # a file, not a folder
    (result,) = requirements.check(["cgroup controllers"])
    assert not result.ok
    assert result.detail.startswith("cannot make a limited cgroup under cgroup.procs/kafaat")


def test_an_image_cache_without_the_base_image_is_named_unless_it_can_be_built(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFAAT_IMAGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KAFAAT_IMAGE_AUTO_BUILD", "false")
    (result,) = requirements.check(["image cache"])
    assert not result.ok and "the base image is not built" in result.detail and "kafaat image build" in result.detail
    monkeypatch.setenv("KAFAAT_IMAGE_AUTO_BUILD", "true")
    (result,) = requirements.check(["image cache"])
    if requirements.shutil.which("debootstrap", path=requirements.TOOL_PATH):
        assert result.ok and "the first sandbox builds it" in result.detail
    else:  # pragma: no cover - hosts without debootstrap
        assert not result.ok and "debootstrap" in result.detail


@pytest.mark.sandbox
def test_the_self_test_names_the_missing_pieces_and_makes_no_sandbox(monkeypatch, tmp_path):
    base = unreserved_base()
    monkeypatch.setenv("KAFAAT_SANDBOX_UID_BASE", str(base))
    monkeypatch.setenv("KAFAAT_SANDBOX_UID_SLOTS", "0")
    monkeypatch.setenv("KAFAAT_IMAGE_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv("KAFAAT_IMAGE_AUTO_BUILD", "false")
    report = selftest.run_and_record()
    assert not report.passed and report.cases == ()
    assert report.error.startswith(f"missing: subordinate range (no entry root:{base}:65536")
    assert "; image cache (the base image is not built" in report.error
    assert selftest.failed()  # lab work refused until a later run passes
    assert "missing: subordinate range" in selftest.last_summary()


@pytest.mark.sandbox
def test_the_workers_self_test_checks_the_requirements_then_runs_every_case(local_backend):  # noqa: ARG001
    report = selftest.run()  # no backend given: as Celery's worker_ready calls it
    assert report.passed, report.summary()
    assert [need.name for need in report.requirements] == NAMES
    assert len(report.cases) == len(selftest._cases())


def test_a_check_registered_by_another_part_slots_in_and_replaces_by_name(monkeypatch):
    monkeypatch.setattr(requirements, "CHECKS", list(requirements.CHECKS))

    @requirement_named("launcher helper")
    def helper():
        raise requirements.Missing("the launcher helper is not built: run kafaat sandbox build-helper")

    assert [name for name, _ in requirements.CHECKS][-1] == "launcher helper"
    (result,) = requirements.check(["launcher helper"])
    assert result.line() == (
        "MISS launcher helper      the launcher helper is not built: run kafaat sandbox build-helper"
    )
    requirement_named("launcher helper")(lambda: "built")
    assert [name for name, _ in requirements.CHECKS].count("launcher helper") == 1
    assert requirements.check(["launcher helper"])[0].ok

    @requirement_named("crashes")
    def crashes():
        raise RuntimeError("unexpected")

    (result,) = requirements.check(["crashes"])
    assert not result.ok and result.detail == "could not check: RuntimeError: unexpected"


def requirement_named(name):
    return requirements.requirement(name)


def test_kafaat_lab_host_check_lists_each_piece_and_fails_when_one_is_missing(monkeypatch, capsys):
    monkeypatch.setattr(requirements, "CHECKS", [("first", lambda: "fine"), ("second", _missing)])
    with pytest.raises(CommandError, match=r"missing: second \(apt install something\)"):
        call_command("kafaat_lab_host", "check")
    out = capsys.readouterr().out
    assert "ok   first                fine" in out and "MISS second               apt install something" in out


def _missing():
    raise requirements.Missing("apt install something")


@pytest.mark.sandbox
def test_as_an_ordinary_user_the_self_test_says_root_is_needed(tmp_path):
    env = {
        **os.environ,
        "KAFAAT_SANDBOX_ROOT": str(tmp_path / "sandboxes"),
        "KAFAAT_IMAGE_CACHE": str(tmp_path / "cache"),
        "HOME": str(tmp_path),
    }
    completed = subprocess.run(
        ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--", sys.executable, "-m", "xblocks.cli"]
        + ["sandbox", "selftest"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert completed.returncode == 1, completed.stdout + completed.stderr
    assert "MISS root                 the sandbox backend runs as root (this process is uid 65534)" in completed.stdout
    assert "sandbox self-test could not run: missing: root" in completed.stdout


def test_the_range_covers_every_slot_a_sandbox_may_hold(tmp_path, monkeypatch):
    subuid, subgid = tmp_path / "subuid", tmp_path / "subgid"
    monkeypatch.setattr(requirements, "SUBID_FILES", (str(subuid), str(subgid)))
    monkeypatch.setenv("KAFAAT_SANDBOX_UID_SLOTS", "3")
    for path in (subuid, subgid):
        path.write_text("root:100000:65536\n")  # slot 0 only: the other three slots would be unreserved
    (result,) = requirements.check(["subordinate range"])
    assert not result.ok and f"no entry root:100000:{4 * 65536}" in result.detail
    for path in (subuid, subgid):
        path.write_text(f"root:100000:{4 * 65536}\n")
    (result,) = requirements.check(["subordinate range"])
    assert result.ok, result.detail
