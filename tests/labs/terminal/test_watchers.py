"""A slow staff watcher never freezes the learner's terminal: the learner's socket alone drives flow control.

The gateway runs under uvicorn with a real sandbox shell; the watcher lag limit is lowered so that a
flood of a few megabytes crosses it quickly.
"""

from __future__ import annotations

import asyncio
import json
import socket
import time

import psutil
import pytest
import websockets
from asgiref.sync import sync_to_async
from django.db import connection

from tests.labs.terminal.helpers import ORIGIN, Terminal, connect, start_gateway, stop_gateway
from xblocks.labs.terminal import api
from xblocks.labs.terminal.models import StaffAttach

pytestmark = [pytest.mark.sandbox, pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

MAX_LAG = 256 * 1024
FLOOD = "seq 1 700000; echo flood-done-$((6*7))\r"  # about 4.6 MB of output


@pytest.fixture(scope="module")
def watched_gateway(django_db_setup, django_db_blocker):
    with django_db_blocker.unblock():
        server = start_gateway(
            "uvicorn",
            str(connection.settings_dict["NAME"]),
            KAFAAT_TERMINAL_WATCHER_MAX_LAG=str(MAX_LAG),
            KAFAAT_TERMINAL_WATCHER_CLOSE_TIMEOUT="1",
        )
    yield server
    stop_gateway(server)


def token(user, session, mode="rw"):
    return api.mint_token(user=user, session_id=session.pk, mode=mode)["token"]


async def ready(term: Terminal) -> Terminal:
    while not term.controls:
        await term.recv_one(10)
    assert term.controls[0].get("type") == "ready", term.controls
    return term


async def read_until_closed(term: Terminal) -> int | None:
    """Read everything the watcher is sent (never acknowledging it) until the gateway closes the socket."""
    try:
        while True:
            await term.recv_one(30)
    except websockets.ConnectionClosed as closed:
        return closed.rcvd.code if closed.rcvd else None


def test_a_watcher_that_never_acknowledges_is_dropped_and_the_learner_output_keeps_flowing(
    watched_gateway, make_user, lab_session
):
    alice, staff = make_user("alice"), make_user("teacher", is_staff=True)
    session = lab_session(alice)
    learner_token, watcher_token = token(alice, session), token(staff, session, mode="ro")

    async def scenario():
        learner = await ready(await connect(watched_gateway.url(session.pk), learner_token))
        watcher = await ready(await connect(watched_gateway.url(session.pk), watcher_token, ack=False))
        watching = asyncio.create_task(read_until_closed(watcher))
        await learner.type(FLOOD)
        took = await learner.expect(b"flood-done-42", timeout=20)
        await learner.type("echo after-$((2+3))\r")
        await learner.expect(b"after-5", timeout=5)
        code = await asyncio.wait_for(watching, 30)
        await learner.ws.close()
        return took, len(learner.output), code, watcher.controls, watcher.unacked

    took, learner_bytes, code, controls, watcher_bytes = asyncio.run(scenario())
    assert learner_bytes > 4_000_000  # the whole flood reached the learner
    assert code == 4012 and controls[-1] == {"type": "lagging"}
    assert watcher_bytes <= MAX_LAG + 64 * 1024 + 64 * 1024  # the limit, one read and the ring at most
    attach = StaffAttach.objects.get(staff=staff)
    assert attach.ended_at is not None  # the audit row records the watch as ended
    print(f"flood of {learner_bytes} bytes reached the learner in {took:.2f} s")


def test_a_watcher_whose_socket_takes_nothing_is_cut_off_without_holding_the_learner(
    watched_gateway, make_user, lab_session
):
    alice, staff = make_user("alice"), make_user("teacher", is_staff=True)
    session = lab_session(alice)
    learner_token, watcher_token = token(alice, session), token(staff, session, mode="ro")
    process = psutil.Process(watched_gateway.pid)

    async def stalled_watcher():
        """A client whose kernel buffer is tiny and who never reads: the gateway's sends to it block."""
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        sock.connect(("127.0.0.1", watched_gateway.port))
        ws = await websockets.connect(
            watched_gateway.url(session.pk), sock=sock, origin=ORIGIN, proxy=None, max_queue=1, compression=None
        )
        await ws.send(json.dumps({"type": "auth", "token": watcher_token, "cols": 100, "rows": 30}))
        return ws

    async def scenario():
        learner = await ready(await connect(watched_gateway.url(session.pk), learner_token))
        watcher = await stalled_watcher()
        await asyncio.sleep(0.5)
        before = process.memory_info().rss
        await learner.type(FLOOD)
        # Before this change the flood stopped until the server's keepalive gave up on the watcher (~40 s).
        await learner.expect(b"flood-done-42", timeout=20)
        peak = process.memory_info().rss
        await learner.type("echo after-$((2+3))\r")
        await learner.expect(b"after-5", timeout=5)
        ended = await sync_to_async(wait_for_end)(staff)
        watcher.transport.abort()
        await learner.ws.close()
        return len(learner.output), peak - before, ended

    learner_bytes, growth, ended = asyncio.run(scenario())
    assert learner_bytes > 4_000_000
    assert ended  # the gateway let go of the watcher (its application ended and the watch was closed)
    assert growth < 40 * 1024 * 1024


def wait_for_end(staff, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if StaffAttach.objects.filter(staff=staff, ended_at__isnull=False).exists():
            return True
        time.sleep(0.1)
    return False
