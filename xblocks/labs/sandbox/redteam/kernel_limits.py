"""One learner must not hurt another through per-user kernel limits (issue 9, section 3)."""

from __future__ import annotations

import secrets
import time

from xblocks.labs.sandbox import selftest
from xblocks.labs.sandbox.base import SandboxHandle
from xblocks.labs.sandbox.selftest import Context, _expect

# ---------------------------------------------------------------------------------------------------
# One learner must not hurt another through per-user kernel limits (issue 9, section 3)

OWNER_PROBE = """
import fcntl, os, sys
NS_GET_OWNER_UID = 0xB704
fd = os.open(f"/proc/{sys.argv[1]}/ns/user", os.O_RDONLY)
buf = bytearray(4)
fcntl.ioctl(fd, NS_GET_OWNER_UID, buf)
print(int.from_bytes(buf, "little"))
"""


def userns_owner(pid: int) -> int:
    """The host uid that owns the user namespace of ``pid`` (NS_GET_OWNER_UID)."""
    import fcntl  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel

    fd = os.open(f"/proc/{pid}/ns/user", os.O_RDONLY)
    try:
        buffer = bytearray(4)
        fcntl.ioctl(fd, 0xB704, buffer)
        return int.from_bytes(buffer, "little")
    finally:
        os.close(fd)


def id_ranges(ctx: Context) -> str:
    bases = []
    for handle in (ctx.a, ctx.b):
        base = int(handle.data["uid_base"])
        owner = userns_owner(int(handle.data["pid"]))
        _expect(owner == base, f"sandbox {handle.id}'s user namespace is owned by host uid {owner}, not {base}")
        ids = ctx.run(handle, "cat /proc/self/uid_map").stdout.split()
        _expect(ids[:3] == ["0", str(base), str(ctx.backend.settings.SANDBOX_UID_COUNT)], f"id map {ids}")
        bases.append(base)
    _expect(bases[0] != bases[1], f"sandboxes A and B share host ids from {bases[0]}: per-sandbox ranges not in effect")
    return f"A and B map to host ids {bases[0]}+ and {bases[1]}+, each user namespace owned by its own range"


INOTIFY_HOG = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long  # syscall arguments as full registers (a bare int leaves the upper half undefined)
held = 0
while libc.inotify_init1(0) >= 0:
    held += 1
open(sys.argv[1], "w").write(str(held))
time.sleep(float(sys.argv[2]))
"""

INOTIFY_TRY = (
    "python3 -c 'import ctypes, errno; r = ctypes.CDLL(None, use_errno=True).inotify_init1(0); "
    'print("ok" if r >= 0 else errno.errorcode[ctypes.get_errno()])\''
)


def hold(ctx: Context, handle: SandboxHandle, program: str, seconds: float = 20) -> str:
    """Run ``program`` in the background as the learner until it reports; return its report."""
    marker = f"/tmp/held-{secrets.token_hex(4)}"
    ctx.backend.exec(handle, f'nohup python3 -c "$1" {marker} {seconds} >/dev/null 2>&1 &', args=[program], timeout=5)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        report = ctx.run(handle, f"cat {marker} 2>/dev/null").stdout.strip()
        if report:
            return report
        time.sleep(0.02)
    raise selftest.Escape(f"the background program did not report: {program[:40]}")


def release(ctx: Context, handle: SandboxHandle) -> None:
    ctx.run(handle, "pkill -f 'held-[0-9a-f]' || true", timeout=5)


def inotify_per_sandbox(ctx: Context) -> str:
    import ctypes  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel

    held = hold(ctx, ctx.a, INOTIFY_HOG)
    try:
        neighbour = ctx.run(ctx.b, INOTIFY_TRY).stdout.strip()
        libc = ctypes.CDLL(None, use_errno=True)
        fd = libc.inotify_init1(0)
        host = "ok" if fd >= 0 else "refused"
        if fd >= 0:
            os.close(fd)
        tail = ctx.run(ctx.b, "timeout 0.5 tail -f /etc/hostname 2>&1; true").stdout
        # inotifywait still watching when timeout stops it: 124; unable to watch at all: 1, at once
        waited = ctx.run(ctx.b, "timeout 0.2 inotifywait -q /etc/hostname 2>&1; echo rc=$?").stdout
    finally:
        release(ctx, ctx.a)
    _expect(neighbour == "ok", f"with A holding {held} inotify instances, B got {neighbour}")
    _expect(host == "ok", f"with A holding {held} inotify instances, host root could not make one")
    _expect("reverting to polling" not in tail and "cannot" not in tail, f"tail -f in B: {tail.strip()}")
    _expect(waited.strip().endswith("rc=124"), f"inotifywait in B: {waited.strip()}")
    return (
        f"A holds {held} inotify instances (its limit); "
        "B (inotify, tail -f, inotifywait) and host root still get theirs"
    )


PIPE_HOG = r"""
import os, resource, sys, time
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
held = []
for _ in range(1200):
    held.append(os.pipe())
open(sys.argv[1], "w").write(str(len(held)))
time.sleep(float(sys.argv[2]))
"""

PIPE_SIZE = "python3 -c 'import fcntl, os; r, w = os.pipe(); print(fcntl.fcntl(w, 1032))'"


def pipes_per_sandbox(ctx: Context) -> str:
    held = hold(ctx, ctx.a, PIPE_HOG)
    try:
        own = ctx.run(ctx.a, PIPE_SIZE).stdout.strip()
        neighbour = ctx.run(ctx.b, PIPE_SIZE).stdout.strip()
    finally:
        release(ctx, ctx.a)
    _expect(neighbour == "65536", f"with A holding {held} pipes, B's new pipe buffer is {neighbour} bytes")
    return f"A holds {held} pipes (its own new pipes shrink to {own} bytes); B's new pipe buffer stays 65536 bytes"
