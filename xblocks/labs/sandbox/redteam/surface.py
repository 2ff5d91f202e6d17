"""The kernel survey: one probe per facility a namespaced root could reach."""

from __future__ import annotations

import json
from dataclasses import dataclass

from xblocks.labs.sandbox import selftest
from xblocks.labs.sandbox.selftest import Context, _expect

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
