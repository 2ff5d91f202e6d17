"""The sandbox's seccomp filter: a small deny list assembled as classic BPF, no libseccomp needed.

Namespaces stop most abuse; these syscalls are what they leave open (see the abuse cases):
nested user namespaces (a large kernel attack surface), TIOCSTI/TIOCLINUX terminal injection
(compared on the low 32 bits only, as the kernel does, so high bits cannot slip past:
CVE-2019-10063), keyrings, io_uring and AF_VSOCK (not namespaced: covert channels between
sandboxes), and kernel-level facilities no lab needs. ``clone3`` answers ENOSYS because its flags
sit in memory a filter cannot read; libc then falls back to ``clone``, which the filter can check.
The same program is loaded by bwrap (``--seccomp FD``) for the sandbox's init and by ``apply()``
for every process entering a running sandbox.
"""

from __future__ import annotations

import ctypes
import errno
import functools
import platform
import struct

# struct seccomp_data: int nr; u32 arch; u64 instruction_pointer; u64 args[6]
OFFSET_NR, OFFSET_ARCH = 0, 4


def _arg(index: int) -> int:
    return 16 + 8 * index  # the low 32 bits on little-endian machines


BPF_LD_W_ABS = 0x20
BPF_JEQ_K = 0x15
BPF_JGE_K = 0x35
BPF_JSET_K = 0x45
BPF_RET_K = 0x06
RET_ALLOW = 0x7FFF0000
RET_ERRNO = 0x00050000
RET_KILL_PROCESS = 0x80000000

CLONE_NEWUSER = 0x10000000
TIOCSTI = 0x5412
TIOCLINUX = 0x541C
AF_VSOCK = 40
X32_SYSCALL_BIT = 0x40000000

ARCHES = {
    "x86_64": {
        "audit": 0xC000003E,
        "ioctl": 16,
        "socket": 41,
        "clone": 56,
        "unshare": 272,
        "clone3": 435,
        "denied": [250, 248, 249, 425, 426, 427, 321, 298, 323, 246, 320, 175, 313, 176, 304, 163, 167, 168],
    },
    "aarch64": {
        "audit": 0xC00000B7,
        "ioctl": 29,
        "socket": 198,
        "clone": 220,
        "unshare": 97,
        "clone3": 435,
        "denied": [219, 217, 218, 425, 426, 427, 280, 241, 282, 104, 294, 105, 273, 106, 265, 89, 224, 225],
    },
}
# names of "denied", same order for each arch: keyctl add_key request_key io_uring_setup io_uring_enter
# io_uring_register bpf perf_event_open userfaultfd kexec_load kexec_file_load init_module finit_module
# delete_module open_by_handle_at acct swapon swapoff


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


@functools.lru_cache(maxsize=1)
def program() -> bytes:
    """The filter for this machine's architecture, as ``struct sock_filter[]`` bytes."""
    machine = platform.machine()
    if machine not in ARCHES:
        raise OSError(f"no seccomp filter for architecture {machine}")
    arch = ARCHES[machine]
    asm = _Assembler()
    asm.load(OFFSET_ARCH)
    asm.jump(BPF_JEQ_K, arch["audit"], 1, 0)
    asm.ret(RET_ERRNO | errno.EPERM)  # other ABIs (i386 through int 0x80) are refused outright
    asm.load(OFFSET_NR)
    if machine == "x86_64":
        asm.jump(BPF_JGE_K, X32_SYSCALL_BIT, "eperm")
    for number in arch["denied"]:
        asm.jump(BPF_JEQ_K, number, "eperm")
    asm.jump(BPF_JEQ_K, arch["clone3"], "enosys")
    asm.jump(BPF_JEQ_K, arch["ioctl"], "ioctl")
    asm.jump(BPF_JEQ_K, arch["unshare"], "flags")
    asm.jump(BPF_JEQ_K, arch["clone"], "flags")
    asm.jump(BPF_JEQ_K, arch["socket"], "socket")
    asm.ret(RET_ALLOW)
    asm.label("ioctl")
    asm.load(_arg(1))
    asm.jump(BPF_JEQ_K, TIOCSTI, "eperm")
    asm.jump(BPF_JEQ_K, TIOCLINUX, "eperm")
    asm.ret(RET_ALLOW)
    asm.label("flags")
    asm.load(_arg(0))
    asm.jump(BPF_JSET_K, CLONE_NEWUSER, "eperm")
    asm.ret(RET_ALLOW)
    asm.label("socket")
    asm.load(_arg(0))
    asm.jump(BPF_JEQ_K, AF_VSOCK, "eafnosupport")
    asm.ret(RET_ALLOW)
    asm.label("eperm")
    asm.ret(RET_ERRNO | errno.EPERM)
    asm.label("enosys")
    asm.ret(RET_ERRNO | errno.ENOSYS)
    asm.label("eafnosupport")
    asm.ret(RET_ERRNO | errno.EAFNOSUPPORT)
    return asm.program()


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]


PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class Loader:
    """Everything ``apply`` needs, prepared in the parent so the forked child only makes two prctl calls."""

    def __init__(self) -> None:
        self._libc = ctypes.CDLL(None, use_errno=True)
        self._prctl = self._libc.prctl
        self._prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong]
        code = program()
        self._buffer = ctypes.create_string_buffer(code, len(code))
        self._fprog = _SockFprog(len(code) // 8, ctypes.cast(self._buffer, ctypes.c_void_p))
        self._fprog_ref = ctypes.byref(self._fprog)

    def apply(self, no_new_privs: bool = True) -> None:
        """Load the filter into the calling process (used between fork and exec)."""
        if no_new_privs and self._prctl(PR_SET_NO_NEW_PRIVS, 1, None, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_NO_NEW_PRIVS failed")
        if self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._fprog_ref, 0, 0) != 0:
            raise OSError(ctypes.get_errno(), "PR_SET_SECCOMP failed")


@functools.lru_cache(maxsize=1)
def loader() -> Loader:
    return Loader()
