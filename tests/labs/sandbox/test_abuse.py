"""Abuse rows 1-18 of the sandbox table, each against real sandboxes (the same cases the worker self-test runs).

Rows 20 (mining detection: the labs app's reaper and events) and 21 (a second boundary through a
Kubernetes RuntimeClass) belong to other parts; row 19 is covered by ``host_secrets``.
"""

from __future__ import annotations

import threading
import time

import pytest

from xblocks.labs.sandbox import selftest

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def abuse_context(local_backend):
    with selftest.context(local_backend) as ctx:
        yield ctx


@pytest.mark.parametrize("case", [name for name, _row, _fn in selftest.CASES])
def test_abuse_case_is_contained(abuse_context, case):
    result = selftest.run_case(abuse_context, case)
    assert result.passed, result.detail


def test_a_planted_check_script_symlink_does_not_redirect_delivery_or_writes(make_sandbox, local_backend, tmp_path):
    handle = make_sandbox()
    canary = tmp_path / "canary"
    canary.write_text("host content\n")
    before = canary.read_bytes()
    # The learner points every name the engine might touch at host paths it can guess.
    local_backend.exec(
        handle,
        f"for n in check.sh run_script .kafaat-file x; do ln -sf {canary} ~/$n; done; "
        f"ln -sf {canary} /tmp/check.sh; mkfifo ~/fifo; true",
    )
    result = local_backend.exec(handle, "echo from-the-pipe; echo args: $1", args=["one"], user="root")
    assert result.stdout == "from-the-pipe\nargs: one\n"
    local_backend.put_file(handle, "/home/learner/placed/new.txt", b"ok\n")
    local_backend.put_file(handle, "/home/learner/check.sh", b"replaced\n")  # the link is replaced, not followed
    assert canary.read_bytes() == before
    kind = local_backend.exec(handle, "stat -c %F ~/check.sh; cat ~/check.sh; ls /tmp/pytest-of-root 2>&1 | head -1")
    assert kind.stdout.startswith("regular file\nreplaced\n") and "No such file" in kind.stdout


def test_no_sandbox_process_is_host_root(make_sandbox, local_backend):
    from xblocks.labs.sandbox import cgroups

    handle = make_sandbox(learner_sudo=True)
    local_backend.exec(handle, "sleep 30 >/dev/null 2>&1 &", user="root")
    local_backend.exec(handle, "sleep 30 >/dev/null 2>&1 &")
    pty = local_backend.open_pty(handle)
    exec_running = threading.Thread(target=local_backend.exec, args=(handle, "sleep 1"), kwargs={"user": "root"})
    exec_running.start()
    try:
        time.sleep(0.3)
        driver = cgroups.driver(local_backend.settings.SANDBOX_CGROUP_PARENT)
        # Everything in the sandbox's cgroup: bwrap's monitor and init, the daemons, the shell, the
        # running check and the nsenter launchers waiting for them outside the pid namespace.
        members = driver.pids(handle.id)
        uids = {pid: _uids(pid) for pid in members}
        assert len(members) >= 8
        base = handle.data["uid_base"]
        assert all(all(base <= uid < base + 65536 for uid in ids) for ids in uids.values() if ids), uids
        assert {_uids(pid)[0] for pid in members if _pid_ns(pid) == _pid_ns(handle.data["pid"])} >= {base, base + 1000}
    finally:
        exec_running.join()
        pty.close()


def _pid_ns(pid: int) -> str:
    import os

    try:
        return os.readlink(f"/proc/{pid}/ns/pid")
    except OSError:
        return ""


def _uids(pid: int) -> list[int]:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    return [int(v) for v in line.split()[1:]]
    except OSError:
        pass
    return []


def test_a_planted_dev_pts_link_cannot_send_the_pty_open_onto_the_host(make_sandbox, local_backend, tmp_path):
    canary = tmp_path / "canary"
    canary.write_text("host\n")
    handle = make_sandbox(learner_sudo=True)
    planted = local_backend.exec(
        handle, f"umount -l /dev/pts && ln -s {canary} /dev/pts/ptmx && echo planted", user="root"
    )
    assert planted.stdout == "planted\n", planted.stderr
    pty = local_backend.open_pty(handle)  # falls back to a host pseudo-terminal
    try:
        pty.write(b"echo PTY-$((2*21))\n")
        seen = b""
        deadline = time.monotonic() + 5
        while b"PTY-42" not in seen and time.monotonic() < deadline:
            seen += pty.read()
        assert b"PTY-42" in seen
    finally:
        pty.close()
    assert canary.read_text() == "host\n"
