"""Forged and read checks (issue 9, section 2): a learner program racing a check."""

from __future__ import annotations

import secrets
import time

from xblocks.labs.sandbox import selftest
from xblocks.labs.sandbox.base import SandboxHandle
from xblocks.labs.sandbox.selftest import Context, _expect

# ---------------------------------------------------------------------------------------------------
# Forged and read checks (issue 9, section 2)

# A learner program started before the check: it waits for the check's processes and tries every way
# in to them; each attempt writes one line (vector=ok means it got through).
VERDICT_ATTACKER = r"""
import ctypes, errno, fcntl, os, signal, socket, sys, time
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long  # syscall arguments as full registers (a bare int leaves the upper half undefined)
libc.ptrace.restype = ctypes.c_long
libc.ptrace.argtypes = [ctypes.c_long, ctypes.c_long, ctypes.c_void_p, ctypes.c_void_p]
libc.syscall.restype = ctypes.c_long
X86 = os.uname().machine == "x86_64"
out, seconds = sys.argv[1], float(sys.argv[2])
quick = len(sys.argv) > 3 and sys.argv[3] == "quick"  # only what can be tried before bash reads its script
def log(text):
    with open(out, "a") as handle:
        handle.write(text + "\n")
def name(code):
    return errno.errorcode.get(code, str(code))
def attempt(vector, function):
    try:
        log(f"{vector}={function()}")
    except OSError as error:
        log(f"{vector}={name(error.errno)}")
def drain(pid):
    got = []
    for fd in os.listdir(f"/proc/{pid}/fd"):
        handle = os.open(f"/proc/{pid}/fd/{fd}", os.O_RDONLY | os.O_NONBLOCK)
        try:
            got.append(os.read(handle, 65536))
        except BlockingIOError:
            pass
        os.close(handle)
    return "ok " + repr(b"".join(got))
def mem(pid):
    with open(f"/proc/{pid}/mem", "rb") as handle:
        handle.seek(0x400000)
        return "ok " + repr(handle.read(8))
def vm_read(pid):
    class iovec(ctypes.Structure):
        _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
    buffer = ctypes.create_string_buffer(8)
    local, remote = iovec(ctypes.addressof(buffer), 8), iovec(0x400000, 8)
    rc = libc.syscall(L(310 if X86 else 270), L(pid), ctypes.byref(local), L(1), ctypes.byref(remote), L(1), L(0))
    return "ok" if rc >= 0 else name(ctypes.get_errno())
def getfd(pid):
    pidfd = libc.syscall(L(434), L(pid), L(0))
    if pidfd < 0:
        return "pidfd_open " + name(ctypes.get_errno())
    rc = libc.syscall(L(438), L(pidfd), L(0), L(0))
    return "ok" if rc >= 0 else name(ctypes.get_errno())
def children(pid):
    found = []
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                if open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1] == str(pid):
                    found.append(int(entry))
            except (OSError, IndexError):
                pass
    return found
def running(pid):
    try:
        return open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False
def kill_children(pid):
    done = "nothing to kill"
    for child in children(pid):
        try:
            os.kill(child, signal.SIGKILL)
            return "ok"
        except OSError as error:
            done = name(error.errno)
    return done
class RLimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
def limit(pid):
    # once the check runs as our uid (which is all prlimit asks), set its limit to what it is: a
    # harmless write that shows whether any write would have gone through (RLIMIT_NOFILE 4 flips
    # a check such as [ -z "$(find ...)" ], see check_rlimits)
    end = time.monotonic() + 0.15  # the helper takes the check's uid within a millisecond of starting it
    while time.monotonic() < end:
        try:
            uid = int(open(f"/proc/{pid}/status").read().split("Uid:")[1].split()[0])
        except (OSError, IndexError, ValueError):
            return "target ended"
        if uid == os.getuid():
            break
    else:
        return "not our uid"
    current = RLimit()
    if libc.prlimit(pid, 7, None, ctypes.byref(current)) != 0:
        return "read " + name(ctypes.get_errno())
    rc = libc.prlimit(pid, 7, ctypes.byref(current), None)
    return "ok" if rc == 0 else name(ctypes.get_errno())
def sigio_children(pid):
    # SIGKILL by way of F_SETOWN: the kernel, not the learner, sends it when the socket has data
    targets = children(pid)
    if not targets:
        return "no child"
    keep = []
    for child in targets:
        a, b = socket.socketpair()
        fcntl.fcntl(a, fcntl.F_SETOWN, child)
        fcntl.fcntl(a, 10, signal.SIGKILL)  # F_SETSIG
        fcntl.fcntl(a, fcntl.F_SETFL, fcntl.fcntl(a, fcntl.F_GETFL) | os.O_ASYNC)
        b.send(b"x")
        keep.append((a, b))
    time.sleep(0.05)
    return "ok" if any(not running(child) for child in targets) else "refused"
def rewrite_exit(pid):
    if not X86:
        return "skipped (x86-64 registers)"
    class Regs(ctypes.Structure):
        _fields_ = [(n, ctypes.c_ulonglong) for n in (
            "r15 r14 r13 r12 rbp rbx r11 r10 r9 r8 rax rcx rdx rsi rdi orig_rax rip cs eflags rsp ss "
            "fs_base gs_base ds es fs gs").split()]
    if libc.ptrace(16, pid, None, None) != 0:
        return name(ctypes.get_errno())
    os.waitpid(pid, 0)
    regs = Regs()
    while libc.ptrace(24, pid, None, None) == 0:
        _, status = os.waitpid(pid, 0)
        if os.WIFEXITED(status) or os.WIFSIGNALED(status):
            return "target ended"
        libc.ptrace(12, pid, None, ctypes.byref(regs))
        if regs.orig_rax == 231:  # exit_group: make it exit 0
            regs.rdi = 0
            libc.ptrace(13, pid, None, ctypes.byref(regs))
            libc.ptrace(17, pid, None, None)
            return "ok"
    return name(ctypes.get_errno())
mine = {os.getpid(), os.getppid()}
before = {int(e) for e in os.listdir("/proc") if e.isdigit()}
log("ready")
seen = set()
end = time.monotonic() + seconds
while time.monotonic() < end:
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) in before or int(entry) in mine or int(entry) in seen:
            continue
        pid = int(entry)
        try:
            # a check: bash started from outside the sandbox's pid namespace (parent pid 0); what
            # the learner's spawner starts has the spawner as its parent
            if b"--norc" not in open(f"/proc/{pid}/cmdline", "rb").read():
                continue
            if open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[1] != "0":
                continue
        except (OSError, IndexError):
            continue
        seen.add(pid)
        log(f"target {pid}")
        attempt("drain", lambda: drain(pid))
        attempt("environ", lambda: "ok " + repr(open(f"/proc/{pid}/environ", "rb").read()[:40]))
        attempt("mem", lambda: mem(pid))
        attempt("process_vm_readv", lambda: vm_read(pid))
        attempt("pidfd_getfd", lambda: getfd(pid))
        attempt("signal", lambda: (os.kill(pid, 0), "ok")[1])
        attempt("prlimit", lambda: limit(pid))
        if quick:
            continue
        time.sleep(0.2)  # let the check start its child
        attempt("sigio", lambda: sigio_children(pid))
        attempt("kill_child", lambda: kill_children(pid))
        attempt("ptrace", lambda: rewrite_exit(pid))
    time.sleep(0.0005)
log("done")
"""

# The check it races: fails unless its `sleep` is killed or its exit status rewritten; the secret
# must never reach the attacker.
RACED_CHECK = """# {secret}
if sleep {seconds}; then
  echo "the check failed as it should"
  exit 3
fi
echo "FORGED: the check's child was killed"
exit 0
"""


def start_attacker(ctx: Context, handle: SandboxHandle, log_path: str, seconds: float, mode: str = "all") -> None:
    """Start VERDICT_ATTACKER in the background as the learner and wait until it is watching."""
    ctx.backend.exec(
        handle,
        f'nohup python3 -c "$1" {log_path} {seconds} {mode} >/dev/null 2>&1 &',
        args=[VERDICT_ATTACKER],
        timeout=5,
    )
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        if "ready" in ctx.run(handle, f"cat {log_path} 2>/dev/null").stdout:
            return
        time.sleep(0.02)
    raise selftest.Escape("the attacker program did not start")


def raced_check(ctx: Context, handle: SandboxHandle, *, user: str = "learner", seconds: float = 0.8) -> tuple:
    """One check run under attack: (outcome, attacker log, secret)."""
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    secret = "SECRET-" + secrets.token_hex(8)
    log_path = f"/tmp/attack-{secrets.token_hex(4)}.log"
    start_attacker(ctx, handle, log_path, seconds + 5)
    script = RACED_CHECK.format(secret=secret, seconds=seconds)
    check = Check(id="raced", points=1, timeout=10, user=user, script=script)
    outcome = runner.run_check(ctx.backend, handle, check)
    time.sleep(0.1)
    log = ctx.run(handle, f"cat {log_path}").stdout
    return outcome, log, secret


def verdict_channel(ctx: Context) -> str:
    outcome, log, secret = raced_check(ctx, ctx.a)
    through = [line for line in log.splitlines() if "=ok" in line]
    _expect("target" in log, f"the attacker never saw the check run: {log[-300:]}")
    _expect(not through, f"a learner process got into a check: {through}")
    _expect(secret not in log, "the learner read the check's script")
    _expect(not outcome.passed and outcome.exit_code == 3, f"the check's verdict was forged: {outcome}")
    return (
        "a learner process started before the check found it and was refused its descriptors, environment, "
        "memory, pidfd_getfd, signals (direct and through F_SETOWN), resource limits and ptrace; the check "
        "failed as written"
    )


LEFTOVER_CHECK = """(sleep 60 &) ; setsid sleep 61 & nohup sleep 62 >/dev/null 2>&1 &
python3 -c 'import os
if os.fork() == 0:
    os.setsid()
    if os.fork() == 0:
        os.execvp("sleep", ["sleep", "63"])'
echo started
"""


def check_leftovers(ctx: Context) -> str:
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    outcome = runner.run_check(ctx.backend, ctx.a, Check("leftovers", 1, 10, "learner", LEFTOVER_CHECK))
    _expect(outcome.passed, f"the check did not run: {outcome.feedback}")
    left = ctx.run(ctx.a, "pgrep -a -x sleep | grep -E 'sleep 6[0-3]' || true").stdout.strip()
    _expect(not left, f"processes a check started outlived it: {left}")
    return "daemons a check starts (setsid, nohup, double fork) are gone when it returns"


CHECK_TREE_PROBE = r"""
import ctypes, errno, os
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long  # syscall arguments as full registers (a bare int leaves the upper half undefined)
libc.ptrace.restype = ctypes.c_long
X86 = os.uname().machine == "x86_64"
parent = os.getppid()
out = []
rc = libc.ptrace(16, parent, None, None)
out.append("ptrace=" + ("ok" if rc == 0 else errno.errorcode[ctypes.get_errno()]))
rc = libc.syscall(L(310 if X86 else 270), L(parent), L(0), L(0), L(0), L(0), L(0))
out.append("process_vm_readv=" + ("ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]))
print(" ".join(out))
"""


def check_tree_ptrace(ctx: Context) -> str:
    result = ctx.backend.exec(ctx.a, 'python3 -c "$1"', args=[CHECK_TREE_PROBE], check=True, timeout=10)
    _expect(
        result.stdout.strip() == "ptrace=EPERM process_vm_readv=EPERM",
        f"a program a check runs reached the check: {result.stdout.strip()} {result.stderr[-200:]}",
    )
    return "a program a check runs (learner code, say) cannot ptrace or process_vm_* the check around it"
