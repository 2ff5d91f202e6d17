"""The few kernel calls Python has no wrapper for: mounts, openat2 confined to a root, a sandbox's own pty."""

from __future__ import annotations

import ctypes
import errno
import fcntl
import logging
import os
import pathlib
import struct

log = logging.getLogger(__name__)


MS_NOSUID, MS_NODEV = 0x2, 0x4
MNT_DETACH = 0x2
_libc = ctypes.CDLL(None, use_errno=True)
_libc.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
_libc.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
_libc.syscall.restype = ctypes.c_long
SYS_OPENAT2 = 437  # the same number on x86-64 and arm64
RESOLVE_NO_MAGICLINKS, RESOLVE_IN_ROOT = 0x02, 0x10
TIOCSPTLCK, TIOCGPTPEER = 0x40045431, 0x5441
TTY_GID = 5  # Debian's tty group


def mount(source: str, target: pathlib.Path, fstype: str, flags: int, data: str) -> None:
    if _libc.mount(source.encode(), str(target).encode(), fstype.encode(), flags, data.encode()) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"mount {fstype} on {target}: {os.strerror(code)}")


def umount(target: pathlib.Path) -> None:
    if _libc.umount2(str(target).encode(), 0) == 0:
        return
    code = ctypes.get_errno()
    if code in (errno.EINVAL, errno.ENOENT):  # not a mount point (any more)
        return
    if _libc.umount2(str(target).encode(), MNT_DETACH) != 0:
        code = ctypes.get_errno()
        if code not in (errno.EINVAL, errno.ENOENT):
            raise OSError(code, f"umount {target}: {os.strerror(code)}")


def start_time(pid: int) -> int | None:
    """Field 22 of /proc/<pid>/stat, to tell a live sandbox from a recycled pid; None for gone or zombie."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            fields = handle.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    if fields[0] in ("Z", "X"):
        return None
    return int(fields[19])


def parent_pid(pid: int) -> int | None:
    """Field 4 of /proc/<pid>/stat: the parent's pid; None for a process that is gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return int(handle.read().rsplit(")", 1)[1].split()[1])
    except (OSError, IndexError, ValueError):
        return None


def mounted_under(prefix: pathlib.Path) -> list[pathlib.Path]:
    text = str(prefix).rstrip("/")
    found = []
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        for line in handle:
            point = line.split()[4].replace("\\040", " ")
            if point == text or point.startswith(text + "/"):
                found.append(pathlib.Path(point))
    return sorted(found, key=lambda p: len(str(p)), reverse=True)


def openat2_in_root(root_fd: int, path: bytes, flags: int) -> int:
    """openat2(2) with RESOLVE_IN_ROOT: every link, absolute or not, resolves inside ``root_fd``."""
    how = struct.pack("QQQ", flags, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS)
    # every argument as a full register: a Python int is passed as a 32-bit C int whose upper half is garbage
    fd = _libc.syscall(ctypes.c_long(SYS_OPENAT2), ctypes.c_long(root_fd), path, how, ctypes.c_size_t(len(how)))
    if fd < 0:
        code = ctypes.get_errno()
        raise OSError(code, os.strerror(code))
    return fd


def sandbox_pty(pid: int, uid: int, gid: int) -> tuple[int, int]:
    """A pseudo-terminal from the sandbox's own devpts, so ``tty`` and ttyname() work inside.

    The master is opened from the host through the sandbox's root with RESOLVE_IN_ROOT, so whatever
    the sandbox's root put at /dev/pts cannot send the open anywhere on the host; anything that is
    not a real devpts master there (the ioctls fail) falls back to a host pseudo-terminal.
    """
    try:
        root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        try:
            master = openat2_in_root(root, b"dev/pts/ptmx", os.O_RDWR | os.O_NOCTTY | os.O_CLOEXEC)
        finally:
            os.close(root)
        try:
            fcntl.ioctl(master, TIOCSPTLCK, struct.pack("i", 0))
            slave = fcntl.ioctl(master, TIOCGPTPEER, os.O_RDWR | os.O_NOCTTY)
            os.fchown(slave, uid, gid)  # the learner owns its terminal, as after a login
            os.fchmod(slave, 0o620)
        except OSError:
            os.close(master)
            raise
        return master, slave
    except OSError as error:
        log.warning("sandbox pty from its devpts failed (%s); using a host pseudo-terminal", error)
        return os.openpty()
