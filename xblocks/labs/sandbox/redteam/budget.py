"""What a learner can do to a check without reaching into it: limits, budgets, the spawner."""

from __future__ import annotations

import secrets
import time

from xblocks.labs.sandbox import selftest
from xblocks.labs.sandbox.base import MiB, SandboxError, SandboxHandle
from xblocks.labs.sandbox.selftest import Context, _expect

# ---------------------------------------------------------------------------------------------------
# What a learner can do to a check without reaching into it (found after issue 9): the check shares
# the learner's uid, which is all prlimit(2) and /proc/<pid>/oom_score_adj ask for, and it shared the
# sandbox's memory, process and CPU budget, which the learner can use up at the moment it matters.


def background(ctx: Context, handle: SandboxHandle, program: str, log_path: str, *args: str) -> None:
    """Start ``program`` (python3 -c) in the background as the learner until it logs ``ready`` in ``log_path``."""
    ctx.backend.exec(
        handle,
        'nohup python3 -c "$1" "${@:2}" >/dev/null 2>&1 &',
        args=[program, log_path, *args],
        timeout=10,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        # read like a check: the program may have taken every process slot the learner side has
        seen = ctx.backend.read_file(handle, log_path)  # type: ignore[attr-defined]
        if "ready" in seen.stdout:
            return
        _expect("fork" not in seen.stderr, f"a check could not run beside the learner's programs: {seen.stderr[:300]}")
        time.sleep(0.02)
    raise selftest.Escape(f"the background program did not start: {ctx.backend.read_file(handle, log_path)}")


def stop(ctx: Context, handle: SandboxHandle, log_path: str) -> None:
    """End the background programs started with ``log_path`` (the pattern does not match this shell)."""
    name = log_path.rsplit("/", 1)[-1]
    ctx.run(handle, f"pkill -f '{name[:-1]}[{name[-1]}]' || true", timeout=5)


PRLIMIT_ATTACKER = r"""
import ctypes, os, sys, time
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long  # syscall arguments as full registers (a bare int leaves the upper half undefined)
class RLimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
out = sys.argv[1]
def log(text):
    with open(out, "a") as handle:
        handle.write(text + "\n")
seen = {int(e) for e in os.listdir("/proc") if e.isdigit()}
log("ready")
end = time.monotonic() + 20
while time.monotonic() < end:
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in seen:
            continue
        pid = int(entry)
        try:
            command = open(f"/proc/{pid}/cmdline", "rb").read()
        except OSError:
            continue
        if not command:
            continue  # in execve: look again
        if b"--norc" not in command:
            seen.add(pid)
            continue
        seen.add(pid)
        # a check: four descriptors, as soon as it runs as the learner (before, its uid is root's)
        stop = time.monotonic() + 0.2
        result = "never the learner's"
        while time.monotonic() < stop:
            try:
                uid = int(open(f"/proc/{pid}/status").read().split("Uid:")[1].split()[0])
            except (OSError, IndexError, ValueError):
                result = "ended"
                break
            if uid != os.getuid():
                continue
            ok = libc.prlimit(pid, 7, ctypes.byref(RLimit(4, 4)), None) == 0
            result = "ok" if ok else os.strerror(ctypes.get_errno())
            break
        log(f"prlimit {pid} {result}")
    time.sleep(0.0005)
"""

# Passes only when no world-writable file is left in the learner's home: with RLIMIT_NOFILE 4 the
# command substitution cannot make its pipe, $found comes back empty and the check passed.
WORLD_WRITABLE_CHECK = """found=$(find /home/learner -xdev -type f -perm -0002 2>/dev/null)
[ -z "$found" ] || { echo "world-writable: $found"; exit 1; }
echo "no world-writable file"
"""


def check_rlimits(ctx: Context) -> str:
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    handle = ctx.a
    ctx.run(handle, "echo data > ~/shared.txt && chmod 666 ~/shared.txt")
    log_path = f"/tmp/limits-{secrets.token_hex(4)}.log"
    background(ctx, handle, PRLIMIT_ATTACKER, log_path)
    try:
        outcomes = [
            runner.run_check(ctx.backend, handle, Check("ww", 1, 10, "learner", WORLD_WRITABLE_CHECK)) for _ in range(3)
        ]
        time.sleep(0.05)
        log = ctx.run(handle, f"cat {log_path}").stdout
    finally:
        stop(ctx, handle, log_path)
        ctx.run(handle, "rm -f ~/shared.txt")
    tries = [line for line in log.splitlines() if line.startswith("prlimit") and "Operation" in line or " ok" in line]
    _expect(bool(tries), f"the attacker never saw a check: {log[-300:]}")
    _expect(not [line for line in tries if line.endswith(" ok")], f"a learner set a check's limits: {tries}")
    forged = [o for o in outcomes if o.passed or o.exit_code != 1]
    _expect(not forged, f"a check with limits the learner chose ended as {forged}")
    return f"prlimit(2) on the check's processes refused ({len(tries)} tries); the check failed as written 3 times"


BUDGET_ATTACKER = r"""
import os, signal, sys, time
out, fill = sys.argv[1], int(sys.argv[2])
def log(text):
    with open(out, "a") as handle:
        handle.write(text + "\n")
def parent(pid):
    return int(open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1])
# the sandbox's memory, nearly all of it, in its writable layer (charged to the sandbox, held by no process)
with open("/home/learner/.fill-1", "wb") as handle:
    for _ in range(fill):
        handle.write(b"x" * (1 << 20))
# and every process slot it has left
holders = []
while True:
    try:
        pid = os.fork()
    except OSError:
        break
    if pid == 0:
        os.execv("/bin/sleep", ["sleep", "3601"])
    holders.append(pid)
log(f"holding {len(holders)} processes and {fill} MiB")
log("ready")
# first the platform tries a check with no slot left; then a few slots back, for the second check
while not os.path.exists(out + ".go"):
    time.sleep(0.005)
for _ in range(3):
    os.kill(holders.pop(), signal.SIGKILL)
    os.wait()
seen = {int(e) for e in os.listdir("/proc") if e.isdigit()}
log("aiming")
end = time.monotonic() + 15
while time.monotonic() < end:
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in seen:
            continue
        pid = int(entry)
        try:
            command = open(f"/proc/{pid}/cmdline", "rb").read()
            if not command or b"--norc" in command:
                continue  # a check's shell, its child before it executes, or one in execve: look again
            seen.add(pid)
            if not command.startswith(b"sleep\0"):
                continue
            if b"--norc" not in open(f"/proc/{parent(pid)}/cmdline", "rb").read():
                continue
            # the check's child: first in line for the OOM killer (its owner may raise this)...
            with open(f"/proc/{pid}/oom_score_adj", "w") as handle:
                handle.write("1000")
            log(f"oom_score_adj {pid} ok")
        except (OSError, ValueError, IndexError) as error:
            log(f"oom_score_adj {pid} {error}")
            continue
        # ...then the rest of the memory, from a slot one holder gives back
        os.kill(holders.pop(), signal.SIGKILL)
        os.wait()
        writer = os.fork()
        if writer == 0:
            with open("/home/learner/.fill-2", "wb") as handle:
                while True:
                    handle.write(b"x" * (1 << 20))
                    handle.flush()
        os.waitpid(writer, 0)
        log("memory filled")
    time.sleep(0.0005)
"""

# Fails as written unless its sleep is killed (the OOM killer) or cannot start (no process slot).
RACED_CHILD_CHECK = """n=$(echo 1)
if sleep 0.8; then
  echo "the check failed as written"
  exit 3
fi
echo "FORGED: the check's child did not run to its end"
exit 0
"""


def check_own_budget(ctx: Context) -> str:
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    memory = 96
    with ctx.sandbox(memory_bytes=memory * MiB, pids=40, cpus=1.0) as handle:
        log_path = f"/tmp/budget-{secrets.token_hex(4)}.log"
        # leave the attacker room to run: a sandbox thrashing at its limit would slow it past the check
        background(ctx, handle, BUDGET_ATTACKER, log_path, str(memory - 40))
        try:
            started = runner.run_check(ctx.backend, handle, Check("s", 1, 10, "learner", "n=$(echo 1); echo ran"))
        except SandboxError as error:
            raise selftest.Escape(
                f"with every process slot of the sandbox taken, a check could not start: {error}"
            ) from None
        _expect(started.passed, f"with every process slot of the sandbox taken, a check ended as {started}")
        ctx.backend.exec(handle, f"touch {log_path}.go", check=True, timeout=5)
        deadline = time.monotonic() + 5
        while "aiming" not in ctx.backend.read_file(handle, log_path).stdout and time.monotonic() < deadline:
            time.sleep(0.01)
        outcome = runner.run_check(ctx.backend, handle, Check("c", 1, 10, "learner", RACED_CHILD_CHECK))
        time.sleep(0.1)
        log = ctx.backend.read_file(handle, log_path).stdout  # as a check: the sandbox has no process slot left
        kills = ctx.backend.usage(handle).oom_kills  # type: ignore[attr-defined]
    _expect("holding" in log and "oom_score_adj" in log, f"the attacker never reached the check: {log[-300:]}")
    _expect(
        not outcome.passed and outcome.exit_code == 3,
        f"with the sandbox's memory and processes used up and the OOM killer aimed at it, the check ended as "
        f"{outcome.exit_code}: {outcome.feedback[:200]}",
    )
    return (
        f"{log.splitlines()[0]}, the check's child first in line for the OOM killer ({kills} OOM kills in the "
        "sandbox): the check ran on its own budget and failed as written"
    )


# A learner with sudo: the shared sandbox's spawner from the inside, as root.
SPAWNER_PROBE = r"""
import ctypes, errno, os, subprocess
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long  # syscall arguments as full registers (a bare int leaves the upper half undefined)
libc.ptrace.restype = ctypes.c_long
libc.syscall.restype = ctypes.c_long
class RLimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
def name(code):
    return errno.errorcode.get(code, str(code))
def attempt(function):
    try:
        return function()
    except OSError as error:
        return name(error.errno)
pid = int(subprocess.run(["pgrep", "-o", "-x", "kafaat-spawner"], capture_output=True, text=True).stdout.split()[0])
out = {}
out["ptrace"] = "ok" if libc.ptrace(16, pid, None, None) == 0 else name(ctypes.get_errno())
out["fds"] = attempt(lambda: str(len(os.listdir(f"/proc/{pid}/fd"))))
out["mem"] = attempt(lambda: open(f"/proc/{pid}/mem", "rb").read(1) and "ok")
out["environ"] = attempt(lambda: "ok " + open(f"/proc/{pid}/environ", "rb").read()[:20].hex())
out["exe"] = attempt(lambda: "ok " + os.readlink(f"/proc/{pid}/exe"))
current = RLimit()
libc.prlimit(0, 7, None, ctypes.byref(current))
out["prlimit"] = "ok" if libc.prlimit(pid, 7, ctypes.byref(current), None) == 0 else name(ctypes.get_errno())
pidfd = libc.syscall(L(434), L(pid), L(0))
out["pidfd_getfd"] = "ok" if libc.syscall(L(438), L(pidfd), L(3), L(0)) >= 0 else name(ctypes.get_errno())
print(" ".join(f"{key}={value}" for key, value in out.items()))
"""


def spawner_with_sudo(ctx: Context) -> str:
    handle = ctx.sudo_sandbox()
    result = ctx.run(handle, 'sudo -n python3 -c "$1"', args=[SPAWNER_PROBE], timeout=10)
    seen = dict(item.split("=", 1) for item in result.stdout.split())
    _expect(len(seen) == 7, f"the probe did not run: {result.stdout} {result.stderr[-300:]}")
    through = {key: value for key, value in seen.items() if value.startswith("ok")}
    _expect(not through, f"the sandbox's root reached the spawner: {through}")
    return "as the sandbox's root: ptrace, descriptors, memory, environment, executable, prlimit, pidfd_getfd refused"


def stopped_spawner(ctx: Context) -> str:
    handle = ctx.sudo_sandbox()
    # from the background, once this exec has ended (a stopped spawner cannot report its end)
    ctx.run(handle, "(sleep 0.1; sudo -n pkill -STOP -x kafaat-spawner) >/dev/null 2>&1 &", timeout=5)
    time.sleep(0.3)
    started = time.monotonic()
    back = ctx.run(handle, "echo back", timeout=15)
    took = time.monotonic() - started
    _expect(back.stdout == "back\n", f"after the spawner was stopped, an exec ended as {back}")
    _expect(took < 3.0, f"a stopped spawner held the next request for {took:.1f} s")
    return f"a learner with sudo stopped the spawner (SIGSTOP); the next request had a new one in {took:.2f} s"
