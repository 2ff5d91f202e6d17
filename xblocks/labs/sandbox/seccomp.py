"""The sandbox's seccomp filters: a deny list assembled as classic BPF, no libseccomp needed.

Namespaces stop most abuse; these syscalls are what they leave open to a namespaced root or learner
(see docs/sandbox.md, "What the kernel offers a sandbox's root"):

- nested namespaces of every kind (a large kernel attack surface; netns creation is also
  serialised host-wide) and ``clone3``, which answers ENOSYS because its flags sit in memory a
  filter cannot read, so libc falls back to ``clone``, whose flags the filter checks;
- the whole mount family (``mount``, ``umount2``, ``pivot_root``, ``fsopen``, ``fsconfig``,
  ``fsmount``, ``fspick``, ``move_mount``, ``open_tree``, ``open_tree_attr``, ``mount_setattr``):
  after the platform's own setup nothing in a sandbox mounts anything, so a sandbox's root can
  mount no binfmt_misc (the hook that made the kernel run a learner's program in the host's
  namespaces), no fresh /proc with writable sysctls, no filesystem whose driver is rarely used;
- terminal injection (``TIOCSTI``, ``TIOCLINUX``, compared on the low 32 bits only, as the kernel
  does, so high bits cannot slip past: CVE-2019-10063) and line-discipline changes (``TIOCSETD``:
  module autoload and the n_gsm class of bugs);
- sockets other than unix, IPv4, IPv6 and netlink; IP protocols other than TCP, UDP, ICMP and
  raw; netlink other than ``NETLINK_ROUTE`` and ``NETLINK_SOCK_DIAG`` (``ip`` and ``ss``): no
  nf_tables from a user namespace (the classic escalation), no xfrm, audit, generic netlink
  families, vsock, packet sockets, AF_ALG, SCTP, and no family or protocol that would make the
  kernel load a module;
- the legacy netfilter tables' socket options (``IPT_SO_SET_REPLACE`` and kin: x_tables from a
  user namespace, CVE-2021-22555), as nf_tables through netlink above;
- ``prlimit64`` on another process's limits (reading them, and setting one's own, stay allowed): a
  check that runs as the learner shares the learner's uid, which is all ``prlimit`` asks for, so a
  learner could have given the check no file descriptors or processes and flipped a verdict such as
  ``[ -z "$(find ...)" ]`` (Landlock does not cover resource limits);
- file leases (``fcntl(F_SETLEASE)``): like fanotify's permission events, a lease holds another
  process's ``open`` of the learner's file until the learner lets go, after telling them with a
  signal, so they could rewrite the file at the moment a check opened it;
- keyrings, io_uring, bpf, perf events, userfaultfd, fanotify (permission and pre-content events
  would let a learner hold up or feed another process's reads), ``kcmp``, ``pidfd_getfd``,
  ``process_madvise``, ``syslog``, ``personality`` values beyond the harmless ones (gdb's
  ``ADDR_NO_RANDOMIZE`` stays), module loading, ``kexec``, ``open_by_handle_at``, ``acct``,
  swap and ``quotactl``; other ABIs (i386 through ``int 0x80``, x32) are refused outright.

Two variants. ``sandbox`` is loaded by bwrap for the init and by the helper for the spawner, so
every learner-side process inherits it. ``check`` adds ``ptrace``, ``process_vm_readv`` and
``process_vm_writev`` for a check's own process tree: a check that runs learner-written code still
cannot trace or rewrite the check around it.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import os
import struct

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
OFFSET_NR, OFFSET_ARCH = 0, 4


def _arg(index: int) -> int:
    return 16 + 8 * index  # the low 32 bits on little-endian machines


def _arg_high(index: int) -> int:
    return 16 + 8 * index + 4  # the high 32 bits (a pointer is null only when both halves are)


BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000

CLONE_NEWUSER = 0x10000000
# every namespace flag: user, mount, cgroup, uts, ipc, pid, net (CLONE_NEWTIME, 0x80, only for unshare:
# in clone's flags the low byte is the exit signal)
CLONE_NEW_ANY = 0x10000000 | 0x00020000 | 0x02000000 | 0x04000000 | 0x08000000 | 0x20000000 | 0x40000000
CLONE_NEWTIME = 0x00000080
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
TIOCSETD = 0x5423
AF_UNIX, AF_INET, AF_INET6, AF_NETLINK, AF_VSOCK = 1, 2, 10, 16, 40
# IP protocols: the default (0), ICMP, TCP, UDP, ICMPv6 and raw; SCTP, DCCP, L2TP, MPTCP and the
# like load modules or widen the surface and no lab needs them.
ALLOWED_INET_PROTOCOLS = (0, 1, 6, 17, 58, 255)
NETLINK_ROUTE, NETLINK_SOCK_DIAG = 0, 4
ALLOWED_NETLINK = (NETLINK_ROUTE, NETLINK_SOCK_DIAG)
# personality(2) values allowed (as Docker's default profile, plus ADDR_NO_RANDOMIZE for debuggers);
# 0xffffffff only queries.
ALLOWED_PERSONALITIES = (0x0, 0x8, 0x20000, 0x20008, 0x40000, 0x40008, 0xFFFFFFFF)
X32_SYSCALL_BIT = 0x40000000
# The legacy netfilter tables' socket options (ip/ip6tables 64-67, arptables 96-99, ebtables 128-131
# at levels SOL_IP and SOL_IPV6): x_tables from a user namespace is CVE-2021-22555's road.
SOL_IP, SOL_IPV6 = 0, 41
XTABLES_OPTIONS = (64, 65, 66, 67, 96, 97, 98, 99, 128, 129, 130, 131)
F_SETLEASE = 1024

# Syscall numbers by name, per architecture (x86-64 from asm/unistd_64.h, arm64 from asm-generic).
NUMBERS = {
    "x86_64": {
        "keyctl": 250,
        "add_key": 248,
        "request_key": 249,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "bpf": 321,
        "perf_event_open": 298,
        "userfaultfd": 323,
        "kexec_load": 246,
        "kexec_file_load": 320,
        "init_module": 175,
        "finit_module": 313,
        "delete_module": 176,
        "open_by_handle_at": 304,
        "acct": 163,
        "swapon": 167,
        "swapoff": 168,
        "quotactl": 179,
        "mount": 165,
        "umount2": 166,
        "pivot_root": 155,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "open_tree_attr": 467,
        "pidfd_getfd": 438,
        "kcmp": 312,
        "fanotify_init": 300,
        "fanotify_mark": 301,
        "process_madvise": 440,
        "syslog": 103,
        "ptrace": 101,
        "process_vm_readv": 310,
        "process_vm_writev": 311,
        "setsockopt": 54,
        "getsockopt": 55,
        "ioctl": 16,
        "socket": 41,
        "clone": 56,
        "unshare": 272,
        "clone3": 435,
        "personality": 135,
        "prlimit64": 302,
        "fcntl": 72,
    },
    "aarch64": {
        "keyctl": 219,
        "add_key": 217,
        "request_key": 218,
        "io_uring_setup": 425,
        "io_uring_enter": 426,
        "io_uring_register": 427,
        "bpf": 280,
        "perf_event_open": 241,
        "userfaultfd": 282,
        "kexec_load": 104,
        "kexec_file_load": 294,
        "init_module": 105,
        "finit_module": 273,
        "delete_module": 106,
        "open_by_handle_at": 265,
        "acct": 89,
        "swapon": 224,
        "swapoff": 225,
        "quotactl": 60,
        "mount": 40,
        "umount2": 39,
        "pivot_root": 41,
        "open_tree": 428,
        "move_mount": 429,
        "fsopen": 430,
        "fsconfig": 431,
        "fsmount": 432,
        "fspick": 433,
        "mount_setattr": 442,
        "open_tree_attr": 467,
        "pidfd_getfd": 438,
        "kcmp": 272,
        "fanotify_init": 262,
        "fanotify_mark": 263,
        "process_madvise": 440,
        "syslog": 116,
        "ptrace": 117,
        "process_vm_readv": 270,
        "process_vm_writev": 271,
        "setsockopt": 208,
        "getsockopt": 209,
        "ioctl": 29,
        "socket": 198,
        "clone": 220,
        "unshare": 97,
        "clone3": 435,
        "personality": 92,
        "prlimit64": 261,
        "fcntl": 25,
    },
}
AUDIT_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
MOUNT_FAMILY = (
    "mount",
    "umount2",
    "pivot_root",
    "open_tree",
    "move_mount",
    "fsopen",
    "fsconfig",
    "fsmount",
    "fspick",
    "mount_setattr",
    "open_tree_attr",
)
DENIED = (
    "keyctl",
    "add_key",
    "request_key",
    "io_uring_setup",
    "io_uring_enter",
    "io_uring_register",
    "bpf",
    "perf_event_open",
    "userfaultfd",
    "kexec_load",
    "kexec_file_load",
    "init_module",
    "finit_module",
    "delete_module",
    "open_by_handle_at",
    "acct",
    "swapon",
    "swapoff",
    "quotactl",
    "pidfd_getfd",
    "kcmp",
    "fanotify_init",
    "fanotify_mark",
    "process_madvise",
    "syslog",
    *MOUNT_FAMILY,
)
CHECK_DENIED = ("ptrace", "process_vm_readv", "process_vm_writev")
VARIANTS = ("sandbox", "check")


class _Assembler:
    def __init__(self) -> None:
        self.code: list[tuple[int, object, object, int]] = []

    def load(self, offset: int) -> None:
        self.code.append((BPF_LD_W_ABS, 0, 0, offset))

    def jump(self, op: int, value: int, if_true: str | int, if_false: str | int = 0) -> None:
        self.code.append((op, if_true, if_false, value))

    def label(self, name: str) -> None:
        self.code.append(("label", name, 0, 0))  # type: ignore[arg-type]

    def ret(self, value: int) -> None:
        self.code.append((BPF_RET_K, 0, 0, value))

    @staticmethod
    def _offset(labels: dict[str, int], index: int, target: object) -> int:
        if isinstance(target, int):
            return target
        distance = labels[target] - index - 1  # type: ignore[index]
        if not 0 <= distance <= 255:
            raise ValueError("seccomp jump out of range")
        return distance

    def program(self) -> bytes:
        labels: dict[str, int] = {}
        real: list[tuple[int, object, object, int]] = []
        for op, a, b, k in self.code:
            if op == "label":
                labels[a] = len(real)  # type: ignore[index]
            else:
                real.append((op, a, b, k))
        out = b""
        for index, (op, a, b, k) in enumerate(real):
            out += struct.pack("<HBBI", op, self._offset(labels, index, a), self._offset(labels, index, b), k)
        return out


@functools.lru_cache(maxsize=4)
def program(variant: str = "sandbox") -> bytes:
    """The filter for this machine's architecture, as ``struct sock_filter[]`` bytes."""
    machine = os.uname().machine  # what platform.machine() returns, without importing platform
    if machine not in NUMBERS:
        raise OSError(f"no seccomp filter for architecture {machine}")
    if variant not in VARIANTS:
        raise ValueError(f"unknown seccomp variant {variant!r}")
    nr = NUMBERS[machine]
    denied = [*DENIED, *(CHECK_DENIED if variant == "check" else ())]
    asm = _Assembler()
    asm.load(OFFSET_ARCH)
    asm.jump(BPF_JEQ_K, AUDIT_ARCH[machine], 1, 0)
    asm.ret(RET_ERRNO | errno.EPERM)  # other ABIs (i386 through int 0x80) are refused outright
    asm.load(OFFSET_NR)
    if machine == "x86_64":
        asm.jump(BPF_JGE_K, X32_SYSCALL_BIT, "eperm")
    for name in denied:
        asm.jump(BPF_JEQ_K, nr[name], "eperm")
    asm.jump(BPF_JEQ_K, nr["clone3"], "enosys")
    asm.jump(BPF_JEQ_K, nr["ioctl"], "ioctl")
    asm.jump(BPF_JEQ_K, nr["unshare"], "unshare")
    asm.jump(BPF_JEQ_K, nr["clone"], "clone")
    asm.jump(BPF_JEQ_K, nr["socket"], "socket")
    asm.jump(BPF_JEQ_K, nr["personality"], "personality")
    asm.jump(BPF_JEQ_K, nr["setsockopt"], "sockopt")
    asm.jump(BPF_JEQ_K, nr["getsockopt"], "sockopt")
    asm.jump(BPF_JEQ_K, nr["prlimit64"], "prlimit")
    asm.jump(BPF_JEQ_K, nr["fcntl"], "fcntl")
    asm.ret(RET_ALLOW)
    # prlimit64(pid, resource, new, old): pid 0 (oneself, what setrlimit uses) or no new limit
    asm.label("prlimit")
    asm.load(_arg(0))
    asm.jump(BPF_JEQ_K, 0, "allow")
    asm.load(_arg(2))
    asm.jump(BPF_JEQ_K, 0, 0, "eperm")
    asm.load(_arg_high(2))
    asm.jump(BPF_JEQ_K, 0, "allow", "eperm")
    asm.label("fcntl")
    asm.load(_arg(1))
    asm.jump(BPF_JEQ_K, F_SETLEASE, "eperm")
    asm.ret(RET_ALLOW)
    asm.label("sockopt")
    asm.load(_arg(1))
    asm.jump(BPF_JEQ_K, SOL_IP, "sockopt_name")
    asm.jump(BPF_JEQ_K, SOL_IPV6, "sockopt_name")
    asm.ret(RET_ALLOW)
    asm.label("sockopt_name")
    asm.load(_arg(2))
    for name in XTABLES_OPTIONS:
        asm.jump(BPF_JEQ_K, name, "eperm")
    asm.ret(RET_ALLOW)
    asm.label("ioctl")
    asm.load(_arg(1))
    asm.jump(BPF_JEQ_K, TIOCSTI, "eperm")
    asm.jump(BPF_JEQ_K, TIOCLINUX, "eperm")
    asm.jump(BPF_JEQ_K, TIOCSETD, "eperm")
    asm.ret(RET_ALLOW)
    asm.label("unshare")
    asm.load(_arg(0))
    asm.jump(BPF_JSET_K, CLONE_NEW_ANY | CLONE_NEWTIME, "eperm")
    asm.ret(RET_ALLOW)
    asm.label("clone")
    asm.load(_arg(0))
    asm.jump(BPF_JSET_K, CLONE_NEW_ANY, "eperm")
    asm.ret(RET_ALLOW)
    asm.label("socket")
    asm.load(_arg(0))
    asm.jump(BPF_JEQ_K, AF_UNIX, "allow")
    asm.jump(BPF_JEQ_K, AF_INET, "inet")
    asm.jump(BPF_JEQ_K, AF_INET6, "inet")
    asm.jump(BPF_JEQ_K, AF_NETLINK, "netlink")
    asm.ret(RET_ERRNO | errno.EAFNOSUPPORT)
    asm.label("inet")
    asm.load(_arg(2))
    for protocol in ALLOWED_INET_PROTOCOLS:
        asm.jump(BPF_JEQ_K, protocol, "allow")
    asm.ret(RET_ERRNO | errno.EPROTONOSUPPORT)
    asm.label("netlink")
    asm.load(_arg(2))
    for protocol in ALLOWED_NETLINK:
        asm.jump(BPF_JEQ_K, protocol, "allow")
    asm.ret(RET_ERRNO | errno.EPROTONOSUPPORT)
    asm.label("personality")
    asm.load(_arg(0))
    for value in ALLOWED_PERSONALITIES:
        asm.jump(BPF_JEQ_K, value, "allow")
    asm.ret(RET_ERRNO | errno.EPERM)
    asm.label("allow")
    asm.ret(RET_ALLOW)
    asm.label("eperm")
    asm.ret(RET_ERRNO | errno.EPERM)
    asm.label("enosys")
    asm.ret(RET_ERRNO | errno.ENOSYS)
    return asm.program()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class Loader:
    """Loads a filter variant into the calling process (tests probe the filter this way)."""

    def __init__(self, variant: str = "sandbox") -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._prctl = self._libc.prctl
        self._prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
        code = program(variant)
        self._buffer = ctypes.create_string_buffer(code, len(code))
        self._fprog = _SockFprog(len(code) // 8, ctypes.cast(self._buffer, ctypes.c_void_p))
        self._fprog_ref = ctypes.byref(self._fprog)

    def apply(self, no_new_privs: bool = True) -> None:
        """Load the filter into the calling process (used between fork and exec)."""
        if no_new_privs and self._prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._fprog_ref, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP failed")


@functools.lru_cache(maxsize=2)
def loader(variant: str = "sandbox") -> Loader:
    return Loader(variant)
