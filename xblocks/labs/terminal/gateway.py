"""The websocket endpoint of the terminal: authenticate with a single-use token, then bridge to a shell.

Protocol (see docs/terminal.md): the browser's FIRST message is ``{"type": "auth", "token": ...,
"cols": 80, "rows": 24}`` (never a URL parameter, which proxies log); afterwards binary frames are
keystrokes, text frames are JSON controls (``resize``, ``ack`` of bytes xterm.js has rendered,
``ping``). The server sends binary frames of output and JSON controls (``ready``, ``exit``,
``replaced``, ``lagging``, ``error``, ``pong``). A wrong Origin or any token problem closes with 1008 (4008
under daphne) before a single byte is sent.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging

from channels.db import database_sync_to_async

from xblocks.labs.terminal import api
from xblocks.labs.terminal.conf import terminal_settings
from xblocks.labs.terminal.shells import Client, registry

log = logging.getLogger(__name__)

POLICY_VIOLATION = 1008
# Autobahn (under daphne) lets an application send only 1000 or 3000-4999; there the gateway sends
# 4008, the same refusal in the private range. uvicorn and hypercorn send 1008 itself.
POLICY_VIOLATION_PRIVATE = 4008
TOO_BIG = 4009  # a frame over TERMINAL_MAX_INPUT_FRAME (1009 in the private range, see above)
UNAVAILABLE = 4011  # the sandbox cannot give a shell now; the browser may retry later
MAX_COLS, MAX_ROWS = 1000, 500


def origin_allowed(scope) -> bool:
    """Browsers send Origin on every websocket upgrade and apply no same-origin rule: check it."""
    origins = [value for key, value in scope.get("headers", []) if key.lower() == b"origin"]
    if len(origins) != 1:
        return False
    return origins[0].decode("latin-1").rstrip("/") in allowed_origins()


def allowed_origins() -> set[str]:
    """The site's own origin (``LMS_ROOT_URL``, the demo's host and port) plus the configured ones."""
    from xblocks.core import site  # pylint: disable=import-outside-toplevel

    return site.allowed_origins(terminal_settings.TERMINAL_ALLOWED_ORIGINS)


def _origin(scope) -> str:
    return ",".join(v.decode("latin-1") for k, v in scope.get("headers", []) if k.lower() == b"origin")[:200]


def _dimension(value, default: int, limit: int) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= limit else default


def _json(text: str | None) -> dict | None:
    try:
        value = json.loads(text or "")
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


async def _refuse(send) -> None:
    try:
        await send({"type": "websocket.close", "code": POLICY_VIOLATION})
    except Exception:
        await send({"type": "websocket.close", "code": POLICY_VIOLATION_PRIVATE})


async def application(scope, receive, send) -> None:
    """ASGI application for ``websocket`` scopes routed to ``.../<session_id>/``."""
    if scope["type"] != "websocket":
        raise ValueError("the terminal gateway serves websockets only")
    message = await receive()
    if message["type"] != "websocket.connect":
        return
    try:
        session_id = int(scope.get("url_route", {}).get("kwargs", {})["session_id"])
    except (KeyError, TypeError, ValueError):
        await send({"type": "websocket.close"})
        return
    # Accept first so that refusals carry a close code (1008) the browser can tell from a network error.
    await send({"type": "websocket.accept"})
    if not origin_allowed(scope):
        log.warning("terminal websocket for session %s refused: origin %r not allowed", session_id, _origin(scope))
        await _refuse(send)
        return
    try:
        first = await asyncio.wait_for(receive(), float(terminal_settings.TERMINAL_AUTH_TIMEOUT))
    except TimeoutError:
        await _refuse(send)
        return
    if first["type"] != "websocket.receive":
        return
    auth = _json(first.get("text"))
    if auth is None or auth.get("type") != "auth":
        await _refuse(send)
        return
    try:
        claim = await database_sync_to_async(api.consume_token)(auth.get("token"), session_id)
    except Exception:
        log.exception("terminal token check for session %s failed", session_id)
        claim = None  # fail closed
    if claim is None:
        log.warning("terminal websocket for session %s refused: bad token", session_id)
        await _refuse(send)
        return
    cols = _dimension(auth.get("cols"), 80, MAX_COLS)
    rows = _dimension(auth.get("rows"), 24, MAX_ROWS)
    client = Client(claim, send)
    try:
        shell = await registry.attach(claim, client, cols, rows)
    except Exception:
        # SandboxError (sandbox gone, host full) or anything else: no shell, and the reason stays in the log
        log.warning("no shell for lab session %s", session_id, exc_info=True)
        client.push_control({"type": "error", "reason": "unavailable"})
        client.push_close(UNAVAILABLE)
        await client.closed.wait()
        if claim.attach_id is not None:
            await database_sync_to_async(api.end_attach)(claim.attach_id)
        return
    max_frame = int(terminal_settings.TERMINAL_MAX_INPUT_FRAME)
    client.owner = asyncio.current_task()
    try:
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                break
            data = message.get("bytes")
            if data is not None:
                if len(data) > max_frame:
                    client.push_close(TOO_BIG)
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(client.closed.wait(), 1.0)
                    break
                shell.write(client, data)
                continue
            control = _json(message.get("text"))
            if control is None:
                continue
            kind = control.get("type")
            if kind == "ack":
                count = control.get("bytes")
                if isinstance(count, int) and not isinstance(count, bool):
                    shell.ack(client, count)
            elif kind == "input":
                text = control.get("data")
                if isinstance(text, str) and len(text) <= max_frame:
                    shell.write(client, text.encode("utf-8"))
            elif kind == "resize":
                shell.resize(
                    client,
                    _dimension(control.get("cols"), cols, MAX_COLS),
                    _dimension(control.get("rows"), rows, MAX_ROWS),
                )
            elif kind == "ping":
                client.push_control({"type": "pong"})
    except asyncio.CancelledError:
        if not client.dropped:
            raise
        # A watcher dropped for lagging whose socket would not even take the close: end here and
        # let the server close the connection.
        asyncio.current_task().uncancel()
    finally:
        shell.detach(client)
        client.stop()
