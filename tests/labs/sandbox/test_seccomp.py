"""The seccomp filter on its own: loaded into a throwaway process, it refuses exactly what it should."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest

from xblocks.labs.sandbox import seccomp

ROOT = pathlib.Path(__file__).resolve().parents[3]
PROBE = """
import ctypes, errno, os, socket, termios
from xblocks.labs.sandbox import seccomp
seccomp.loader().apply()
libc = ctypes.CDLL(None, use_errno=True)
def call(nr, *args):
    rc = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    return "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]
x86 = os.uname().machine == "x86_64"
master, slave = os.openpty()
c = ctypes.c_char(b"x")
def tiocsti(request):
    rc = libc.syscall(16 if x86 else 29, slave, ctypes.c_ulong(request), ctypes.byref(c))
    return "ok" if rc == 0 else errno.errorcode[ctypes.get_errno()]
out = {
    "tiocsti": tiocsti(termios.TIOCSTI),
    "tiocsti_high_bits": tiocsti(termios.TIOCSTI | (1 << 32)),
    "winsize": "ok" if libc.ioctl(slave, termios.TIOCGWINSZ, ctypes.create_string_buffer(8)) == 0 else "err",
    "unshare_user": call(272 if x86 else 97, 0x10000000),
    "unshare_uts": call(272 if x86 else 97, 0x04000000),
    "clone3": call(435, 0, 0),
    "keyctl": call(250 if x86 else 219, 0, -3, 0),
    "fork": "ok" if os.fork() or os._exit(0) else "ok",
}
try:
    socket.socket(40, socket.SOCK_STREAM); out["vsock"] = "ok"
except OSError as e:
    out["vsock"] = errno.errorcode[e.errno]
print(out)
"""


def test_the_program_is_whole_instructions_with_in_range_jumps():
    code = seccomp.program()
    assert len(code) % 8 == 0 and 10 < len(code) // 8 < 256
    for index in range(len(code) // 8):
        op, jt, jf, _k = __import__("struct").unpack_from("<HBBI", code, index * 8)
        if op in (seccomp.BPF_JEQ_K, seccomp.BPF_JGE_K, seccomp.BPF_JSET_K):
            assert index + 1 + max(jt, jf) < len(code) // 8


@pytest.mark.skipif(sys.platform != "linux", reason="seccomp is Linux only")
def test_a_filtered_process_cannot_inject_keystrokes_nest_user_namespaces_or_open_covert_channels():
    output = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, cwd=str(ROOT), timeout=30, check=True
    ).stdout
    result = eval(output)  # noqa: S307  a dict literal printed by our own probe
    assert result["tiocsti"] == "EPERM" and result["tiocsti_high_bits"] == "EPERM"
    assert result["unshare_user"] == "EPERM" and result["keyctl"] == "EPERM" and result["vsock"] == "EAFNOSUPPORT"
    assert result["clone3"] == "ENOSYS"  # so libc falls back to clone, whose flags the filter can read
    assert result["winsize"] == "ok" and result["fork"] == "ok"  # ordinary terminal and process calls still work
    assert result["unshare_uts"] in ("ok", "EPERM")  # not the filter's business (EPERM here from missing caps)


CHECK_PROBE = """
import ctypes, errno, os, sys
from xblocks.labs.sandbox import seccomp
seccomp.loader(sys.argv[1]).apply()
libc = ctypes.CDLL(None, use_errno=True)
x86 = os.uname().machine == "x86_64"
buffer = ctypes.create_string_buffer(8)
class iovec(ctypes.Structure):
    _fields_ = [("base", ctypes.c_void_p), ("len", ctypes.c_size_t)]
local = iovec(ctypes.addressof(buffer), 8)
L = ctypes.c_long  # full registers: a bare int leaves the upper half undefined (EINVAL on Python 3.12)
rc = libc.syscall(L(310 if x86 else 270), L(os.getpid()), ctypes.byref(local), L(1), ctypes.byref(local), L(1), L(0))
vm = "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]
rc = libc.syscall(L(101 if x86 else 117), L(16), L(0x7FFFFFF0), L(0), L(0))  # PTRACE_ATTACH to no process: ESRCH
trace = "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]
print(vm, trace)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="seccomp is Linux only")
@pytest.mark.parametrize(("variant", "expected"), [("check", "EPERM EPERM"), ("sandbox", "ok ESRCH")])
def test_the_check_variant_also_denies_ptrace_and_process_vm(variant, expected):
    output = subprocess.run(
        [sys.executable, "-c", CHECK_PROBE, variant], capture_output=True, text=True, cwd=str(ROOT), timeout=30
    ).stdout
    assert output.startswith(expected), output


LIMITS_PROBE = """
import ctypes, errno, fcntl, os, sys, tempfile
from xblocks.labs.sandbox import seccomp
libc = ctypes.CDLL(None, use_errno=True)
libc.syscall.restype = ctypes.c_long
libc.mmap.restype = ctypes.c_void_p
libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]
x86 = os.uname().machine == "x86_64"
PRLIMIT64 = 302 if x86 else 261
class RLimit(ctypes.Structure):
    _fields_ = [("cur", ctypes.c_ulong), ("max", ctypes.c_ulong)]
child = os.fork()
if child == 0:
    os.read(os.open("/dev/zero", os.O_RDONLY), 0)
    import time; time.sleep(10); os._exit(0)
# a new limit at an address whose low 32 bits are zero: the filter must read both halves of the pointer
aligned = libc.mmap(0x7E0000000000, 4096, 3, 0x22 | 0x100000, -1, 0)  # MAP_FIXED_NOREPLACE
current = RLimit()
libc.prlimit(0, 7, None, ctypes.byref(current))
ctypes.memmove(aligned, ctypes.byref(current), ctypes.sizeof(current))
seccomp.loader(sys.argv[1]).apply()
def call(*args):
    rc = libc.syscall(PRLIMIT64, *[ctypes.c_long(a) if isinstance(a, int) else a for a in args])
    return "ok" if rc >= 0 else errno.errorcode[ctypes.get_errno()]
out = {
    "own": call(0, 7, ctypes.byref(current), None),
    "read_other": call(child, 7, None, ctypes.byref(RLimit())),
    "set_other": call(child, 7, ctypes.byref(current), None),
    "set_other_aligned": call(child, 7, ctypes.c_void_p(aligned), None) if aligned == 0x7E0000000000 else "no map",
    "set_own_pid": call(os.getpid(), 7, ctypes.byref(current), None),
}
handle = tempfile.NamedTemporaryFile()
try:
    fcntl.fcntl(handle.fileno(), fcntl.F_SETLEASE, fcntl.F_RDLCK)
    out["lease"] = "ok"
except OSError as error:
    out["lease"] = errno.errorcode[error.errno]
out["getlease"] = "ok" if fcntl.fcntl(handle.fileno(), fcntl.F_GETLEASE) == fcntl.F_UNLCK else "other"
out["setfl"] = "ok" if fcntl.fcntl(handle.fileno(), fcntl.F_SETFL, os.O_NONBLOCK) == 0 else "other"
os.kill(child, 9)
print(out)
"""


@pytest.mark.skipif(sys.platform != "linux", reason="seccomp is Linux only")
@pytest.mark.parametrize("variant", seccomp.VARIANTS)
def test_no_process_sets_another_processs_limits_or_takes_a_file_lease(variant):
    output = subprocess.run(
        [sys.executable, "-c", LIMITS_PROBE, variant], capture_output=True, text=True, cwd=str(ROOT), timeout=30
    ).stdout
    result = eval(output)  # noqa: S307  a dict literal printed by our own probe
    assert result["set_other"] == "EPERM" and result["set_other_aligned"] == "EPERM"
    assert result["lease"] == "EPERM"
    # what ulimit, setrlimit and reading tools need stays allowed; prlimit(getpid()) is the price
    assert result["own"] == "ok" and result["read_other"] == "ok"
    assert result["getlease"] == "ok" and result["setfl"] == "ok"
    assert result["set_own_pid"] == "EPERM"
