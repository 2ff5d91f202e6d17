"""The red-team corpus: every attack on the sandbox the project knows of, as data, run against real sandboxes.

Each entry states the attack, the containment expected and what a pass proves. ``make test`` runs
every entry (``tests/labs/sandbox/redteam/``); the worker's start-up self-test runs the ones marked
``selftest`` (in-sandbox and fast), so a lab host checks at start what CI checks, and refuses lab
work when a defence is missing on it (no helper, no Landlock, no seccomp filter, shared id ranges).
The abuse rows 1-18 come from ``selftest.py``; the rest are the trust-boundary attacks of issue 9
(host code execution, forged and read checks, per-user kernel limits) and a survey of what the
kernel offers a namespaced root (``KERNEL_SURFACE``, one probe per facility).
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from xblocks.labs.sandbox import selftest
from xblocks.labs.sandbox.base import MiB, SandboxError, SandboxHandle
from xblocks.labs.sandbox.selftest import Context, _expect


@dataclass(frozen=True)
class Attack:
    name: str
    ref: str  # where it comes from: an abuse row, the issue section, the kernel survey
    attack: str
    containment: str
    proves: str
    run: Callable[[Context], str]
    selftest: bool = True  # in-sandbox and fast: also run by the worker's start-up self-test


# ---------------------------------------------------------------------------------------------------
# Programs run inside sandboxes (python3 -c), as the learner or as a learner with sudo.

SURFACE_PROBE = r"""
import ctypes, errno, fcntl, json, os, resource, socket, struct, sys
libc = ctypes.CDLL(None, use_errno=True)
L = ctypes.c_long  # syscall arguments as full registers (a bare int leaves the upper half undefined)
libc.syscall.restype = ctypes.c_long
X86 = os.uname().machine == "x86_64"
NR = dict(
    mount=165 if X86 else 40, umount2=166 if X86 else 39, pivot_root=155 if X86 else 41, open_tree=428,
    move_mount=429, fsopen=430, fsmount=432, fspick=433, mount_setattr=442, unshare=272 if X86 else 97,
    clone3=435, keyctl=250 if X86 else 219, add_key=248 if X86 else 217, io_uring_setup=425,
    bpf=321 if X86 else 280, perf_event_open=298 if X86 else 241, userfaultfd=323 if X86 else 282,
    fanotify_init=300 if X86 else 262, kcmp=312 if X86 else 272, pidfd_getfd=438, pidfd_open=434,
    process_madvise=440, syslog=103 if X86 else 116, open_by_handle_at=304 if X86 else 265,
    acct=163 if X86 else 89, swapon=167 if X86 else 224, quotactl=179 if X86 else 60,
    init_module=175 if X86 else 105, kexec_load=246 if X86 else 104, personality=135 if X86 else 92,
    ioctl=16 if X86 else 29, mknodat=259 if X86 else 33,
)
def name(code):
    return errno.errorcode.get(code, str(code))
def sc(call, *args):
    rc = libc.syscall(NR[call], *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return "ok" if rc >= 0 else name(ctypes.get_errno())
def sock(family, kind=socket.SOCK_STREAM, proto=0):
    try:
        socket.socket(family, kind, proto).close()
        return "ok"
    except OSError as error:
        return name(error.errno)
def write(path, text="1"):
    try:
        with open(path, "w") as handle:
            handle.write(text)
        return "ok"
    except OSError as error:
        return name(error.errno)
def exists(path):
    return "present" if os.path.exists(path) else "absent"
def readable(path):
    try:
        with open(path, "rb") as handle:
            handle.read(1)
        return "ok"
    except OSError as error:
        return name(error.errno)
def sockopt(family, level, option, setting=False):
    s = socket.socket(family, socket.SOCK_RAW, socket.IPPROTO_RAW)
    try:
        if setting:
            s.setsockopt(level, option, bytes(128))
        else:
            s.getsockopt(level, option, 84)
        return "ok"
    except OSError as error:
        return name(error.errno)
    finally:
        s.close()
class RLimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
def prlimit(pid):
    # set another process's RLIMIT_NOFILE to what it is: allowed or not, nothing changes
    current = RLimit()
    libc.prlimit(pid, 7, None, ctypes.byref(current))
    rc = libc.prlimit(pid, 7, ctypes.byref(current), None)
    return "ok" if rc == 0 else name(ctypes.get_errno())
def lease():
    fd = os.open("/tmp/.kafaat-lease-probe", os.O_RDONLY | os.O_CREAT, 0o600)
    try:
        fcntl.fcntl(fd, 1024, fcntl.F_RDLCK)  # F_SETLEASE
        return "ok"
    except OSError as error:
        return name(error.errno)
    finally:
        os.close(fd)
master, slave = os.openpty()
def tty(request, argument):
    value = ctypes.c_int(argument)
    rc = libc.syscall(NR["ioctl"], slave, ctypes.c_ulong(request), ctypes.byref(value))
    return "ok" if rc >= 0 else name(ctypes.get_errno())
probes = json.loads(sys.argv[1])
out = {}
for label, expression in probes.items():
    try:
        out[label] = eval(expression)
    except Exception as error:
        out[label] = f"error: {error}"
print(json.dumps(out))
"""


@dataclass(frozen=True)
class Probe:
    """One facility a namespaced root could reach: an expression (in SURFACE_PROBE) and what it must give."""

    label: str
    expression: str
    expect: tuple[str, ...]
    why: str


DENIED = ("EPERM",)
REFUSED = ("EPERM", "EACCES", "EROFS", "ENOENT")
NO_FAMILY = ("EAFNOSUPPORT",)
NO_PROTOCOL = ("EPROTONOSUPPORT",)

KERNEL_SURFACE: tuple[Probe, ...] = (
    # the mount family: binfmt_misc and every other "run my program for someone else" hook needs a mount
    Probe(
        "mount binfmt_misc",
        "sc('mount', b'x', b'/proc/sys/fs/binfmt_misc', b'binfmt_misc', 0, 0)",
        DENIED,
        "binfmt_misc per user namespace (Linux 6.7) made the kernel run a learner's program in host namespaces",
    ),
    Probe("mount tmpfs", "sc('mount', b'x', b'/mnt', b'tmpfs', 0, 0)", DENIED, "no new mounts after setup"),
    Probe("mount proc", "sc('mount', b'x', b'/mnt', b'proc', 0, 0)", DENIED, "a fresh proc brings writable sysctls"),
    Probe("remount root", "sc('mount', 0, b'/', 0, 0x1020, 0)", DENIED, "no remount of / (suid, rw, flags)"),
    Probe("umount /proc", "sc('umount2', b'/proc', 2)", DENIED, "bwrap's read-only /proc/sys cover stays"),
    Probe("pivot_root", "sc('pivot_root', b'/', b'/')", DENIED, "the root stays the root"),
    Probe("fsopen", "sc('fsopen', b'tmpfs', 0)", DENIED, "the new mount API is closed too"),
    Probe("fsmount", "sc('fsmount', -1, 0, 0)", DENIED, "denied before the descriptor is looked at"),
    Probe("fspick", "sc('fspick', -100, b'/', 0)", DENIED, "no reconfiguring a mounted filesystem"),
    Probe("open_tree", "sc('open_tree', -100, b'/', 1)", DENIED, "no detached copies of mounts"),
    Probe("move_mount", "sc('move_mount', -1, b'', -100, b'/mnt', 4)", DENIED, "no moving mounts"),
    Probe("mount_setattr", "sc('mount_setattr', -100, b'/', 0, 0, 0)", DENIED, "no changing mount flags"),
    # nested namespaces
    *(
        Probe(f"unshare {flag}", f"sc('unshare', {value})", DENIED, "no nested namespace of any kind")
        for flag, value in (
            ("user", 0x10000000),
            ("mount", 0x20000),
            ("net", 0x40000000),
            ("pid", 0x20000000),
            ("ipc", 0x08000000),
            ("uts", 0x04000000),
            ("cgroup", 0x02000000),
            ("time", 0x80),
        )
    ),
    Probe("clone3", "sc('clone3', 0, 0)", ("ENOSYS",), "libc falls back to clone, whose flags the filter reads"),
    # netlink: routes and socket diagnostics for ip and ss, nothing else
    Probe("netlink route", "sock(16, socket.SOCK_RAW, 0)", ("ok",), "ip works"),
    Probe("netlink sock_diag", "sock(16, socket.SOCK_RAW, 4)", ("ok",), "ss works"),
    *(
        Probe(f"netlink {family}", f"sock(16, socket.SOCK_RAW, {value})", NO_PROTOCOL, why)
        for family, value, why in (
            ("netfilter", 12, "nf_tables from a user namespace is a classic escalation"),
            ("xfrm", 6, "IPsec state, rarely needed, a history of bugs"),
            ("audit", 9, "the host's audit subsystem"),
            ("generic", 16, "generic netlink families (wireguard, nl80211, taskstats...)"),
            ("uevent", 15, "kernel device events"),
            ("connector", 11, "process events of the whole host"),
            ("crypto", 21, "crypto configuration"),
            ("rdma", 20, "RDMA configuration"),
        )
    ),
    # socket families: unix, IPv4, IPv6 and netlink only (no module autoload by family)
    Probe("socket unix", "sock(1)", ("ok",), "unix sockets work"),
    Probe("socket inet tcp", "sock(2)", ("ok",), "TCP works"),
    Probe("socket inet6 udp", "sock(10, socket.SOCK_DGRAM)", ("ok",), "UDP over IPv6 works"),
    *(
        Probe(f"socket family {family}", f"sock({value}, socket.SOCK_DGRAM)", NO_FAMILY, "not needed by labs")
        for family, value in (
            ("packet", 17),
            ("alg", 38),
            ("vsock", 40),
            ("key", 15),
            ("bluetooth", 31),
            ("can", 29),
            ("tipc", 30),
            ("rds", 21),
            ("x25", 9),
            ("ax25", 3),
            ("appletalk", 5),
            ("llc", 26),
            ("pppox", 24),
            ("xdp", 44),
            ("qipcrtr", 42),
            ("mctp", 45),
            ("rxrpc", 33),
            ("kcm", 41),
            ("smc", 43),
            ("nfc", 39),
        )
    ),
    *(
        Probe(f"inet protocol {proto}", f"sock(2, socket.SOCK_STREAM, {value})", NO_PROTOCOL, "loads a module")
        for proto, value in (("sctp", 132), ("dccp", 33), ("l2tp", 115), ("mptcp", 262))
    ),
    *(
        Probe(
            f"x_tables {label}",
            f"sockopt({family}, {level}, {option}, {setting})",
            DENIED,
            "legacy netfilter tables from a user namespace (CVE-2021-22555)",
        )
        for label, family, level, option, setting in (
            ("ipt set replace", 2, 0, 64, True),
            ("ipt get info", 2, 0, 64, False),
            ("ip6t set replace", 10, 41, 64, True),
            ("arpt set replace", 2, 0, 96, True),
            ("ebt set entries", 2, 0, 128, True),
        )
    ),
    Probe("ip option unaffected", "sockopt(2, 0, 2)", ("ok",), "IP_TTL still works"),
    # kernel facilities no lab needs
    Probe("keyctl", "sc('keyctl', 0, -3, 0)", DENIED, "keyrings are not namespaced: a covert channel"),
    Probe("add_key", "sc('add_key', 0, 0, 0, 0, 0)", DENIED, "keyrings"),
    Probe("io_uring_setup", "sc('io_uring_setup', 1, 0)", DENIED, "io_uring: a large surface, bypasses seccomp"),
    Probe("bpf", "sc('bpf', 0, 0, 0)", DENIED, "eBPF"),
    Probe("perf_event_open", "sc('perf_event_open', 0, 0, -1, -1, 0)", DENIED, "perf events"),
    Probe("userfaultfd", "sc('userfaultfd', 0)", DENIED, "a race-widening tool for kernel exploits"),
    Probe("fanotify_init", "sc('fanotify_init', 0, 0)", DENIED, "permission events could hold up or feed reads"),
    Probe("kcmp", "sc('kcmp', 1, 1, 0, 0, 0)", DENIED, "compares other processes' kernel objects"),
    Probe("pidfd_getfd", "sc('pidfd_getfd', 0, 0, 0)", DENIED, "takes another process's descriptors"),
    Probe("process_madvise", "sc('process_madvise', 0, 0, 0, 0, 0)", DENIED, "acts on another process's memory"),
    Probe("syslog", "sc('syslog', 3, 0, 0)", DENIED, "the host's kernel log"),
    Probe("open_by_handle_at", "sc('open_by_handle_at', -100, 0, 0)", DENIED, "the shocker escape"),
    Probe("acct", "sc('acct', 0)", DENIED, "process accounting"),
    Probe("swapon", "sc('swapon', b'/x', 0)", DENIED, "swap"),
    Probe("quotactl", "sc('quotactl', 0, 0, 0, 0)", DENIED, "quotas"),
    Probe("init_module", "sc('init_module', 0, 0, 0)", DENIED, "modules"),
    Probe("kexec_load", "sc('kexec_load', 0, 0, 0, 0)", DENIED, "kexec"),
    Probe("personality read-implies-exec", "sc('personality', 0x0400000)", DENIED, "executable data pages"),
    Probe("personality no-randomize", "sc('personality', 0x0040000)", ("ok",), "gdb disables ASLR this way"),
    Probe("TIOCSETD", "tty(0x5423, 21)", DENIED, "line disciplines: module autoload, the n_gsm bugs"),
    Probe("TIOCSTI", "tty(0x5412, 120)", DENIED, "keystroke injection (CVE-2017-5226)"),
    Probe("TIOCLINUX", "tty(0x541C, 2)", DENIED, "console selection injection"),
    Probe(
        "prlimit another process",
        "prlimit(1)",
        DENIED,
        "a check runs as the learner's uid, all prlimit asks for: its limits would be the learner's to set",
    ),
    Probe("prlimit oneself", "prlimit(0)", ("ok",), "setrlimit, ulimit and prlimit COMMAND still work"),
    Probe(
        "file lease",
        "lease()",
        DENIED,
        "a lease holds another process's open of the learner's file until the learner, told, lets go",
    ),
    Probe("mknod block device", "sc('mknodat', -100, b'/tmp/sda', 0o60600, 2048)", DENIED, "no device nodes"),
    # /proc/sys and friends: bwrap mounts /proc/sys read-only and nothing can remount it
    *(
        Probe(f"write {path}", f"write({path!r})", REFUSED, why)
        for path, why in (
            ("/proc/sys/kernel/core_pattern", "a piped core_pattern runs a program as host root"),
            ("/proc/sys/kernel/modprobe", "the module loader's path"),
            ("/proc/sys/net/ipv4/ip_forward", "network sysctls"),
            ("/proc/sys/user/max_inotify_instances", "the sandbox's own per-user limits"),
            ("/proc/sys/fs/binfmt_misc/register", "binfmt_misc registration"),
            ("/proc/sys/vm/drop_caches", "host memory management"),
            ("/proc/sysrq-trigger", "the magic SysRq key"),
        )
    ),
    *(
        Probe(f"device {path}", f"exists({path!r})", ("absent",), "a minimal /dev")
        for path in ("/dev/kmsg", "/dev/mem", "/dev/kvm", "/dev/fuse", "/dev/net/tun", "/dev/loop-control")
    ),
    Probe(
        "core dump limit",
        "str(resource.getrlimit(resource.RLIMIT_CORE))",
        ("(0, 0)",),
        "no core file of a sandbox process lands anywhere; piped core_pattern helpers are not fed",
    ),
)


def kernel_surface(ctx: Context) -> str:
    """Run every KERNEL_SURFACE probe as a learner with sudo, as root in the sandbox."""
    handle = ctx.sudo_sandbox()
    probes = {probe.label: probe.expression for probe in KERNEL_SURFACE}
    result = ctx.run(handle, 'sudo -n python3 -c "$1" "$2"', args=[SURFACE_PROBE, json.dumps(probes)], timeout=20)
    try:
        seen = json.loads(result.stdout)
    except ValueError as error:
        raise selftest.Escape(f"the probe did not run: {result.stdout[-300:]} {result.stderr[-300:]}") from error
    wrong = [f"{p.label}={seen.get(p.label)}" for p in KERNEL_SURFACE if seen.get(p.label) not in p.expect]
    _expect(not wrong, "the seccomp filter or the mounts are not in effect: " + ", ".join(wrong))
    return f"{len(KERNEL_SURFACE)} facilities probed as the sandbox's root: each refused or allowed as intended"


def surface_results(ctx: Context) -> dict[str, str]:
    """The raw outcome of every probe (the test suite asserts them one by one)."""
    handle = ctx.sudo_sandbox()
    probes = {probe.label: probe.expression for probe in KERNEL_SURFACE}
    result = ctx.run(handle, 'sudo -n python3 -c "$1" "$2"', args=[SURFACE_PROBE, json.dumps(probes)], timeout=20)
    return json.loads(result.stdout)


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


# ---------------------------------------------------------------------------------------------------
# Outside checks: what the learner's files can be under /lab


OUTSIDE_FILES_SETUP = r"""
cd ~ && rm -f fifo sock sparse id-setuid
mkfifo fifo
nohup sh -c 'while :; do echo FED-BY-LEARNE''R > ~/fifo; done' >/dev/null 2>&1 &
nohup python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.expanduser("~/sock"))
s.listen()
while True:
    c, _ = s.accept()
    c.send(b"SERVED-BY-LEARNE" b"R")
    c.close()' >/dev/null 2>&1 &
truncate -s 1T sparse
sudo -n cp /usr/bin/id id-setuid && sudo -n chmod 4755 id-setuid
for i in $(seq 100); do [ -S sock ] && break; sleep 0.02; done
"""

OUTSIDE_FILES_CHECK = r"""
echo "fifo=$(timeout 0.3 cat /lab/home/learner/fifo 2>&1 | head -c 40; echo " rc=${PIPESTATUS[0]}")"
python3 -c '
import socket
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
try:
    s.connect("/lab/home/learner/sock")
    print("socket=" + s.recv(64).decode())
except OSError as error:
    print("socket=" + type(error).__name__)'
timeout 0.2 sha256sum /lab/home/learner/sparse >/dev/null 2>&1; echo "sparse=$?"
/lab/home/learner/id-setuid -u >/dev/null 2>&1; echo "setuid=$?"
"""


def outside_special_files(ctx: Context) -> str:
    handle = ctx.sudo_sandbox()
    ctx.run(handle, OUTSIDE_FILES_SETUP, timeout=10)
    try:
        result = ctx.backend.exec_outside(handle, OUTSIDE_FILES_CHECK, timeout=10)  # type: ignore[attr-defined]
    finally:
        ctx.run(handle, "pkill -f 'BY-LEARNE[R]'; rm -f ~/fifo ~/sock ~/sparse; sudo -n rm -f ~/id-setuid", timeout=5)
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    _expect("BY-LEARNER" not in result.stdout, f"a learner program answered the outside checker: {result.stdout}")
    _expect(seen.get("fifo", "").endswith("rc=124"), f"reading the learner's FIFO: {seen.get('fifo')}")
    _expect(seen.get("socket") == "ConnectionRefusedError", f"the learner's socket: {seen.get('socket')}")
    _expect(seen.get("sparse") == "124", f"a 1 TiB sparse file: {seen.get('sparse')}")
    _expect(seen.get("setuid") == "126", f"a setuid-root program under /lab: {seen.get('setuid')}")
    return (
        "under /lab a learner's FIFO has no writer and their socket no listener (an overlay of its own, not "
        "their live mount); a 1 TiB sparse file only times out; a setuid program does not run"
    )


# ---------------------------------------------------------------------------------------------------
# What /proc tells about the host, and the shared image


def proc_leaks(ctx: Context) -> str:
    result = ctx.run(
        ctx.a,
        'for f in cmdline kallsyms config.gz; do [ -e /proc/$f ] && echo "$f=$(wc -c < /proc/$f)"; done; '
        'echo "acpi=$(ls -A /proc/acpi 2>/dev/null | wc -l)"; '
        "echo \"nspid=$(awk '/^NSpid/ {print NF - 1}' /proc/self/status)\"",
    )
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    shown = {key: value for key, value in seen.items() if key != "nspid" and value.strip() != "0"}
    _expect(not shown, f"host detail readable in /proc: {shown}")
    _expect(seen.get("nspid") == "1", f"a process sees {seen.get('nspid')} levels of pids")
    check = ctx.backend.exec(ctx.a, "cat /proc/self/cgroup /proc/self/mountinfo", check=True, timeout=10)
    parent = str(ctx.backend.settings.SANDBOX_CGROUP_PARENT).strip("/")
    for leak in (parent + "/", str(getattr(ctx.backend, "root", "/var/lib/kafaat")), "/sys/fs/cgroup"):
        _expect(leak not in check.stdout, f"a check's /proc shows the host's {leak!r}")
    return "host boot parameters, kernel configuration and symbols masked; one pid level; a check's cgroup is relative"


IMAGE_FILES = ("usr/bin/tac", "usr/bin/nl", "usr/bin/expand", "usr/bin/unexpand", "usr/bin/fold")
IMAGE_WRITES = r"""
echo x >> /usr/bin/tac
ln /usr/bin/nl /root/nl-link && echo y >> /root/nl-link
python3 -c '
import mmap, os
fd = os.open("/usr/bin/expand", os.O_RDWR)
m = mmap.mmap(fd, 0)
m[0:4] = b"XXXX"
m.flush()'
chmod 4777 /usr/bin/unexpand; chown 1000:1000 /usr/bin/unexpand; touch -d 2001-01-01 /usr/bin/unexpand
setcap cap_sys_admin+ep /usr/bin/fold 2>/dev/null
python3 -c 'import os; os.setxattr("/usr/bin/fold", "trusted.overlay.redirect", b"/etc")' 2>/dev/null
true
"""


def _image_state(rootfs) -> list:
    import hashlib  # pylint: disable=import-outside-toplevel
    import os  # pylint: disable=import-outside-toplevel

    state = []
    for relative in IMAGE_FILES:
        path = rootfs / relative
        info = path.stat()
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        state.append((relative, digest, info.st_mode, info.st_uid, info.st_mtime_ns, sorted(os.listxattr(path))))
    return state


def image_integrity(ctx: Context) -> str:
    from xblocks.labs.sandbox import images  # pylint: disable=import-outside-toplevel

    handle = ctx.sudo_sandbox()
    rootfs = images.find_built(str(handle.data["image"]), str(handle.data["image_hash"])).rootfs
    before = _image_state(rootfs)
    ctx.run(handle, 'sudo -n sh -c "$1"', args=[IMAGE_WRITES], timeout=15)
    changed = ctx.run(handle, "sudo -n stat -c %s /usr/bin/tac; head -c 4 /usr/bin/expand").stdout
    after = _image_state(rootfs)
    _expect("XXXX" in changed, f"the learner's writes did not happen in their sandbox: {changed}")
    _expect(before == after, f"the shared image changed: {[a for a, b in zip(before, after, strict=True) if a != b]}")
    return "appends, a hard link, a shared mmap, chmod, chown, touch, setcap and overlay xattrs: the image is intact"


# ---------------------------------------------------------------------------------------------------
# Hangs, floods and learner configuration around inside checks


def inside_fifo_hang(ctx: Context) -> str:
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    ctx.run(ctx.a, "rm -f ~/answer.txt && mkfifo ~/answer.txt")
    try:
        outcome = runner.run_check(ctx.backend, ctx.a, Check("a", 1, 1, "learner", "grep -q 42 ~/answer.txt"))
    finally:
        ctx.run(ctx.a, "rm -f ~/answer.txt")
    _expect(outcome.timed_out and not outcome.passed, f"a check reading a FIFO ended as {outcome}")
    return f"a check reading a FIFO the learner planted timed out after {outcome.duration:.1f} s, as a failure"


def output_flood_verdict(ctx: Context) -> str:
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    ctx.run(ctx.a, "head -c 1000000 /dev/zero | tr '\\0' 'y' > ~/build.log")
    script = 'cat ~/build.log; echo "FAIL: the service is not configured"; exit 1'
    try:
        outcome = runner.run_check(ctx.backend, ctx.a, Check("o", 1, 10, "learner", script))
    finally:
        ctx.run(ctx.a, "rm -f ~/build.log")
    _expect(not outcome.passed and outcome.exit_code == 1, f"a flooded check ended as {outcome.exit_code}")
    _expect(outcome.truncated, "the flood was not flagged as truncated")
    return "1 MB of learner output before the check's FAIL line: output cut and flagged, the verdict is the exit status"


LEARNER_CONFIG = r"""
for f in .bashrc .profile .bash_profile .bash_login .bash_logout .inputrc; do echo 'exit 0' > ~/$f; done
site=$(python3 -c 'import site; print(site.getusersitepackages())')
mkdir -p "$site" && echo 'import os; os._exit(0)' > "$site/kafaat-redteam.pth"
printf 'import os\nos._exit(0)\n' > ~/json.py
mkdir -p ~/repo && cd ~/repo && git init -q && echo a > a && git add a
git config --global core.fsmonitor 'echo ran > /tmp/fsmonitor-ran; false'
"""


def learner_config_in_checks(ctx: Context) -> str:
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import Check  # pylint: disable=import-outside-toplevel

    def check(script: str, user: str = "learner") -> int | None:
        return runner.run_check(ctx.backend, ctx.a, Check("c", 1, 10, user, script)).exit_code

    ctx.run(ctx.a, LEARNER_CONFIG)
    try:
        shell = check("exit 3")
        plain = check("python3 -c 'import json; exit(7)'")
        as_root = check("cd /home/learner && python3 -c 'import json; exit(7)'", user="root")
        isolated = check("python3 -I -c 'import json; exit(7)'")
        git_plain = check("rm -f /tmp/fsmonitor-ran; cd ~/repo && git status -s >/dev/null; [ -e /tmp/fsmonitor-ran ]")
        git_safe = check(
            "rm -f /tmp/fsmonitor-ran; cd ~/repo && git -c core.fsmonitor=false status -s >/dev/null; "
            "[ ! -e /tmp/fsmonitor-ran ]"
        )
    finally:
        ctx.run(
            ctx.a,
            "rm -rf ~/.local ~/json.py ~/repo ~/.gitconfig ~/.bashrc ~/.profile ~/.bash_profile "
            "~/.bash_login ~/.bash_logout ~/.inputrc /tmp/fsmonitor-ran",
        )
    _expect(shell == 3, f"a check read the learner's shell start-up files: exit {shell}")
    _expect(isolated == 7, f"python3 -I in a check ran the learner's files: exit {isolated}")
    _expect(git_safe == 0, "git -c core.fsmonitor=false in a check ran the learner's fsmonitor command")
    ran = [name for name, code in (("python3", plain), ("root python3 in their folder", as_root)) if code == 0]
    ran += ["git status"] if git_plain == 0 else []
    return (
        "the learner's ~/.bashrc, ~/.profile and the like are not read by checks; "
        f"{', '.join(ran) or 'nothing'} ran learner code (the documented limit: the learner's environment); "
        "python3 -I and git -c core.fsmonitor=false did not"
    )


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


# ---------------------------------------------------------------------------------------------------
# Host code execution (issue 9, section 1): the in-sandbox half (the test suite also registers a
# handler behind the filter's back and shows it never runs on the host)


def binfmt_mount(ctx: Context) -> str:
    handle = ctx.sudo_sandbox()
    result = ctx.run(
        handle,
        "sudo -n mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>&1; echo rc=$?; "
        "echo ':k:M::\\x7fELF::/bin/true:F' | sudo -n tee /proc/sys/fs/binfmt_misc/register 2>&1; echo rc=$?",
    )
    _expect(result.stdout.count("rc=0") == 0, f"a sandbox's root mounted or registered binfmt_misc: {result.stdout}")
    return "a learner with sudo can neither mount binfmt_misc nor register a handler"


def spawner_out_of_reach(ctx: Context) -> str:
    result = ctx.run(
        ctx.a,
        'for p in /proc/[0-9]*; do ls $p/fd >/dev/null 2>&1 && [ "$(stat -c %u $p)" = 0 ] && echo reach $p; done; '
        "find / -xdev -name 'spawner.sock' 2>/dev/null; true",
    )
    _expect(not result.stdout.strip(), f"the learner reaches a root process or the spawner's socket: {result.stdout}")
    return "the learner reaches no root process's descriptors and cannot find the spawner's socket"


# ---------------------------------------------------------------------------------------------------


def _row(name: str) -> Callable[[Context], str]:
    return next(function for case, _row, function in selftest.CASES if case == name)


ROWS = {
    "fork_bomb": ("Fork bomb under a 64-process limit", "EAGAIN at pids.max; neighbour answers"),
    "memory_hog": ("Allocate 160 MiB under 64 MiB", "only the hog is OOM-killed"),
    "cpu_quota": ("Busy loops, a check over its CPU time", "throttled; reported as cpu_exceeded"),
    "wall_timeout": ("sleep 30 under a 0.3 s limit", "killed, recorded as a timeout"),
    "daemons": ("setsid, nohup and double-forked daemons", "none survives destroy"),
    "big_file": ("64 MiB into a 16 MiB layer", "ENOSPC; host disk untouched"),
    "many_files": ("5000 files under a 2000-inode cap", "ENOSPC"),
    "egress": ("Metadata, private ranges, host ports, the internet", "nothing reachable"),
    "other_homes": ("Read a neighbour's home through host paths and /proc", "ENOENT/EACCES"),
    "host_secrets": ("Search for host secrets, settings, SECRET_KEY, resolvers", "none inside"),
    "link_tricks": ("Links planted where the engine writes and reads", "host files unchanged"),
    "proc_view": ("Read /proc for host paths and other processes", "only the sandbox's own"),
    "setuid_binaries": ("setuid-root and cap_net_raw binaries", "no privilege gained"),
    "ptrace_neighbour": ("strace the worker, a neighbour, the init", "refused"),
    "tiocsti": ("TIOCSTI plain and with high bits", "EPERM"),
    "covert_channels": ("keyrings, io_uring, vsock, image-file locks", "refused or not shared"),
    "nested_userns": ("unshare -Ur as learner and root", "refused"),
    "output_flood": ("20 MB of output", "capped at 64 KiB, flagged"),
}

CORPUS: tuple[Attack, ...] = (
    *(
        Attack(name, f"abuse row {row}", ROWS[name][0], ROWS[name][1], "the abuse row's defence holds", _row(name))
        for name, row, _function in selftest.CASES
    ),
    Attack(
        "binfmt_mount",
        "issue 9 §1",
        "A learner with sudo mounts binfmt_misc and registers a handler matching every program",
        "mount and registration refused (the whole mount family is denied after setup)",
        "the hook that ran a learner's program in the host's namespaces cannot be set from a sandbox",
        binfmt_mount,
    ),
    Attack(
        "kernel_surface",
        "issue 9 §5",
        "As the sandbox's root, reach each kernel facility a namespaced root may: mounts, nested "
        "namespaces, netlink families, socket families, keyrings, io_uring, bpf, fanotify, kcmp, "
        "pidfd_getfd, personality, line disciplines, /proc/sys, devices, core dumps",
        "each refused (or, for what labs need: routes, ss, unix/IP sockets, gdb's personality, allowed)",
        "the seccomp filter and the read-only /proc/sys are in effect on this host",
        kernel_surface,
    ),
    Attack(
        "verdict_channel",
        "issue 9 §2",
        "A learner process started before a check waits for it, then drains its descriptors, reads its "
        "environment and memory, takes its descriptors, signals it, sets its resource limits (prlimit), has "
        "the kernel send its child SIGKILL (F_SETOWN and F_SETSIG on a socket), kills its child and ptraces "
        "it to rewrite its exit status",
        "every attempt refused (Landlock: the learner's domain cannot reach the check, signal scoping covers "
        "SIGIO; the filter refuses prlimit on another process); the check fails as written and its script "
        "never reaches the learner",
        "the checker's identity holds: learner processes cannot read or forge a check",
        verdict_channel,
    ),
    Attack(
        "check_tree_ptrace",
        "issue 9 §2",
        "A program a check runs (as a check may run learner code) ptraces the check or reads it with process_vm_readv",
        "EPERM from the check's seccomp filter",
        "the check's own tree cannot trace the check",
        check_tree_ptrace,
    ),
    Attack(
        "check_leftovers",
        "issue 9 §2",
        "A check starts daemons (setsid, nohup, double fork), as learner code a check runs could, to "
        "wait outside the learner's domain for a later check",
        "every process of the check is killed with its cgroup when it returns",
        "nothing outside the learner's domain outlives the check that started it",
        check_leftovers,
    ),
    Attack(
        "spawner_out_of_reach",
        "issue 9 §2",
        "The learner looks for the spawner's socket and any root process's descriptors",
        "nothing found",
        "the channel that starts learner-side processes is the host's alone",
        spawner_out_of_reach,
    ),
    Attack(
        "id_ranges",
        "issue 9 §3",
        "Two learners' sandboxes side by side",
        "each maps to its own host id range and its user namespace is owned by that range, not root",
        "per-user kernel accounting is per sandbox on this host",
        id_ranges,
    ),
    Attack(
        "inotify_per_sandbox",
        "issue 9 §3",
        "A learner opens inotify instances until refused",
        "the neighbour's tail -f and inotify, and host root's, still work",
        "inotify instances are charged to the sandbox's own range",
        inotify_per_sandbox,
    ),
    Attack(
        "check_rlimits",
        "red team",
        "A learner process started before a check sets the check's RLIMIT_NOFILE to 4 with prlimit(2) as soon as "
        "it runs as the learner (same uid, all prlimit asks; Landlock does not cover it): the command "
        'substitution in [ -z "$(find ...)" ] gets no pipe and the check passed 2 times in 10 before',
        "prlimit64 on another process with a new limit is refused by the seccomp filter (reading and one's own "
        "limits stay allowed); the check fails as written",
        "a learner cannot choose the resource limits a check runs with",
        check_rlimits,
    ),
    Attack(
        "check_own_budget",
        "red team",
        "In a 96 MiB, 40-process sandbox the learner fills the writable layer to 56 MiB, holds every process slot "
        "left, raises the oom_score_adj of the check's child to 1000 (theirs to raise: same uid) and fills the "
        "rest of the memory: before, the OOM killer took the check's child and a check that fails unless its "
        "child is killed passed; with no slot left the check could not even start",
        "a check runs in a cgroup beside the sandbox's, with the lab's limits as a budget of its own: the OOM "
        "kill happens in the sandbox, the check's child runs to its end, the check fails as written",
        "nothing the learner does to the sandbox's memory, processes or CPU decides which of a check's commands fail",
        check_own_budget,
    ),
    Attack(
        "spawner_with_sudo",
        "red team",
        "As the sandbox's root (a learner with sudo), reach the spawner: ptrace it, list its descriptors, read its "
        "memory, environment and executable, set its limits, take a descriptor with pidfd_getfd",
        "each refused: the spawner is not dumpable (its /proc entries are host root's), prlimit and pidfd_getfd "
        "are filtered",
        "the channel that starts learner-side processes cannot be taken over from inside, even by the sandbox's root",
        spawner_with_sudo,
    ),
    Attack(
        "stopped_spawner",
        "red team",
        "A learner with sudo stops the spawner with SIGSTOP: every later terminal, exec and file placement waited "
        "the full 10 s and failed, holding a gateway thread each time (six of them stop every terminal of the host)",
        "while the spawner does not answer, the host looks at it every 0.2 s; a stopped one (told apart by its "
        "executable, the helper, which nothing in a sandbox can be) is killed and replaced",
        "a learner can stop only their own spawner, and only for a moment",
        stopped_spawner,
        selftest=False,
    ),
    Attack(
        "outside_special_files",
        "red team",
        "A learner with sudo leaves a FIFO fed by a loop, a unix socket with a server, a 1 TiB sparse file and a "
        "setuid-root program in their home, then an outside check reads, connects to, hashes and runs them: "
        "before, /lab was a bind of the learner's live mount and the checker read the learner program's "
        "answers from both the FIFO and the socket",
        "/lab is an overlay of its own over the learner's writable layer: its FIFO has no writer (the read times "
        "out), its socket no listener (refused); the sparse file only times out; nosuid and noexec hold",
        "what an outside check reads under /lab is the learner's files, never a learner program's answer",
        outside_special_files,
    ),
    Attack(
        "proc_leaks",
        "red team",
        "Read what /proc tells about the host: its kernel command line (paths and ports of the machine's own "
        "agents here), kernel configuration and symbols, ACPI tables, pid levels; and a check's cgroup and mounts",
        "masked (empty) or relative: nothing names a host path, the host's cgroup tree or a host pid",
        "a sandbox learns nothing of the host beyond the kernel version and shared counters (load, memory, PSI)",
        proc_leaks,
    ),
    Attack(
        "image_integrity",
        "red team",
        "As the sandbox's root, write to the shared image through the overlay: append to a program, write "
        "through a hard link and a shared mmap, chmod, chown and touch, setcap, set overlay xattrs",
        "every change lands in the sandbox's own writable layer (copy-up); the image's files on the host keep "
        "their content, mode, owner, times and xattrs",
        "one learner cannot change the image every other sandbox is made from",
        image_integrity,
    ),
    Attack(
        "inside_fifo_hang",
        "red team",
        "The learner replaces a file an inside check reads with a FIFO, so the check hangs",
        "the wall timeout ends it; a timed-out check never passes and counts as an attempt",
        "making a check hang cannot turn it into a pass",
        inside_fifo_hang,
        selftest=False,
    ),
    Attack(
        "output_flood_verdict",
        "red team",
        "A check prints a 1 MB learner file before its FAIL line, to push the FAIL out of the captured output",
        "the output is cut at the cap and flagged; the verdict is the exit status, which output cannot change",
        "flooding a check's output changes its feedback, never its verdict",
        output_flood_verdict,
        selftest=False,
    ),
    Attack(
        "learner_config_in_checks",
        "red team",
        "A learner writes 'exit 0' into ~/.bashrc, ~/.profile and kin, plants a .pth file in their user "
        "site-packages and a json.py in their home, and a git core.fsmonitor command in ~/.gitconfig; then "
        "checks run bash, python3 (as the learner, and as root from the learner's folder) and git status",
        "the shell reads none of the start-up files (--noprofile --norc, no BASH_ENV: the environment is the "
        "platform's); python3 and git run the learner's code, the documented limit of a check that runs, as "
        "the learner, a program the learner configures; python3 -I and git -c core.fsmonitor=false do not",
        "what a check runs by itself is the platform's, and the authoring guide's ways out hold",
        learner_config_in_checks,
        selftest=False,
    ),
    Attack(
        "pipes_per_sandbox",
        "issue 9 §3",
        "A learner holds 1,200 pipes (past pipe-user-pages-soft)",
        "a neighbour's new pipe still gets 64 KiB",
        "pipe buffers are charged to the sandbox's own host uid",
        pipes_per_sandbox,
    ),
)


def by_name(name: str) -> Attack:
    return next(attack for attack in CORPUS if attack.name == name)


__all__ = ["Attack", "CORPUS", "KERNEL_SURFACE", "Probe", "by_name"]
