"""``python -m benchmarks terminal``: keystroke echo and output throughput through the terminal gateway.

Baseline, measured in the same run: terminado 0.18 (a tornado app with ``terminado.TermSocket``, the
terminal server of Jupyter) serving the very same sandboxed shell: its terminal manager is given the
PTY that ``backend.open_pty`` returns, so both servers bridge one kind of PTY in one real sandbox and
differ only in the gateway. Our gateway runs as deployed: uvicorn, single-use token, flow control
with acknowledgements (the client acknowledges as soon as a frame arrives, as xterm.js does once it
has parsed), transcript recording on.

Figures: echo round trip of one keystroke (p50, p95), output throughput of ``base64 /dev/urandom``
(MB/s from the command's Enter to its end marker), and each server's resident memory (RSS) after
the flood. A third row measures our gateway again with a read-only staff watcher attached that reads
but never acknowledges (the gateway drops it once it lags; before that change it froze the learner).
"""

from __future__ import annotations

import argparse
import asyncio
import codecs
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from benchmarks import report

TARGETS = {"echo_p95_ms": 5.0, "throughput_vs_terminado": 1.0}
ORIGIN = "http://127.0.0.1:8000"
ACK_EVERY = 16384  # kafaat-terminal.js's batch


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _wait_listening(port: int, process: subprocess.Popen, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("a terminal server did not start") from None
            time.sleep(0.1)


def _rss_mib(pid: int) -> float:
    import psutil

    return psutil.Process(pid).memory_info().rss / (1024 * 1024)


# --------------------------------------------------------------------------- terminado, same shell


def serve_terminado(port: int, handle_json: str) -> None:
    """Run terminado on ``port`` with a terminal manager whose PTY comes from ``backend.open_pty``."""
    import django

    django.setup()
    import tornado.ioloop
    import tornado.web
    from terminado import SingleTermManager, TermSocket
    from terminado.management import PtyWithClients

    from xblocks.labs.sandbox.base import SandboxHandle, get_backend

    handle = SandboxHandle.from_json(json.loads(handle_json))
    backend = get_backend(handle.backend)

    class SandboxPty:
        """The part of ptyprocess.PtyProcessUnicode terminado uses, over our PtyProcess."""

        delayafterterminate = 0.1

        def __init__(self, pty, cols: int, rows: int):
            self.pty = pty
            self.fd = pty.fileno()
            self.size = (rows, cols)
            self.decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")

        def read(self, size: int) -> str:
            data = self.pty.read(size)
            if not data:
                raise EOFError
            return self.decoder.decode(data)

        def write(self, text: str) -> int:
            return self.pty.write(text.encode("utf-8"))

        def getwinsize(self):
            return self.size

        def setwinsize(self, rows: int, cols: int) -> None:
            self.size = (rows, cols)
            self.pty.resize(cols, rows)

        def isalive(self) -> bool:
            return self.pty.alive()

        def kill(self, sig) -> None:
            self.pty.close()

        def close(self, force: bool = False) -> None:
            self.pty.close()

    class SandboxPtyWithClients(PtyWithClients):
        def __init__(self):
            from collections import deque

            self.clients = []
            self.read_buffer = deque([], maxlen=1000)
            self.ptyproc = SandboxPty(backend.open_pty(handle, cols=100, rows=30), 100, 30)

        def killpg(self, sig=None):
            self.ptyproc.close()

    class SandboxTermManager(SingleTermManager):
        def new_terminal(self, **kwargs):
            return SandboxPtyWithClients()

    class OriginCheckedTermSocket(TermSocket):
        def check_origin(self, origin: str) -> bool:  # the same allowlist check our gateway makes
            return origin == ORIGIN

    manager = SandboxTermManager(shell_command=["/bin/false"])
    app = tornado.web.Application([(r"/websocket", OriginCheckedTermSocket, {"term_manager": manager})])
    app.listen(port, "127.0.0.1")
    tornado.ioloop.IOLoop.current().start()


# --------------------------------------------------------------------------- clients


class Client:
    """Speaks either protocol: ours (auth message, binary frames, acks) or terminado's JSON arrays."""

    def __init__(self, ws, kind: str):
        self.ws = ws
        self.kind = kind
        self.buffer = bytearray()
        self.unacked = 0

    async def send_keys(self, text: str) -> None:
        if self.kind == "kafaat":
            await self.ws.send(text.encode())
        else:
            await self.ws.send(json.dumps(["stdin", text]))

    async def recv(self) -> bytes:
        while True:
            message = await self.ws.recv()
            if self.kind == "kafaat":
                if isinstance(message, str):
                    continue  # controls
                # as kafaat-terminal.js does: acknowledge in batches of 16 KiB (the page's 50 ms timer
                # for smaller remainders is left out: they never reach the watermarks)
                self.unacked += len(message)
                if self.unacked >= ACK_EVERY:
                    await self.ws.send(json.dumps({"type": "ack", "bytes": self.unacked}))
                    self.unacked = 0
                return message
            kind, *rest = json.loads(message)
            if kind == "stdout":
                return rest[0].encode("utf-8")

    async def until(self, needle: bytes, timeout: float = 120.0) -> int:
        """Read until ``needle`` appears; returns the number of bytes read."""
        count = 0
        self.buffer.clear()
        deadline = time.monotonic() + timeout
        while needle not in self.buffer[-(len(needle) + 65536) :]:
            chunk = await asyncio.wait_for(self.recv(), max(0.01, deadline - time.monotonic()))
            count += len(chunk)
            self.buffer += chunk
            if len(self.buffer) > 1 << 20:
                del self.buffer[: -(len(needle) + 65536)]
        return count


async def _open(kind: str, url: str, token: str | None):
    import websockets

    ws = await websockets.connect(url, origin=ORIGIN, proxy=None, compression=None, max_size=None)
    client = Client(ws, kind)
    if kind == "kafaat":
        await ws.send(json.dumps({"type": "auth", "token": token, "cols": 100, "rows": 30}))
    else:
        await ws.send(json.dumps(["set_size", 30, 100]))
    await client.send_keys("export PS1='$ '; stty -ixon; echo READY-$((1+1))\r")
    await client.until(b"READY-2")
    await asyncio.sleep(0.2)
    await client.send_keys("\r")
    await client.until(b"$ ")
    return client


async def _stalled_watcher(url: str, token: str):
    """A read-only socket that reads whatever it is sent and never acknowledges any of it."""
    import websockets

    ws = await websockets.connect(url, origin=ORIGIN, proxy=None, compression=None, max_size=None)
    await ws.send(json.dumps({"type": "auth", "token": token, "cols": 100, "rows": 30}))

    async def read() -> None:
        try:
            async for _message in ws:
                pass
        except websockets.ConnectionClosed:
            pass

    return ws, asyncio.get_running_loop().create_task(read())


async def _measure(
    kind: str, url: str, token: str | None, keystrokes: int, megabytes: int, pid: int, watcher: str | None = None
) -> dict:
    client = await _open(kind, url, token)
    watching = await _stalled_watcher(url, watcher) if watcher else None
    samples = []
    letters = "abcdefghijklmnopqrstuvwxyz"
    for index in range(keystrokes):
        key = letters[index % len(letters)]
        started = time.perf_counter()
        await client.send_keys(key)
        await client.until(key.encode())
        samples.append((time.perf_counter() - started) * 1000)
        if index % 40 == 39:
            await client.send_keys("\x15")  # Ctrl-U: keep the line short
            await asyncio.sleep(0.01)
    await client.send_keys("\x15\r")
    await client.until(b"$ ")
    size = megabytes * 1000 * 1000
    started = time.perf_counter()
    await client.send_keys(f"base64 -w 100 /dev/urandom | head -c {size}; echo; echo END-$((6*7))-MARK\r")
    received = await client.until(b"END-42-MARK", timeout=600)
    elapsed = time.perf_counter() - started
    rss = _rss_mib(pid)
    await client.ws.close()
    if watching is not None:
        await watching[0].close()
        await watching[1]
    echo = report.summary(samples)
    return {
        "server": kind + (" + stalled watcher" if watcher else ""),
        "echo_p50_ms": echo["p50"],
        "echo_p95_ms": echo["p95"],
        "throughput_mb_s": received / elapsed / 1e6,
        "received_mb": received / 1e6,
        "rss_mib": rss,
    }


# --------------------------------------------------------------------------- the run


def _setup_django(var_dir: str) -> None:
    os.environ["KAFAAT_VAR_DIR"] = var_dir
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", run_syncdb=True, verbosity=0, interactive=False)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks terminal", description=__doc__.splitlines()[0])
    parser.add_argument("--keystrokes", type=int, default=400)
    parser.add_argument("--megabytes", type=int, default=50, help="output volume of the throughput run")
    parser.add_argument("--serve-terminado", nargs=2, metavar=("PORT", "HANDLE"), help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve_terminado:
        serve_terminado(int(args.serve_terminado[0]), args.serve_terminado[1])
        return 0

    var_dir = tempfile.mkdtemp(prefix="kafaat-bench-terminal-")
    _setup_django(var_dir)
    from django.contrib.auth import get_user_model

    from xblocks.labs.models import LabSession
    from xblocks.labs.sandbox.base import SandboxSpec, get_backend
    from xblocks.labs.terminal import api

    backend = get_backend()
    handle = backend.create(SandboxSpec(label=f"bench-terminal-{uuid.uuid4().hex[:6]}"))
    user, _ = get_user_model().objects.get_or_create(username="bench-learner")
    session = LabSession.objects.create(
        user=user,
        usage_key=f"bench-{uuid.uuid4().hex}",
        live_key=uuid.uuid4().hex,
        definition="",
        definition_hash="0" * 64,
        seed="0" * 64,
        state="ready",
        handle=handle.as_json(),
        host=handle.host,
    )
    env = dict(os.environ)
    ours_port, theirs_port = _free_port(), _free_port()
    servers = {
        "kafaat": subprocess.Popen(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "demo.asgi:application",
                "--host",
                "127.0.0.1",
                "--port",
                str(ours_port),
                "--lifespan",
                "off",
                "--log-level",
                "warning",
            ],
            env=env,
        ),
        "terminado": subprocess.Popen(
            [
                sys.executable,
                "-m",
                "benchmarks",
                "terminal",
                "--serve-terminado",
                str(theirs_port),
                json.dumps(handle.as_json()),
            ],
            env=env,
        ),
    }
    try:
        _wait_listening(ours_port, servers["kafaat"])
        _wait_listening(theirs_port, servers["terminado"])
        rows = []
        staff, _ = get_user_model().objects.get_or_create(username="bench-staff", defaults={"is_staff": True})
        for kind, watched in (("terminado", False), ("kafaat", False), ("kafaat", True)):
            token = watcher = None
            if kind == "kafaat":
                token = api.mint_token(user=user, session_id=session.pk, mode="rw")["token"]
                url = f"ws://127.0.0.1:{ours_port}/kafaat/terminal/ws/{session.pk}/"
                if watched:
                    watcher = api.mint_token(user=staff, session_id=session.pk, mode="ro")["token"]
            else:
                url = f"ws://127.0.0.1:{theirs_port}/websocket"
            rows.append(
                asyncio.run(
                    _measure(kind, url, token, args.keystrokes, args.megabytes, servers[kind].pid, watcher=watcher)
                )
            )
    finally:
        for process in servers.values():
            process.terminate()
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                process.kill()
        backend.destroy(handle)

    baseline = rows[0]
    for row in rows:
        row["echo_p95_ratio"] = report.ratio(row["echo_p95_ms"], baseline["echo_p95_ms"])
        row["throughput_ratio"] = report.ratio(row["throughput_mb_s"], baseline["throughput_mb_s"])
        row["rss_ratio"] = report.ratio(row["rss_mib"], baseline["rss_mib"])
    report.print_table(
        f"Terminal: {args.keystrokes} keystrokes, {args.megabytes} MB of output, same sandboxed shell "
        "(ratios: ÷ terminado)",
        rows,
        [
            "server",
            "echo_p50_ms",
            "echo_p95_ms",
            "echo_p95_ratio",
            "throughput_mb_s",
            "throughput_ratio",
            "rss_mib",
            "rss_ratio",
        ],
    )
    ours = rows[1]
    print(
        f"\ntargets: echo p95 ≤ {TARGETS['echo_p95_ms']} ms: {ours['echo_p95_ms']:.2f} ms; "
        f"throughput ≥ terminado's: ×{ours['throughput_ratio']:.2f}"
    )
    report.save(
        "terminal", {"rows": rows, "targets": TARGETS, "keystrokes": args.keystrokes, "megabytes": args.megabytes}
    )
    return 0
