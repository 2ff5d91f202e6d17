"""Issue 9 §3: per-user kernel limits shared because every sandbox was the same host uid.

Attack: one sandbox holds 128 inotify instances (before, charged to host root, so no sandbox and
not host root itself could watch a file), 1,200 pipes (before, every learner's new pipe shrank from
64 KiB to 8 KiB), its RLIMIT_NPROC's worth of processes or its message-queue bytes.
Containment: each live sandbox holds its own slot of the subordinate range and its user namespace
is owned by that slot's uid, so these are counted per sandbox; slots are allocated with the
sandbox, freed on destroy and recovered after a crash.

Attack (found later): a slot freed while a process of its old sandbox still ran (a destroy whose
SIGKILL sweep did not empty the cgroup went on, removed the folder and freed the slot) would give a
new sandbox the host ids that process runs with.
Containment: such a destroy keeps the folder and the slot and fails for the reconciler to retry; a
slot whose folder is gone is taken back only when no process (zombies aside) runs with its ids.
"""

from __future__ import annotations

import pathlib

import pytest

from xblocks.labs.sandbox import cgroups, ranges, redteam, selftest
from xblocks.labs.sandbox.base import BackendUnavailable, SandboxError


@pytest.fixture
def slot_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFAAT_SANDBOX_UID_SLOT_DIR", str(tmp_path / "slots"))
    monkeypatch.setenv("KAFAAT_SANDBOX_UID_SLOTS", "3")
    return tmp_path


def test_slots_are_distinct_freed_by_their_owner_only_and_taken_back_after_a_crash(slot_dir, monkeypatch):
    # this host's real sandboxes may run in these ranges: that check has a test of its own below
    monkeypatch.setattr(ranges, "_running_in", lambda taken: False)
    folders = {name: slot_dir / name for name in ("a", "b", "c", "d")}
    for folder in folders.values():
        folder.mkdir()
    a, b = ranges.allocate("a", folders["a"]), ranges.allocate("b", folders["b"])
    assert (a.index, b.index) == (1, 2) and b.base - a.base == a.count == 65536
    assert a.base == 100000 + 65536  # slot 0, the range earlier versions shared, is never handed out
    ranges.release(a.index, "someone-else")
    assert ranges.held() == {1: "a", 2: "b"}
    assert ranges.allocate("c", folders["c"]).index == 3
    folders["a"].rmdir()  # a crash took the sandbox's folder without a destroy
    assert ranges.allocate("d", folders["d"]).index == 1  # the range is full: the abandoned slot comes back
    with pytest.raises(BackendUnavailable, match="SANDBOX_UID_SLOTS"):
        ranges.allocate("e", folders["d"])
    ranges.release_all("b")
    assert 2 not in ranges.held()


def test_a_slot_whose_folder_is_gone_is_not_taken_back_while_a_process_runs_with_its_ids(slot_dir, monkeypatch):
    folders = {name: slot_dir / name for name in ("a", "b", "c", "d")}
    for folder in folders.values():
        folder.mkdir()
    for name in ("a", "b", "c"):
        ranges.allocate(name, folders[name])
    folders["a"].rmdir()
    monkeypatch.setattr(ranges, "_running_in", lambda taken: taken.index == 1)  # a survivor of "a" runs
    with pytest.raises(BackendUnavailable):
        ranges.allocate("d", folders["d"])
    assert ranges.held()[1] == "a"


def test_the_process_scan_sees_live_ids_and_ignores_unused_ranges():
    assert ranges._running_in(ranges.Slot(index=0, base=0, count=1))  # root's processes, this one included
    assert not ranges._running_in(ranges.Slot(index=0, base=4_000_000_000, count=65536))


@pytest.mark.sandbox
def test_a_destroy_that_leaves_a_process_alive_keeps_the_folder_and_the_slot(local_backend, monkeypatch):
    from xblocks.labs.sandbox.base import SandboxSpec

    handle = local_backend.create(SandboxSpec(label="survivor"))
    folder = pathlib.Path(local_backend.settings.SANDBOX_ROOT) / handle.id
    monkeypatch.setattr(cgroups.CgroupDriver, "kill", lambda self, sandbox_id, deadline=5.0: False)
    monkeypatch.setattr(cgroups.CgroupV2, "kill", lambda self, sandbox_id, deadline=5.0: False)
    with pytest.raises(SandboxError, match="survive SIGKILL"):
        local_backend.destroy(handle)
    assert ranges.held()[handle.data["slot"]] == handle.id and folder.is_dir()
    assert handle.id in {h.id for h in local_backend.inventory()}  # the reconciler will see it again
    monkeypatch.undo()
    local_backend.destroy(handle)  # the reconciler's next try, once the processes can be killed
    assert handle.id not in ranges.held().values() and not folder.exists()


@pytest.mark.sandbox
def test_a_sandbox_frees_its_slot_when_destroyed(local_backend):
    from xblocks.labs.sandbox.base import SandboxSpec

    handle = local_backend.create(SandboxSpec(label="slot"))
    assert ranges.held()[handle.data["slot"]] == handle.id
    local_backend.destroy(handle)
    assert ranges.held().get(handle.data["slot"]) != handle.id


@pytest.mark.sandbox
def test_the_reconciler_frees_the_slot_of_a_sandbox_whose_handle_was_lost(local_backend):
    from xblocks.labs.sandbox.base import SandboxHandle, SandboxSpec

    handle = local_backend.create(SandboxSpec(label="lost"))
    (pathlib.Path(local_backend.settings.SANDBOX_ROOT) / handle.id / "handle.json").unlink()
    found = next(h for h in local_backend.inventory() if h.id == handle.id)
    assert "slot" not in found.data
    local_backend.destroy(found)  # what the reconciler does with what inventory() reports
    local_backend.destroy(SandboxHandle.from_json(handle.as_json()))  # and the init, by the full handle
    assert handle.id not in ranges.held().values()


@pytest.fixture
def ctx(local_backend, make_sandbox):
    return selftest.Context(backend=local_backend, a=make_sandbox(), b=make_sandbox())


@pytest.mark.sandbox
def test_one_sandbox_at_its_inotify_limit_stops_neither_another_nor_host_root(ctx):
    assert "B (inotify, tail -f, inotifywait) and host root still get theirs" in redteam.inotify_per_sandbox(ctx)


@pytest.mark.sandbox
def test_twelve_hundred_pipes_in_one_sandbox_do_not_shrink_anothers(ctx):
    assert "stays 65536" in redteam.pipes_per_sandbox(ctx)


@pytest.mark.sandbox
def test_each_sandbox_gets_its_own_inotify_limits(local_backend, make_sandbox, monkeypatch):
    monkeypatch.setenv("KAFAAT_SANDBOX_INOTIFY_INSTANCES", "5")
    handle = make_sandbox()
    result = local_backend.exec(
        handle,
        "cat /proc/sys/user/max_inotify_instances; "
        "python3 -c 'import ctypes; l = ctypes.CDLL(None); print(sum(l.inotify_init1(0) >= 0 for _ in range(9)))'",
    )
    assert result.stdout.split() == ["5", "5"]


NPROC = "ulimit -u 40; for i in $(seq 30); do sleep 30 & done 2>/dev/null; jobs -p | wc -l"


@pytest.mark.sandbox
def test_rlimit_nproc_counts_each_sandboxs_learner_apart(ctx):
    first = ctx.run(ctx.a, NPROC, timeout=10).stdout.strip()
    second = ctx.run(ctx.b, NPROC, timeout=10).stdout.strip()  # before: 30 + 30 of one uid over a limit of 40
    assert (first, second) == ("30", "30")


MQUEUE = r"""
import ctypes, os, sys
libc = ctypes.CDLL(None, use_errno=True)
class attr(ctypes.Structure):
    _fields_ = [("flags", ctypes.c_long), ("maxmsg", ctypes.c_long), ("msgsize", ctypes.c_long), ("cur", ctypes.c_long)]
made = 0
for i in range(64):
    a = attr(0, 10, 8192, 0)
    if libc.mq_open(f"/q{sys.argv[1]}{i}".encode(), os.O_CREAT | os.O_RDWR, 0o600, ctypes.byref(a)) < 0:
        break
    made += 1
print(made)
"""


@pytest.mark.sandbox
def test_message_queue_bytes_are_counted_per_sandbox(ctx):
    first = int(ctx.run(ctx.a, 'python3 -c "$1" a', args=[MQUEUE]).stdout)
    second = int(ctx.run(ctx.b, 'python3 -c "$1" b', args=[MQUEUE]).stdout)
    assert first > 0 and second == first  # RLIMIT_MSGQUEUE is per user: B is not left A's remainder
