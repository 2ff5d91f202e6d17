"""Terminals without a file descriptor: a backend's ``StreamPty`` (a remote exec stream) behind a pipe.

The gateway's shells read a PTY when the event loop says its descriptor is readable, and stop
reading to hold a flood back (flow control). A stream has no descriptor, so ``bridge`` gives it one:
a thread copies the stream into a pipe whose read end the loop watches. When the gateway stops
reading, the pipe fills, the thread blocks in ``write`` and stops reading the stream: the flood
stays on the backend's side, as it stays in the kernel's PTY buffer for a local shell.
"""

from __future__ import annotations

import contextlib
import os
import threading

from xblocks.labs.sandbox.base import PtyProcess, StreamPty


def bridge(pty: PtyProcess | StreamPty) -> PtyProcess:
    """``pty`` itself when it has a file descriptor, else a ``PipedPty`` around it."""
    if callable(getattr(pty, "fileno", None)):
        return pty  # type: ignore[return-value]
    return PipedPty(pty)


class PipedPty:
    """A ``StreamPty`` seen as a ``PtyProcess``: ``fileno`` is a non-blocking pipe fed by a thread."""

    def __init__(self, stream: StreamPty, chunk: int = 65536):
        self.stream = stream
        self._chunk = chunk
        self._read_end, self._write_end = os.pipe()
        os.set_blocking(self._read_end, False)
        self._closed = False
        self._thread = threading.Thread(target=self._pump, name="kafaat-pty-stream", daemon=True)
        self._thread.start()

    def _pump(self) -> None:
        try:
            while True:
                data = self.stream.read(self._chunk)
                if not data:
                    break
                view = memoryview(data)
                while view:  # blocks while the gateway holds its reads back
                    view = view[os.write(self._write_end, view) :]
        except (OSError, ValueError):
            pass  # the gateway closed its end, or the stream broke: either way, the end of the shell
        finally:
            os.close(self._write_end)  # the read end then sees the end of the stream

    def fileno(self) -> int:
        return self._read_end

    def read(self, size: int = 65536) -> bytes:
        """Pending output (``BlockingIOError`` when none yet); ``b""`` once the stream has ended."""
        return os.read(self._read_end, size)

    def write(self, data: bytes) -> int:
        return self.stream.write(data)

    def resize(self, cols: int, rows: int) -> None:
        self.stream.resize(cols, rows)

    def alive(self) -> bool:
        return not self._closed and self.stream.alive()

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self.stream.close()
        with contextlib.suppress(OSError):
            os.close(self._read_end)  # a pump blocked on a full pipe gets EPIPE and ends
        self._thread.join(timeout=5)
