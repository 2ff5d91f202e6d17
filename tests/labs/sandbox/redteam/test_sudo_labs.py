"""Issue 9 §2, labs where the learner is root: what inside checks cannot prove, and outside checks.

Attack: in a ``sudo="true"`` lab the learner is the sandbox's root and replaces a program a check
runs (here ``find``) so that the check reports what the learner wants.
Containment: an inside check can be forged that way (the documented limit); an outside check runs
the platform's script as root in a fresh sandbox of the lab's pristine image, with the learner's
files read-only, nosuid, nodev and noexec at /lab: nothing of the learner's executes, so it sees
the world-writable file whatever the learner did to their programs.

Attack (found later): /lab was a bind of the learner's live mount, whose inodes it shared: a FIFO
fed by a learner loop, a unix socket with a learner server and a file lease (the checker's open
waits, the learner is told, rewrites the file, lets go) each put a learner program's answer where
the checker read the learner's files.
Containment: /lab is an overlay of its own over the learner's writable layer and the same image;
learner leases are refused by the filter, and even one taken on the learner's mount (here by host
root) does not reach the checker's open.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import pathlib
import time

import pytest

from xblocks.labs import runner
from xblocks.labs.definition import Check

pytestmark = pytest.mark.sandbox

INSIDE = Check(
    "inside", 1, 10, "root", 'found=$(find /etc -xdev -type f -perm -0002 2>/dev/null); [ -z "$found" ] || exit 1'
)
OUTSIDE = Check(
    "outside",
    1,
    10,
    "root",
    'found=$(find /lab/etc -xdev -type f -perm -0002 2>/dev/null); [ -z "$found" ] || { echo "$found"; exit 1; }',
    where="outside",
)


def test_a_learner_with_sudo_forges_an_inside_check_but_not_an_outside_one(make_sandbox, local_backend):
    handle = make_sandbox(learner_sudo=True)
    local_backend.put_file(handle, "/etc/shop.conf", b"password = changeme\n", user="root", mode=0o666)
    assert not runner.run_check(local_backend, handle, INSIDE).passed
    assert not runner.run_check(local_backend, handle, OUTSIDE).passed
    # The learner's "fix": a find that finds nothing.
    local_backend.exec(handle, "printf '#!/bin/sh\\nexit 0\\n' | sudo -n tee /usr/bin/find >/dev/null")
    assert runner.run_check(local_backend, handle, INSIDE).passed  # forged: the limit docs/sandbox.md states
    outside = runner.run_check(local_backend, handle, OUTSIDE)
    assert not outside.passed and "/lab/etc/shop.conf" in outside.feedback
    local_backend.exec(handle, "sudo -n chmod o-w /etc/shop.conf")  # the real fix
    assert runner.run_check(local_backend, handle, OUTSIDE).passed


def test_an_outside_check_reads_the_learners_files_with_their_owners_and_can_neither_write_nor_run_them(
    make_sandbox, local_backend
):
    handle = make_sandbox(learner_sudo=True)
    local_backend.exec(
        handle,
        "printf '#!/bin/sh\\necho ran\\n' > ~/tool.sh && chmod 755 ~/tool.sh; "
        "echo secret | sudo -n tee /root/only-root >/dev/null; sudo -n chmod 600 /root/only-root; "
        "nohup sleep 300 >/dev/null 2>&1 &",
    )
    result = local_backend.exec_outside(
        handle,
        "stat -c '%U %a' /lab/home/learner/tool.sh; cat /lab/root/only-root; "
        "{ /lab/home/learner/tool.sh; /lib*/ld-linux-*.so.* /lab/usr/bin/true; } "
        "2>&1 | grep -c -E 'Permission denied|failed to map'; "
        "touch /lab/tmp/x 2>&1 | grep -c 'Read-only file system'; "
        "pgrep -x sleep | wc -l; id -u; hostname",
    )
    assert result.ok, result.stderr
    assert result.stdout.split("\n")[:7] == ["learner 755", "secret", "2", "1", "1", "0", "lab"], result
    # pgrep found only the throwaway's own init sleep: none of the learner's processes


def test_a_link_the_learner_plants_resolves_inside_the_checkers_own_root(make_sandbox, local_backend):
    handle = make_sandbox(learner_sudo=True)
    local_backend.exec(handle, "ln -s /etc/shadow ~/shadow-link; ln -s / ~/root-link")
    result = local_backend.exec_outside(
        handle,
        "sha256sum < /lab/home/learner/shadow-link; sha256sum < /etc/shadow; ls /lab/home/learner/root-link/",
    )
    followed, own, listing = result.stdout.split("\n", 2)
    host = hashlib.sha256(pathlib.Path("/etc/shadow").read_bytes()).hexdigest()
    assert followed == own and not followed.startswith(host)  # the checker's own shadow, never the host's
    assert "lab" in listing.split() and "kafaat" not in listing  # / of the checker's sandbox (it has /lab)


def test_an_outside_check_leaves_nothing_behind_and_the_learners_sandbox_keeps_its_ids(make_sandbox, local_backend):
    from xblocks.labs.sandbox import ranges

    handle = make_sandbox(learner_sudo=True)
    before = {h.id for h in local_backend.inventory()}
    local_backend.exec_outside(handle, "true")
    assert {h.id for h in local_backend.inventory()} == before
    assert ranges.held()[handle.data["slot"]] == handle.id
    assert local_backend.exec(handle, "echo alive").stdout == "alive\n"


def test_destroying_a_sandbox_ends_an_outside_checkers_sandbox_a_crash_left_behind(make_sandbox, local_backend):
    from xblocks.labs.sandbox import images, ranges
    from xblocks.labs.sandbox.base import SandboxSpec
    from xblocks.labs.sandbox.local.layout import OUTSIDE_LIMITS, OUTSIDE_NOTES

    handle = local_backend.create(SandboxSpec(learner_sudo=True, label="outside-crash"))
    root = pathlib.Path(local_backend.settings.SANDBOX_ROOT)
    # what exec_outside had made when its worker died: a note and a throwaway on the learner's slot
    left_id = "0123456789abcdef"
    (root / handle.id / OUTSIDE_NOTES).mkdir()
    (root / handle.id / OUTSIDE_NOTES / left_id).touch()
    (root / left_id).mkdir(mode=0o710)
    image = images.find_built(handle.data["image"], handle.data["image_hash"])
    left = local_backend._start(
        left_id,
        root / left_id,
        SandboxSpec(limits=OUTSIDE_LIMITS),
        image,
        ranges.slot(handle.data["slot"]),
        shared_slot=True,
    )
    assert local_backend.alive(left)
    local_backend.destroy(handle)
    assert not local_backend.alive(left) and not (root / left_id).exists()
    assert handle.id not in ranges.held().values()


def test_a_lease_on_the_learners_mount_neither_holds_nor_tells_the_outside_checker(make_sandbox, local_backend):
    handle = make_sandbox(learner_sudo=True)
    local_backend.exec(handle, "echo original > ~/leased")
    take_lease = 'import fcntl, os; fcntl.fcntl(os.open("/home/learner/leased", os.O_RDWR), 1024, fcntl.F_WRLCK)'
    refused = local_backend.exec(handle, 'python3 -c "$1"', args=[take_lease])
    assert "Operation not permitted" in refused.stderr  # the filter: learners take no leases
    # Host root (unfiltered, CAP_LEASE) takes one on the learner's live mount, as a learner could before.
    live = pathlib.Path(f"/proc/{handle.data['pid']}/root/home/learner/leased")  # its live root, as the host reaches it
    fd = os.open(live, os.O_RDWR)
    try:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_WRLCK)
        started = time.monotonic()
        result = local_backend.exec_outside(handle, "cat /lab/home/learner/leased", timeout=10)
        took = time.monotonic() - started
        assert result.stdout == "original\n" and not result.timed_out
        assert took < 5  # a shared inode would have held the open for lease-break-time (45 s here)
        assert fcntl.fcntl(fd, fcntl.F_GETLEASE) == fcntl.F_WRLCK  # never broken: the holder was never told
    finally:
        fcntl.fcntl(fd, fcntl.F_SETLEASE, fcntl.F_UNLCK)
        os.close(fd)


def test_an_outside_check_reads_a_learners_fifo_and_socket_as_dead_files(make_sandbox, local_backend):
    from xblocks.labs.sandbox import redteam, selftest

    ctx = selftest.Context(backend=local_backend, a=make_sandbox(), b=make_sandbox())
    ctx.made.append(make_sandbox(learner_sudo=True, label="selftest-sudo"))
    assert "no writer" in redteam.outside_special_files(ctx)
