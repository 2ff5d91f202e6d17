"""Connections into a sandbox's network namespace: the service proxy's upstream, with no host port."""

from __future__ import annotations

import os
import socket
import statistics
import time

import pytest

from xblocks.labs.sandbox.base import SandboxNotFound, User
from xblocks.labs.sandbox.local import ports

pytestmark = pytest.mark.sandbox

SERVE = """cd /tmp && mkdir -p www && echo "hello from inside" > www/index.html
nohup python3 -m http.server --bind 127.0.0.1 --directory www "$1" >/dev/null 2>&1 &
for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && exit 0; sleep 0.05; done; exit 1
"""


def _get(sock: socket.socket) -> bytes:
    sock.sendall(b"GET /index.html HTTP/1.0\r\nHost: x\r\n\r\n")
    data = b""
    while chunk := sock.recv(65536):
        data += chunk
    sock.close()
    return data


def test_a_port_inside_the_sandbox_is_reached_without_a_host_port(local_backend, sandbox):
    assert local_backend.exec(sandbox, SERVE, user=User.LEARNER, args=("8123",), timeout=20).ok
    reply = _get(local_backend.connect(sandbox, 8123))
    assert reply.startswith(b"HTTP/1.0 200") and reply.endswith(b"hello from inside\n")
    # the host's own loopback has nothing there: the port exists only in the sandbox's namespace
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", 8123), timeout=2):
        pass
    # the calling thread is back in the host's namespace afterwards
    assert os.readlink("/proc/thread-self/ns/net") == os.readlink("/proc/self/ns/net")


def test_nothing_listening_is_refused_and_a_gone_sandbox_is_not_found(local_backend, make_sandbox):
    handle = make_sandbox()
    with pytest.raises(ConnectionRefusedError):
        local_backend.connect(handle, 8124)
    local_backend.destroy(handle)
    with pytest.raises(SandboxNotFound):
        local_backend.connect(handle, 8124)
    with pytest.raises(SandboxNotFound):  # a recycled pid (another start time) never leads elsewhere
        ports.connect(type(handle)(id=handle.id, backend="local", host="", data={"pid": 1, "start": -1}), 80)


def test_connecting_costs_well_under_a_millisecond(local_backend, sandbox):
    assert local_backend.exec(sandbox, SERVE, user=User.LEARNER, args=("8125",), timeout=20).ok
    entering, connecting = [], []
    for _ in range(100):
        started = time.perf_counter()
        ports.socket_in(sandbox).close()
        entering.append(time.perf_counter() - started)
        started = time.perf_counter()
        _get(ports.connect(sandbox, 8125))  # a whole request, so the server's small backlog never fills
        connecting.append(time.perf_counter() - started)
    entered, answered = statistics.median(entering) * 1000, statistics.median(connecting) * 1000
    print(f"setns + socket: median {entered:.3f} ms; connect + GET + answer: median {answered:.3f} ms")
    assert entered < 5  # a generous bound on a loaded 2-core machine
