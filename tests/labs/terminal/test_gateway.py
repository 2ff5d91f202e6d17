"""The gateway end to end: daphne on 127.0.0.1, a websocket client, a real sandbox shell behind it."""

import asyncio
import datetime
import json
import time
import uuid

import psutil
import pytest
from asgiref.sync import sync_to_async
from django.utils import timezone

from tests.labs.terminal.helpers import connect, refusal_code
from xblocks.labs.terminal import api
from xblocks.labs.terminal.conf import terminal_settings
from xblocks.labs.terminal.models import StaffAttach, TerminalToken

pytestmark = [pytest.mark.sandbox, pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]


def token(user, session, mode="rw"):
    return api.mint_token(user=user, session_id=session.pk, mode=mode)["token"]


async def atoken(user, session, mode="rw"):
    return await sync_to_async(token)(user, session, mode)


async def ready(term):
    while not term.controls:
        await term.recv_one(10)
    assert term.controls[0].get("type") == "ready", term.controls
    return term


def wait_for(predicate, timeout=5.0):
    deadline = time.monotonic() + timeout
    while not (value := predicate()):
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)
    return value


def test_typing_a_command_echoes_it_and_runs_it_in_the_sandbox(gateway, make_user, lab_session):
    alice = make_user("alice")
    session = lab_session(alice)

    async def scenario():
        term = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        await term.type("echo hel''lo; hostname\r")
        await term.expect(b"echo hel''lo")  # the shell echoed the keystrokes
        await term.expect(b"hello\r\n")  # and ran them
        await term.ws.close()

    asyncio.run(scenario())


def _expired(alice, session):
    value = token(alice, session)
    TerminalToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    return value


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("foreign origin", {"origin": "https://evil.example"}),
        ("origin with a lookalike suffix", {"origin": "http://127.0.0.1:8000.evil.example"}),
        ("no origin", {"origin": None}),
        ("expired token", {}),
        ("other learner's session", {}),
        ("staff token in writable mode", {}),
        ("no token", {}),
        ("token in a plain text frame", {}),
        ("not json", {"first": "{{{"}),
    ],
)
def test_the_gateway_closes_with_1008_and_sends_nothing(gateway, make_user, lab_session, case, kwargs):
    alice, bob = make_user("alice"), make_user("bob")
    session, bobs = lab_session(alice), lab_session(bob)
    value = token(alice, session)
    url = gateway.url(session.pk)
    if case == "expired token":
        value = _expired(alice, session)
    elif case == "other learner's session":
        url = gateway.url(bobs.pk)  # alice's valid token presented on bob's lab
    elif case == "staff token in writable mode":
        staff = make_user("teacher", is_staff=True)
        value = token(staff, session, mode="ro")
        TerminalToken.objects.filter(user=staff).update(mode="rw")  # tampered to writable
    elif case == "no token":
        kwargs = {"first": json.dumps({"type": "auth"})}
    elif case == "token in a plain text frame":
        kwargs = {"first": value}
    code, received = asyncio.run(refusal_code(url, value, **kwargs))
    assert (code, received) == (1008, [])


def test_a_replayed_token_is_refused(gateway, make_user, lab_session):
    alice = make_user("alice")
    session = lab_session(alice)
    value = token(alice, session)

    async def scenario():
        first = await ready(await connect(gateway.url(session.pk), value))
        await first.ws.close()
        return await refusal_code(gateway.url(session.pk), value)

    assert asyncio.run(scenario()) == (1008, [])


def test_a_client_that_never_authenticates_is_closed(gateway, make_user, lab_session, settings):
    import websockets

    session = lab_session(make_user("alice"))

    async def scenario():
        ws = await websockets.connect(gateway.url(session.pk), origin="http://localhost:8000", proxy=None)
        try:
            await asyncio.wait_for(ws.recv(), float(terminal_settings.TERMINAL_AUTH_TIMEOUT) + 3)
        except websockets.ConnectionClosed as closed:
            return closed.rcvd.code

    assert asyncio.run(scenario()) == 1008


def test_read_only_watchers_see_the_shell_but_their_keystrokes_are_dropped(gateway, make_user, lab_session, sandbox):
    from xblocks.labs.sandbox.base import get_backend

    alice, staff = make_user("alice"), make_user("teacher", is_staff=True)
    session = lab_session(alice)
    proof = f"/tmp/ro-proof-{uuid.uuid4().hex[:8]}"

    async def scenario():
        learner = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        watcher = await ready(await connect(gateway.url(session.pk), await atoken(staff, session, mode="ro")))
        assert watcher.controls[0]["mode"] == "ro"
        await watcher.type(f"touch {proof}\r")
        await watcher.ws.send(json.dumps({"type": "input", "data": f"touch {proof}\r"}))
        await watcher.ws.send(json.dumps({"type": "resize", "cols": 20, "rows": 5}))
        await learner.type("echo done-$((40+2)); stty size\r")
        await learner.expect(b"done-42")
        await learner.expect(b"30 100")  # the watcher's resize was ignored
        await watcher.expect(b"done-42")  # the watcher sees what the learner does
        assert b"touch" not in learner.output and b"touch" not in watcher.output
        await watcher.ws.close()
        await learner.ws.close()

    asyncio.run(scenario())
    result = get_backend(sandbox.backend).exec(sandbox, f"test -e {proof} && echo present || echo absent")
    assert result.stdout.strip() == "absent"
    attach = wait_for(lambda: StaffAttach.objects.filter(ended_at__isnull=False).first())
    assert (attach.staff_id, attach.learner_id, attach.session_id) == (staff.pk, alice.pk, session.pk)


def test_reconnecting_reattaches_to_the_same_shell_and_replays_recent_output(gateway, make_user, lab_session):
    alice = make_user("alice")
    session = lab_session(alice)
    marker = uuid.uuid4().hex[:8]

    async def scenario():
        first = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        await first.type(f"KAFAAT_MARK={marker}; echo set-$((1+1))\r")
        await first.expect(b"set-2")
        await first.ws.close()  # a network blip or a page reload
        await asyncio.sleep(0.3)
        second = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        await second.expect(b"set-2")  # the screen comes back from the ring buffer
        await second.type("echo got-$KAFAAT_MARK\r")
        await second.expect(f"got-{marker}".encode())  # the shell variable survived: same shell
        await second.ws.close()

    asyncio.run(scenario())


def test_a_second_writer_takes_over_from_the_first(gateway, make_user, lab_session):
    alice = make_user("alice")
    session = lab_session(alice)

    async def scenario():
        old = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        new = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        with pytest.raises(Exception) as closed:  # noqa: B017  websockets.ConnectionClosed
            while True:
                await old.recv_one(5)
        assert closed.value.rcvd.code == 4001
        assert {"type": "replaced"} in old.controls
        await new.type("echo still-$((2+2))\r")
        await new.expect(b"still-4")
        await new.ws.close()

    asyncio.run(scenario())


def test_an_output_flood_keeps_gateway_memory_bounded_and_keystrokes_answered(gateway, make_user, lab_session):
    alice = make_user("alice")
    session = lab_session(alice)
    process = psutil.Process(gateway.pid)

    async def scenario():
        term = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        await term.type("echo warm; \r")
        await term.expect(b"warm")
        before = process.memory_info().rss
        await term.type("yes kafaat-flood-line\r")
        peak, received = before, 0
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            await term.drain(0.5)
            received += len(term.output)
            term.output.clear()
            term.cursor = 0
            peak = max(peak, process.memory_info().rss)
        await term.type("\x03")
        await term.type("echo answered-$((6*7))\r")
        latency = await term.expect(b"answered-42", timeout=5)
        await term.ws.close()
        return before, peak, received, latency

    before, peak, received, latency = asyncio.run(scenario())
    assert received > 5 * 1024 * 1024  # the flood really flowed through the gateway
    assert peak - before < 40 * 1024 * 1024
    assert latency < 1.0


def test_a_client_that_stops_acknowledging_stops_the_shell_output(gateway, make_user, lab_session):
    alice = make_user("alice")
    session = lab_session(alice)
    high = int(terminal_settings.TERMINAL_HIGH_WATERMARK)
    slack = int(terminal_settings.TERMINAL_READ_CHUNK) + int(terminal_settings.TERMINAL_RING_BYTES)

    async def scenario():
        term = await ready(await connect(gateway.url(session.pk), await atoken(alice, session), ack=False))
        await term.type("yes paused-line\r")
        await term.drain(2.0)
        stalled = term.unacked
        await term.drain(1.0)
        assert term.unacked == stalled  # nothing more arrives without acks
        await term.ws.send(json.dumps({"type": "ack", "bytes": term.unacked}))
        term.ack = True
        await term.drain(1.0)
        await term.ws.close()
        return stalled, len(term.output)

    stalled, total = asyncio.run(scenario())
    assert high <= stalled <= high + slack
    assert total > stalled + high  # acknowledging resumed the flow


def test_history_transcript_and_activity_are_recorded(gateway, make_user, lab_session):
    from xblocks.labs.models import LabSession

    alice = make_user("alice")
    session = lab_session(alice)

    async def scenario():
        term = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        await term.type("echo first-$((1+1))\r")
        await term.expect(b"first-2")
        await term.type("ls -d /tm\x7f\x7fmp\r")
        await term.expect(b"/mp")
        await term.ws.close()

    asyncio.run(scenario())
    history = wait_for(lambda: api.command_history(session.pk).count(b"\n") >= 2 and api.command_history(session.pk))
    assert history.splitlines()[-2:] == [b"echo first-$((1+1))", b"ls -d /mp"]
    cast = api.transcript(session.pk).splitlines()
    assert json.loads(cast[0])["version"] == 2
    events = [json.loads(line) for line in cast[1:]]
    assert any(kind == "o" and "first-2" in data for _t, kind, data in events)
    assert any(kind == "i" for _t, kind, _d in events)
    assert [t for t, _k, _d in events] == sorted(t for t, _k, _d in events)
    assert LabSession.objects.get(pk=session.pk).last_activity is not None


def test_exit_ends_the_shell_and_the_next_connection_starts_a_new_one(gateway, make_user, lab_session):
    alice = make_user("alice")
    session = lab_session(alice)

    async def scenario():
        term = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        await term.type("KEEP=old; exit\r")
        with pytest.raises(Exception) as closed:  # noqa: B017  websockets.ConnectionClosed
            while True:
                await term.recv_one(5)
        assert closed.value.rcvd.code == 1000 and {"type": "exit"} in term.controls
        fresh = await ready(await connect(gateway.url(session.pk), await atoken(alice, session)))
        await fresh.type("echo keep=${KEEP:-none}\r")
        await fresh.expect(b"keep=none")
        await fresh.ws.close()

    asyncio.run(scenario())


def test_under_daphne_as_in_the_demo_the_gateway_bridges_and_refuses_with_4008(daphne_gateway, make_user, lab_session):
    """Autobahn lets applications send only 1000 or 3000-4999, so daphne carries the refusal as 4008."""
    alice = make_user("alice")
    session = lab_session(alice)
    value = token(alice, session)

    async def scenario():
        term = await ready(await connect(daphne_gateway.url(session.pk), value))
        await term.type("echo via-$((3*3))\r")
        await term.expect(b"via-9")
        await term.ws.close()
        refused = await refusal_code(daphne_gateway.url(session.pk), value, origin="https://evil.example")
        replay = await refusal_code(daphne_gateway.url(session.pk), value)
        return refused, replay

    assert asyncio.run(scenario()) == ((4008, []), (4008, []))


def test_a_session_whose_sandbox_is_gone_gets_an_error_and_no_shell(gateway, make_user, lab_session, sandbox):
    from xblocks.labs.sandbox.base import SandboxHandle

    alice = make_user("alice")
    gone = SandboxHandle(id="0000deadbeef0000", backend=sandbox.backend, host=sandbox.host, label="gone")
    session = lab_session(alice, handle=gone)

    async def scenario():
        term = await connect(gateway.url(session.pk), await atoken(alice, session))
        with pytest.raises(Exception) as closed:  # noqa: B017  websockets.ConnectionClosed
            while True:
                await term.recv_one(10)
        return closed.value.rcvd.code, term.controls, bytes(term.output)

    assert asyncio.run(scenario()) == (4011, [{"type": "error", "reason": "unavailable"}], b"")


def test_each_machine_of_a_lab_has_its_own_transcript_and_history(gateway, make_user, lab_session):
    from xblocks.labs.sandbox.base import MachineSpec, SandboxSpec, get_backend

    backend = get_backend()
    label = f"kafaat-terminal-test-{uuid.uuid4().hex[:8]}"
    handle = backend.create(SandboxSpec(machines=(MachineSpec("one"), MachineSpec("two")), label=label))
    try:
        alice = make_user("alice")
        session = lab_session(alice, handle=handle)

        async def scenario():
            for machine, command, answer in (
                ("", "echo on-$(hostname)", b"on-one"),
                ("two", "echo at-$(hostname)", b"at-two"),
            ):
                grant = await sync_to_async(api.mint_token)(
                    user=alice, session_id=session.pk, mode="rw", machine=machine
                )
                term = await ready(await connect(gateway.url(session.pk), grant["token"]))
                await term.type(command + "\r")
                await term.expect(answer)
                await term.ws.close()

        asyncio.run(scenario())
        first = wait_for(lambda: api.command_history(session.pk, ""))
        second = wait_for(lambda: api.command_history(session.pk, "two"))
        assert first.splitlines() == [b"echo on-$(hostname)"] and second.splitlines() == [b"echo at-$(hostname)"]
        assert api.transcript_machines(session.pk) == ["", "two"]
        assert "on-one" in api.transcript(session.pk, "") and "on-one" not in api.transcript(session.pk, "two")
        assert "at-two" in api.transcript(session.pk, "two") and "at-two" not in api.transcript(session.pk, "")
    finally:
        backend.destroy(handle)
