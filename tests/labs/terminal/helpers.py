"""A harness for the gateway: run the demo ASGI app in a subprocess on the test database, and talk
to it as kafaat-terminal.js does (auth message, binary keystrokes, acks). Used by the terminal and
browser tests."""

from __future__ import annotations

import asyncio
import json
import os
import pathlib
import socket
import subprocess
import sys
import time

import websockets

ORIGIN = "http://127.0.0.1:8000"
ROOT = str(pathlib.Path(__file__).resolve().parents[3])


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Gateway:
    def __init__(self, process: subprocess.Popen, port: int):
        self.process = process
        self.port = port

    @property
    def pid(self) -> int:
        return self.process.pid

    def url(self, session_id: int) -> str:
        return f"ws://127.0.0.1:{self.port}/kafaat/terminal/ws/{session_id}/"


def start_gateway(server: str, db_name: str, **extra_env: str) -> Gateway:
    """Start the demo ASGI app under ``server`` (uvicorn or daphne) on a free port; wait until it listens."""
    port = _free_port()
    env = dict(os.environ)
    env["KAFAAT_GATEWAY_DB_NAME"] = db_name
    env.update(
        {
            "KAFAAT_TERMINAL_TRANSCRIPT_FLUSH_SECONDS": "0.2",
            "KAFAAT_TERMINAL_ACTIVITY_INTERVAL": "0",
            "KAFAAT_TERMINAL_RECONNECT_GRACE": "5",
            "PYTHONUNBUFFERED": "1",
        }
    )
    # service tabs on *.svc.localhost at this port (the proxy answers on the same server)
    env["KAFAAT_SERVICE_ORIGIN"] = f"http://{{id}}.svc.localhost:{port}"
    env.update(extra_env)
    process = subprocess.Popen(
        [sys.executable, "-m", "tests.labs.terminal.gateway_server", str(port), server],
        env=env,
        cwd=ROOT,
    )
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                raise RuntimeError("the gateway did not start") from None
            time.sleep(0.1)
    return Gateway(process, port)


def stop_gateway(gateway: Gateway) -> None:
    gateway.process.terminate()
    try:
        gateway.process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        gateway.process.kill()


class Terminal:
    """A websocket client of the gateway: authenticates, collects output, acknowledges what it read."""

    def __init__(self, ws, *, ack: bool = True):
        self.ws = ws
        self.ack = ack
        self.output = bytearray()
        self.cursor = 0  # where the next expect() starts looking
        self.controls: list[dict] = []
        self.unacked = 0

    async def recv_one(self, timeout: float) -> None:
        message = await asyncio.wait_for(self.ws.recv(), timeout)
        if isinstance(message, str):
            self.controls.append(json.loads(message))
            return
        self.output += message
        if self.ack:
            try:
                await self.ws.send(json.dumps({"type": "ack", "bytes": len(message)}))
            except websockets.ConnectionClosed:
                pass  # the server closed after this output; what it sent before still reads
        else:
            self.unacked += len(message)

    async def expect(self, needle: bytes, timeout: float = 5.0) -> float:
        """Read until ``needle`` appears after the previous match; returns the seconds it took."""
        begin = time.monotonic()
        deadline = begin + timeout
        while (found := self.output.find(needle, self.cursor)) < 0:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"{needle!r} not seen; last output: {bytes(self.output[-300:])!r}")
            try:
                await self.recv_one(remaining)
            except TimeoutError:
                continue
        self.cursor = found + len(needle)
        return time.monotonic() - begin

    async def type(self, text: str) -> None:
        await self.ws.send(text.encode())

    async def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (remaining := deadline - time.monotonic()) > 0:
            try:
                await self.recv_one(remaining)
            except TimeoutError:
                return


async def connect(url: str, token: str | None, *, origin: str | None = ORIGIN, ack: bool = True, first=None):
    """Open a websocket to the gateway and send the auth message (or ``first`` verbatim)."""
    ws = await websockets.connect(url, origin=origin, proxy=None, compression=None, max_size=None, open_timeout=5)
    if first is None:
        first = json.dumps({"type": "auth", "token": token, "cols": 100, "rows": 30})
    try:
        await ws.send(first)
    except websockets.ConnectionClosed:
        pass  # refused before our first message arrived (Origin); the close code tells why
    return Terminal(ws, ack=ack)


async def refusal_code(url: str, token: str | None, **kwargs) -> tuple[int | None, list]:
    """The close code the gateway answers with, and whatever it sent before closing."""
    term = await connect(url, token, **kwargs)
    received = []
    try:
        while True:
            received.append(await asyncio.wait_for(term.ws.recv(), 5))
    except websockets.ConnectionClosed as closed:
        return (closed.rcvd.code if closed.rcvd else None), received
