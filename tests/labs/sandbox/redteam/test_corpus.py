"""The red-team corpus against real sandboxes: every entry of ``redteam.CORPUS``, and the cases that need the host.

The corpus holds abuse rows 1-18 of the sandbox table and the trust-boundary attacks; the worker's
self-test runs its in-sandbox entries. Rows 20 (mining detection: the labs app's reaper and events)
and 21 (a second boundary through a Kubernetes RuntimeClass) belong to other parts; row 19 is
covered by ``host_secrets``.
"""

from __future__ import annotations

import os
import threading
import time

import pytest

from xblocks.labs.sandbox import redteam, selftest

pytestmark = pytest.mark.sandbox


@pytest.fixture(scope="module")
def abuse_context(local_backend):
    with selftest.context(local_backend) as ctx:
        yield ctx


@pytest.mark.parametrize("case", [attack.name for attack in redteam.CORPUS])
def test_every_attack_of_the_corpus_is_contained(abuse_context, case):
    attack = redteam.by_name(case)
    started = time.monotonic()
    try:
        detail = attack.run(abuse_context)
    except selftest.Escape as escape:
        pytest.fail(f"{attack.attack}: {escape} (expected: {attack.containment})")
    assert detail and time.monotonic() - started < 30


def test_each_corpus_entry_states_its_attack_containment_and_proof():
    names = [attack.name for attack in redteam.CORPUS]
    assert len(names) == len(set(names))
    for attack in redteam.CORPUS:
        assert attack.attack and attack.containment and attack.proves and attack.ref, attack.name
    # every abuse row the self-test always ran is still in it
    assert {name for name, _row, _fn in redteam.rows.CASES} <= {a.name for a in redteam.CORPUS if a.selftest}


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
    check_running = threading.Thread(
        target=local_backend.exec, args=(handle, "sleep 1"), kwargs={"user": "learner", "check": True}
    )
    exec_running.start()
    check_running.start()
    try:
        time.sleep(0.3)
        driver = cgroups.driver(local_backend.settings.SANDBOX_CGROUP_PARENT)
        # Everything in the sandbox's cgroup: bwrap's monitor and init, the spawner, the daemons, the
        # shell, a running exec and a running check with the helper waiting for it outside the pid namespace.
        members = driver.pids(handle.id)
        uids = {pid: _uids(pid) for pid in members}
        assert len(members) >= 8
        base = handle.data["uid_base"]
        assert all(all(base <= uid < base + 65536 for uid in ids) for ids in uids.values() if ids), uids
        assert {_uids(pid)[0] for pid in members if _pid_ns(pid) == _pid_ns(handle.data["pid"])} >= {base, base + 1000}
    finally:
        exec_running.join()
        check_running.join()
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


def test_the_sandbox_root_cannot_replace_dev_pts_and_a_planted_link_resolves_inside(
    make_sandbox, local_backend, tmp_path
):
    handle = make_sandbox(learner_sudo=True)
    planted = local_backend.exec(handle, "umount -l /dev/pts 2>&1; echo rc=$?", user="root")
    assert "rc=0" not in planted.stdout  # the mount family is denied: devpts stays the sandbox's own
    pty = local_backend.open_pty(handle)
    try:
        pty.write(b"echo PTY-$((2*21)) $(tty)\n")
        seen = b""
        deadline = time.monotonic() + 5
        while b"PTY-42 /dev/pts/" not in seen and time.monotonic() < deadline:
            seen += pty.read()
        assert b"PTY-42 /dev/pts/" in seen
    finally:
        pty.close()
    # and the host-side open itself: a link at dev/pts/ptmx pointing at a host file stays inside the root
    from xblocks.labs.sandbox.local.kernel import openat2_in_root

    canary = tmp_path / "canary"
    canary.write_text("host\n")
    fake_root = tmp_path / "root"
    (fake_root / "dev/pts").mkdir(parents=True)
    (fake_root / "dev/pts/ptmx").symlink_to(canary)
    root_fd = os.open(fake_root, os.O_PATH | os.O_DIRECTORY)
    try:
        with pytest.raises(FileNotFoundError):
            openat2_in_root(root_fd, b"dev/pts/ptmx", os.O_RDWR)
    finally:
        os.close(root_fd)
    assert canary.read_text() == "host\n"
