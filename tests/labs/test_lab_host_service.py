"""``kafaat_lab_host run``: one command makes this machine a lab host (worker, terminal gateway, heartbeat)."""

from __future__ import annotations

import asyncio
import signal
import socket
import subprocess
import sys
import urllib.request
import uuid

import pytest

from tests.labs.helpers import CHECKOUT, checked, child_env, wait_for
from tests.labs.terminal.helpers import connect
from xblocks.labs import api, labhost
from xblocks.labs.models import LabHost, LabSession, label_prefix

pytestmark = [pytest.mark.redis, pytest.mark.sandbox, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_the_worker_and_gateway_commands_carry_the_host_queues_and_role():
    options = labhost.Options(name="lab-7", capacity=3, celery_app="lms.celery", extra_queues=("celery",))
    command = labhost.worker_command(options)
    assert command[command.index("--queues") + 1] == "kafaat.labs,kafaat.labs.lab-7,celery"
    assert command[command.index("--app") + 1] == "lms.celery"
    gateway = labhost.gateway_command(options)
    assert gateway[3:4] == ["xblocks.labs.terminal.asgi:application"] and gateway[gateway.index("--port") + 1] == "8010"
    env = labhost.environment(options)
    assert (env["KAFAAT_LAB_HOST_ROLE"], env["KAFAAT_LAB_HOST"]) == ("1", "lab-7")


def test_one_command_runs_a_lab_host_that_takes_sessions_until_it_is_stopped(
    lab_factory, backend, redis_lab_queue, monkeypatch, tmp_path
):
    name = f"svc-{uuid.uuid4().hex[:6]}"
    port = _free_port()
    log_path = tmp_path / "service.log"
    env = child_env(KAFAAT_LAB_HOST_HEARTBEAT="1")
    with log_path.open("wb") as log:
        service = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "django",
                "kafaat_lab_host",
                "run",
                "--name",
                name,
                "--celery-app",
                "demo",
                "--concurrency",
                "2",
                "--capacity",
                "3",
                "--gateway-bind",
                f"127.0.0.1:{port}",
                "--gateway-url",
                f"ws://127.0.0.1:{port}",
            ],
            cwd=CHECKOUT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:

        def registered():
            row = LabHost.objects.filter(name=name).first()
            return row if row is not None and row.accepting else None

        # accepting only once the worker's self-test (requirements, then every abuse case) has passed
        row = wait_for(registered, 120, "the lab host to register as accepting")
        assert (row.capacity, row.queue, row.gateway_url) == (3, f"{redis_lab_queue}.{name}", f"ws://127.0.0.1:{port}")
        with pytest.raises(urllib.error.HTTPError) as http:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=5)  # noqa: S310
        assert http.value.code == 404 and b"websockets only" in http.value.read()

        monkeypatch.setenv("KAFAAT_LAB_HOST_ROLE", "0")  # this test process is the LMS
        page = lab_factory("files_and_flags")
        session_id = page.ok("start")["session_id"]
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "ready", 90, "the service to start the lab")
        assert LabSession.objects.get(pk=session_id).host == name
        grant = page.ok("terminal_token")
        assert grant["url"] == f"ws://127.0.0.1:{port}/kafaat/terminal/ws/{session_id}/"

        async def type_in_terminal():
            terminal = await connect(grant["url"], grant["token"])
            await terminal.type(f"echo {name}-ok > ~/proof && cat ~/proof\n")
            await terminal.expect(f"{name}-ok".encode(), timeout=15)
            await terminal.ws.close()

        asyncio.run(type_in_terminal())
        assert checked(page, "write")["passed"] is False  # ran on the service's worker
        page.ok("stop")
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "stopped", 60, "the teardown")
        status = next(status for status in api.lab_hosts() if status.name == name)
        assert status.alive and status.accepting and status.live_sessions == 0
    finally:
        if service.poll() is None:
            service.send_signal(signal.SIGTERM)
        code = service.wait(timeout=60)
        for handle in backend.inventory():
            if handle.label.startswith(label_prefix()):
                backend.destroy(handle)
    text = log_path.read_text(errors="replace")
    assert code == 0, text[-4000:]
    assert f"lab host {name}: stopped" in text
    row = LabHost.objects.get(name=name)
    assert row.stopped_at is not None and not row.accepting
    assert not next(status for status in api.lab_hosts() if status.name == name).alive
