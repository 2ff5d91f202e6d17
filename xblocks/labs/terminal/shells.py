"""The gateway's shell registry: one PTY per lab session and machine, shared by its websockets, outliving them.

A ``Shell`` owns the PTY that ``backend.open_pty`` returned, a ring buffer of recent output (replayed
when a browser re-attaches), the transcript recorder and the flow control: output is counted per
websocket until xterm.js acknowledges it, PTY reads stop above the high watermark and resume
below the low one, so a ``yes`` flood stays in the sandbox's PTY buffer instead of in our memory.
Only the learner's own (writable) socket drives that flow control: a read-only staff watcher that
falls more than ``TERMINAL_WATCHER_MAX_LAG`` bytes behind is sent a notice and disconnected, so a
slow or stalled watcher can never freeze the learner's terminal (its browser reconnects and catches
up from the ring buffer). Everything runs on the event loop of the ASGI server; blocking calls go
to threads.
"""

from __future__ import annotations

import asyncio
import json
import logging
import select
import time
from collections.abc import Awaitable, Callable

from channels.db import database_sync_to_async

from xblocks.labs.sandbox.base import get_backend
from xblocks.labs.terminal import api
from xblocks.labs.terminal.conf import terminal_settings
from xblocks.labs.terminal.data import TokenClaim
from xblocks.labs.terminal.recording import Recorder
from xblocks.labs.terminal.streams import bridge

log = logging.getLogger(__name__)

Sender = Callable[[dict], Awaitable[None]]
LAGGING = 4012  # close code for a read-only watcher that fell too far behind (it may reconnect)


class Client:
    """One websocket attached to a shell; its writer task sends queued frames in order."""

    def __init__(self, claim: TokenClaim, send: Sender):
        self.claim = claim
        self.unacked = 0
        self.dropped = False
        self.owner: asyncio.Task | None = None  # the websocket's application task, cut if a drop cannot close
        self._send = send
        self._queue: asyncio.Queue = asyncio.Queue()
        self._writer = asyncio.get_running_loop().create_task(self._write())
        self.closed = asyncio.Event()

    @property
    def read_only(self) -> bool:
        return self.claim.read_only

    def push_output(self, data: bytes) -> None:
        self.unacked += len(data)
        self._queue.put_nowait({"type": "websocket.send", "bytes": data})

    def push_control(self, message: dict) -> None:
        self._queue.put_nowait({"type": "websocket.send", "text": json.dumps(message)})

    def push_close(self, code: int) -> None:
        self._queue.put_nowait({"type": "websocket.close", "code": code})

    def ack(self, count: int) -> None:
        # a client can only acknowledge what it was sent: no credit in advance
        self.unacked = max(0, self.unacked - max(0, count))

    def drop(self, control: dict, code: int, timeout: float) -> None:
        """Disconnect this socket: output not sent yet is discarded, ``control`` and a close follow.

        A peer that reads nothing may never take even those frames; after ``timeout`` seconds the
        writer and the websocket's application task are cancelled, and the server ends the connection.
        """
        self.dropped = True
        while not self._queue.empty():
            self._queue.get_nowait()
        self.unacked = 0
        self.push_control(control)
        self.push_close(code)
        asyncio.get_running_loop().call_later(timeout, self._cut)

    def _cut(self) -> None:
        if self.closed.is_set():
            return
        self._writer.cancel()
        if self.owner is not None and not self.owner.done():
            self.owner.cancel()

    async def _write(self) -> None:
        try:
            while True:
                message = await self._queue.get()
                await self._send(message)
                if message["type"] == "websocket.close":
                    break
        except Exception:
            # the peer went away mid-send; the receive side notices and detaches
            log.debug("terminal websocket send failed", exc_info=True)
        finally:
            self.closed.set()

    def stop(self) -> None:
        self._writer.cancel()


class Shell:
    """The PTY of one lab session and everyone attached to it."""

    def __init__(
        self, registry: ShellRegistry, session_id: int, handle_id: str, pty, recorder: Recorder, machine: str = ""
    ):
        self.registry = registry
        self.session_id = session_id
        # "" is the lab's first machine; each machine's shell has a transcript and history of its own
        # (two interleaved screens would replay as noise, and a check reads its own machine's history).
        self.machine = machine
        self.handle_id = handle_id
        self.pty = pty
        self.recorder = recorder
        self.clients: list[Client] = []
        self.ring = bytearray()
        self.ended = False
        self._loop = asyncio.get_running_loop()
        self._fd = pty.fileno()
        self._reading = False
        self._grace: asyncio.TimerHandle | None = None
        self._flush: asyncio.TimerHandle | None = None
        self._last_activity = 0.0
        self._ring_bytes = int(terminal_settings.TERMINAL_RING_BYTES)
        self._high = int(terminal_settings.TERMINAL_HIGH_WATERMARK)
        self._low = int(terminal_settings.TERMINAL_LOW_WATERMARK)
        self._chunk = int(terminal_settings.TERMINAL_READ_CHUNK)
        self._max_lag = int(terminal_settings.TERMINAL_WATCHER_MAX_LAG)
        self._drop_timeout = float(terminal_settings.TERMINAL_WATCHER_CLOSE_TIMEOUT)
        self._flush_seconds = float(terminal_settings.TERMINAL_TRANSCRIPT_FLUSH_SECONDS)
        self._activity_interval = float(terminal_settings.TERMINAL_ACTIVITY_INTERVAL)

    # --- attachment -------------------------------------------------------------------------

    def attach(self, client: Client) -> None:
        if self._grace is not None:
            self._grace.cancel()
            self._grace = None
        if not client.read_only:
            # one writer at a time: a new tab or a reconnect takes over from the old socket
            for other in [c for c in self.clients if not c.read_only]:
                other.push_control({"type": "replaced"})
                other.push_close(4001)
                self.clients.remove(other)
        self.clients.append(client)
        client.push_control({"type": "ready", "mode": client.claim.mode})
        if self.ring:
            client.push_output(bytes(self.ring[-self._ring_bytes :]))
        self._update_reading()

    def detach(self, client: Client) -> None:
        if client in self.clients:
            self.clients.remove(client)
        if client.claim.attach_id is not None:
            self._in_thread(api.end_attach, client.claim.attach_id)
        self._update_reading()
        if not self.clients and not self.ended:
            grace = float(terminal_settings.TERMINAL_RECONNECT_GRACE)
            self._grace = self._loop.call_later(grace, self.close)

    # --- input from browsers ----------------------------------------------------------------

    def write(self, client: Client, data: bytes) -> None:
        if client.read_only or self.ended or not data:
            return  # read-only is enforced here, whatever the browser sends
        try:
            self.pty.write(data)
        except OSError:
            log.info("write to the PTY of session %s failed", self.session_id, exc_info=True)
            return
        self.recorder.input(data)
        self._schedule_flush()
        now = time.monotonic()
        if now - self._last_activity >= self._activity_interval:
            self._last_activity = now
            self._in_thread(api.record_activity, self.session_id)

    def resize(self, client: Client, cols: int, rows: int) -> None:
        if client.read_only or self.ended:
            return
        try:
            self.pty.resize(cols, rows)
        except OSError:
            log.info("resize of the PTY of session %s failed", self.session_id, exc_info=True)
            return
        self.recorder.resize(cols, rows)

    def ack(self, client: Client, count: int) -> None:
        client.ack(count)
        self._update_reading()

    # --- output from the PTY ----------------------------------------------------------------

    def _update_reading(self) -> None:
        """Read while someone is attached and every client that drives flow control is below its watermark.

        The learner's socket drives it; read-only watchers only while no learner socket is attached
        (then nobody is typing, and pausing the shell for a slow watcher hurts no one).
        """
        if self.ended:
            return
        drivers = [c for c in self.clients if not c.read_only] or self.clients
        if not drivers:
            wanted = False
        elif self._reading:
            wanted = all(c.unacked <= self._high for c in drivers)
        else:
            wanted = all(c.unacked <= self._low for c in drivers)
        if wanted and not self._reading:
            self._loop.add_reader(self._fd, self._on_readable)
            self._reading = True
        elif not wanted and self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False

    def _on_readable(self) -> None:
        parts: list[bytes] = []
        total, ended = 0, False
        while total < self._chunk:
            try:
                data = self.pty.read(self._chunk - total)
            except BlockingIOError:
                break
            except OSError:
                data = b""  # EIO: the shell exited and the PTY hung up
            if not data:
                ended = True
                break
            parts.append(data)
            total += len(data)
            # A PTY hands out a few KiB per read: gather what is already pending into one frame
            # (fewer frames, fewer acks), but never wait for more, which would delay an echo.
            if not select.select([self._fd], [], [], 0)[0]:
                break
        if parts:
            data = parts[0] if len(parts) == 1 else b"".join(parts)
            self.ring += data
            if len(self.ring) > 2 * self._ring_bytes:  # trimmed lazily: one memmove per ring's worth
                del self.ring[: len(self.ring) - self._ring_bytes]
            self.recorder.output(data)
            self._schedule_flush()
            for client in list(self.clients):
                client.push_output(data)
                if client.read_only and client.unacked > self._max_lag:
                    self._drop_lagging(client)
        if ended:
            self._end()
            return
        self._update_reading()

    def _drop_lagging(self, client: Client) -> None:
        """A watcher fell too far behind: disconnect it rather than hold the learner's output for it."""
        self.clients.remove(client)
        log.info(
            "terminal of lab session %s: read-only watcher (user %s) fell %s bytes behind; disconnected",
            self.session_id,
            client.claim.viewer_id,
            client.unacked,
        )
        client.drop({"type": "lagging"}, LAGGING, self._drop_timeout)

    def _end(self) -> None:
        """The shell exited (``exit``, killed, sandbox stopped): tell everyone and forget it."""
        for client in list(self.clients):
            client.push_control({"type": "exit"})
            client.push_close(1000)
        self.close()

    # --- lifetime ---------------------------------------------------------------------------

    def close(self) -> None:
        if self.ended:
            return
        self.ended = True
        if self._reading:
            self._loop.remove_reader(self._fd)
            self._reading = False
        for timer in (self._grace, self._flush):
            if timer is not None:
                timer.cancel()
        self.registry.forget(self)
        self._flush_now()
        self._in_thread(self.pty.close)

    def _schedule_flush(self) -> None:
        if self._flush is None and self.recorder.pending():
            self._flush = self._loop.call_later(self._flush_seconds, self._flush_now)

    def _flush_now(self) -> None:
        self._flush = None
        if not self.recorder.pending():
            return
        seq, events, history = self.recorder.take()
        self._in_thread(
            api.append_transcript,
            self.session_id,
            seq,
            events,
            history,
            size=self.recorder.size,
            truncated=self.recorder.truncated,
            machine=self.machine,
        )

    def _in_thread(self, func, *args, **kwargs) -> None:
        self.registry.spawn(database_sync_to_async(func)(*args, **kwargs), what=getattr(func, "__name__", "call"))


class ShellRegistry:
    """The shells of this gateway process, by lab session; a shell survives its sockets for a grace period."""

    def __init__(self) -> None:
        self._shells: dict[tuple[int, str], Shell] = {}  # by (session, machine)
        self._locks: dict[tuple[int, str], asyncio.Lock] = {}
        self._next_seq: dict[tuple[int, str], int] = {}  # by (session, machine)
        self._tasks: set[asyncio.Task] = set()

    def get(self, session_id: int, machine: str = "") -> Shell | None:
        return self._shells.get((session_id, machine))

    def __len__(self) -> int:
        return len(self._shells)

    async def attach(self, claim: TokenClaim, client: Client, cols: int, rows: int) -> Shell:
        key = (claim.session_id, claim.machine)
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            shell = self._shells.get(key)
            if shell is not None and (shell.ended or shell.handle_id != claim.handle.id or not shell.pty.alive()):
                shell.close()  # the sandbox was reset or the shell died while nobody watched
                shell = None
            if shell is None:
                shell = await self._open(claim, cols, rows)
                self._shells[key] = shell
            shell.attach(client)
            return shell

    async def _open(self, claim: TokenClaim, cols: int, rows: int) -> Shell:
        backend = get_backend(claim.handle.backend)
        began = time.perf_counter()
        pty = await asyncio.get_running_loop().run_in_executor(
            None, lambda: bridge(backend.open_pty(claim.handle, cols=cols, rows=rows))
        )
        state = await database_sync_to_async(api.open_transcript)(claim.session_id, cols, rows, claim.machine)
        recorder = Recorder(
            started_at=state.started_at,
            size=state.size,
            truncated=state.truncated,
            max_bytes=int(terminal_settings.TERMINAL_TRANSCRIPT_MAX_BYTES),
            # the previous shell's last flush may still be on its way to the database
            next_seq=max(state.next_seq, self._next_seq.pop((claim.session_id, claim.machine), 0)),
            history_size=state.history_size,
            max_history=int(terminal_settings.TERMINAL_HISTORY_MAX_BYTES),
        )
        log.info(
            "opened a shell for lab session %s (machine %s) in %.0f ms",
            claim.session_id,
            claim.machine or "first",
            (time.perf_counter() - began) * 1000,
        )
        return Shell(self, claim.session_id, claim.handle.id, pty, recorder, machine=claim.machine)

    def forget(self, shell: Shell) -> None:
        if self._shells.get((shell.session_id, shell.machine)) is shell:
            del self._shells[(shell.session_id, shell.machine)]
        self._next_seq[(shell.session_id, shell.machine)] = shell.recorder.next_seq + 1

    def spawn(self, awaitable, what: str = "") -> None:
        task = asyncio.get_running_loop().create_task(awaitable)
        self._tasks.add(task)
        task.add_done_callback(self._done)
        task.set_name(what)

    def _done(self, task: asyncio.Task) -> None:
        self._tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.warning("terminal background call %s failed", task.get_name(), exc_info=task.exception())

    def close_all(self) -> None:
        for shell in list(self._shells.values()):
            shell.close()


registry = ShellRegistry()
