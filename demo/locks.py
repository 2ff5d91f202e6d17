"""Lock files under the demo's ``var/run/``: one demo per var folder, one beat per demo.

A lock is an exclusive ``flock`` on the file, held for as long as its process lives: the kernel drops
it when the process ends, however it ends (kill -9 included), so a lock file left behind by a dead
process never blocks the next one. The file also names its holder's pid, for the messages.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class Lock:
    """A held lock; ``release()`` (or the end of the process) frees it."""

    def __init__(self, path: Path, fd: int):
        self.path = path
        self.fd = fd

    def release(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1


def holder(path: Path) -> int | None:
    """The pid written in the lock file, if any (the holder while the lock is held)."""
    try:
        text = path.read_text().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def hold(path: Path) -> Lock | None:
    """Take the lock at ``path`` without waiting, or None when a live process holds it.

    The descriptor is not inherited by children (Python's default), so a child left running never
    keeps its parent's lock.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:  # naming the holder is a courtesy: a full disk must not cost the lock
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    except OSError:
        pass
    return Lock(path, fd)
