"""A terminal without a file descriptor (a backend's ``StreamPty``) is bridged to the gateway's shells.

The memory backend's terminal is such a stream: these tests drive the gateway's own ``Shell`` (flow
control, ring buffer, recording) over it, in this process, with no sandbox and no root.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time

import pytest

from xblocks.labs.sandbox.base import SandboxSpec
from xblocks.labs.sandbox.memory import MemoryBackend
from xblocks.labs.terminal import shells
from xblocks.labs.terminal.data import TokenClaim
from xblocks.labs.terminal.recording import Recorder
from xblocks.labs.terminal.streams import PipedPty, bridge


@pytest.fixture
def memory():
    backend = MemoryBackend.instance()
    yield backend
    backend.reset()


def test_a_pty_with_a_descriptor_is_used_as_it_is_and_a_stream_gets_a_pipe(memory):
    class WithFd:
        def fileno(self):
            return 0

    with_fd = WithFd()
    assert bridge(with_fd) is with_fd
    handle = memory.create(SandboxSpec(label="stream"))
    piped = bridge(memory.open_pty(handle))
    try:
        assert isinstance(piped, PipedPty) and isinstance(piped.fileno(), int)
    finally:
        piped.close()


def test_the_gateways_shell_runs_commands_through_a_stream_terminal(memory, monkeypatch):
    for name in ("append_transcript", "record_activity", "end_attach"):
        monkeypatch.setattr(shells.api, name, lambda *args, **kwargs: None)
    handle = memory.create(SandboxSpec(label="stream"))
    memory.exec(handle, "echo kafaat > ~/notes.txt")

    async def scenario() -> tuple[bytes, list[dict]]:
        registry = shells.ShellRegistry()
        pty = bridge(memory.open_pty(handle))
        shell = shells.Shell(registry, 1, handle.id, pty, Recorder(started_at=time.time(), max_bytes=1 << 20))
        sent: list[dict] = []

        async def send(message):
            sent.append(message)

        claim = TokenClaim(user_id=1, viewer_id=1, owner_id=1, session_id=1, mode="rw", handle=handle)
        client = shells.Client(claim, send)
        shell.attach(client)
        shell.write(client, b"cat ~/notes.txt\r")
        deadline = time.monotonic() + 5
        while b"kafaat\r\n$ " not in bytes(shell.ring) and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        shell.write(client, b"exit\r")  # the stream ends: the shell tells the browser and closes
        while not shell.ended and time.monotonic() < deadline:
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        return bytes(shell.ring), sent

    ring, sent = asyncio.run(scenario())
    assert b"$ cat ~/notes.txt\r\nkafaat\r\n$ " in ring
    assert {"type": "websocket.close", "code": 1000} in sent
    assert any(message.get("bytes") and b"kafaat" in message["bytes"] for message in sent)


def test_a_stream_is_not_read_ahead_while_the_gateway_holds_its_reads_back():
    class Flood:
        """A stream that always has output, counting what was taken from it."""

        def __init__(self):
            self.taken = 0
            self.closed = threading.Event()

        def read(self, size=65536):
            if self.closed.is_set():
                return b""
            self.taken += 4096
            return b"y\n" * 2048

        def write(self, data):
            return len(data)

        def resize(self, cols, rows):
            pass

        def alive(self):
            return not self.closed.is_set()

        def close(self):
            self.closed.set()

    flood = Flood()
    piped = PipedPty(flood)
    time.sleep(0.3)
    held = flood.taken
    time.sleep(0.3)
    # nobody reads the pipe: the pump is blocked on it, so the stream is read no further
    assert flood.taken == held and held <= 1024 * 1024
    assert len(piped.read(65536)) > 0  # reading again lets it go on
    piped.close()
    assert not piped.alive()
    with pytest.raises(OSError):
        os.fstat(piped.fileno())
