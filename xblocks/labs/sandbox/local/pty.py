"""A sandbox terminal: a login shell on a pseudo-terminal of the sandbox's own devpts."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import selectors
import signal
import struct
import subprocess
import termios

from xblocks.labs.sandbox import spawner


class LocalPty:
    """A login shell on a pseudo-terminal of the sandbox's devpts, started by its spawner (see ``PtyProcess``)."""

    def __init__(self, process: spawner.SpawnedProcess, master: int):
        self._process = process
        self._master = master
        os.set_blocking(master, False)

    def fileno(self) -> int:
        return self._master

    def read(self, size: int = 65536) -> bytes:
        """Pending output, waiting for some when none is pending yet; ``b""`` only at end of stream."""
        while self._master >= 0:
            try:
                return os.read(self._master, size)
            except BlockingIOError:
                if not self.alive():
                    return b""
                with selectors.DefaultSelector() as selector:
                    selector.register(self._master, selectors.EVENT_READ)
                    selector.select(0.5)
            except OSError as error:
                if error.errno == errno.EIO:  # the shell side is closed: end of stream
                    return b""
                raise
        return b""

    def write(self, data: bytes) -> int:
        try:
            return os.write(self._master, data)
        except BlockingIOError:
            return 0

    def resize(self, cols: int, rows: int) -> None:
        fcntl.ioctl(self._master, termios.TIOCSWINSZ, struct.pack("HHHH", max(1, rows), max(1, cols), 0, 0))

    def alive(self) -> bool:
        return self._process.poll() is None

    def close(self) -> None:
        if self._master >= 0:
            with contextlib.suppress(OSError):
                os.close(self._master)
            self._master = -1
        self._process.send_signal(signal.SIGHUP)
        try:
            self._process.wait(timeout=1.0)
        except subprocess.TimeoutExpired:
            self._process.kill()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self._process.wait(timeout=2.0)
        self._process.close()
