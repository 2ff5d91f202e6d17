"""The spawner's protocol and its life: crafted requests, a stopped or killed spawner.

Attack: only host root can reach the spawner's socket, so its requests come from the backend; but
a parser that trusts its input turns any slip on the host side (a value with a NUL byte, a count
that wraps) into memory corruption inside the sandbox's most trusted process. Sent as host root:
``argc`` of 0xffffffff with ``envc`` 2 (their 32-bit sum wraps to 1 and the spawner wrote a NULL
32 GiB past its table: it crashed), strings whose NULs do not add up to the counts (an argument
that becomes an environment variable), lengths that disagree, a relative program, a uid out of
range, too few or too many descriptors. Then a learner with sudo stops the spawner (SIGSTOP): every
later request waited 10 s and failed, holding a thread of the terminal gateway each time.
Containment: each crafted request gets ``EINVAL`` and the same spawner keeps serving; the host side
refuses NUL bytes and ``=`` in names before sending, as ``subprocess`` does; a spawner that dies
mid-request is replaced; a stopped one is found (by its executable, which nothing in a sandbox can
be), killed and replaced within a fraction of a second; and a restarted spawner does not stack its
/proc covers again (20 kills took a sandbox from 18 to 158 mounts).
"""

from __future__ import annotations

import array
import os
import socket
import time

import pytest

from xblocks.labs.sandbox import spawner
from xblocks.labs.sandbox.base import SandboxError

pytestmark = pytest.mark.sandbox


def _request(path: str, fields: tuple, strings: bytes, fds: int = 3) -> tuple[int, int] | None:
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    connection.settimeout(5)
    read_end, write_end = os.pipe()
    try:
        connection.connect(path)
        descriptors = array.array("i", [read_end, write_end, write_end, read_end, write_end, read_end][:fds])
        connection.sendmsg(
            [spawner.REQUEST.pack(*fields) + strings], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, descriptors)]
        )
        reply = connection.recv(spawner.REPLY.size)
        return spawner.REPLY.unpack(reply) if len(reply) == spawner.REPLY.size else None
    finally:
        connection.close()
        os.close(read_end)
        os.close(write_end)


def _spawner_pids(local_backend, handle) -> set[int]:
    return {
        pid
        for pid in local_backend._cgroups().pids(handle.id)  # pylint: disable=protected-access
        if _comm(pid) == "kafaat-spawner"
    }


def _descriptors(pid: int) -> list[str]:
    found = []
    for fd in sorted(os.listdir(f"/proc/{pid}/fd"), key=int):
        try:
            found.append(f"{fd}:{os.readlink(f'/proc/{pid}/fd/{fd}').split('[')[0]}")
        except OSError:
            pass
    return found


def _comm(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/comm", encoding="ascii") as handle:
            return handle.read().strip()
    except OSError:
        return ""


def test_crafted_requests_are_refused_and_the_same_spawner_keeps_serving(local_backend, make_sandbox):
    handle = make_sandbox()
    path = str(local_backend._folder(handle) / "spawner.sock")  # pylint: disable=protected-access
    before = _spawner_pids(local_backend, handle)
    strings = b"/bin/true\0A=1\0B=2\0"  # 18 bytes

    def fields(argc, envc, length=18, uid=1000, version=spawner.PROTOCOL, magic=spawner.MAGIC):
        return (magic, version, uid, uid, spawner.NNP, -1, -1, argc, envc, length)

    crafted = {
        "argc + envc wraps to 1": (fields(0xFFFFFFFF, 2), strings, 3),
        "envc alone past the table": (fields(1, 0xFFFFFFFF), strings, 3),
        "NULs that do not add up (an argument turned variable)": (fields(1, 1), strings, 3),
        "strings_length disagrees": (fields(1, 2, length=3), strings, 3),
        "a relative program": (fields(1, 0, length=5), b"true\0", 3),
        "a uid out of range": (fields(1, 0, length=10, uid=70000), b"/bin/true\0", 3),
        "no descriptors for 0, 1, 2": (fields(1, 0, length=10), b"/bin/true\0", 1),
        "another protocol": (fields(1, 0, length=10, version=99), b"/bin/true\0", 3),
        "another magic": (fields(1, 0, length=10, magic=0), b"/bin/true\0", 3),
        "a header cut short": ((spawner.MAGIC, spawner.PROTOCOL, 0, 0, 0, -1, -1, 1, 0, 0), b"", 3),
        "more descriptors than the message has room for": (fields(1, 0, length=10), b"/bin/true\0", 6),
    }
    (spawner_pid,) = before
    # the spawner has served a request, so it is past its start-up (which closes the pipes it was
    # started with and opens its signalfd after it says ready); then its descriptors settle (the
    # request's connection closes just after the reply)
    assert local_backend.exec(handle, "true").ok
    descriptors, deadline = _descriptors(spawner_pid), time.monotonic() + 2
    while time.monotonic() < deadline:
        time.sleep(0.05)
        again = _descriptors(spawner_pid)
        if again == descriptors and not any(fd.endswith(":socket:") for fd in again[3:-1]):
            break
        descriptors = again
    for what, (header, body, fds) in crafted.items():
        if what == "a header cut short":
            connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
            connection.connect(path)
            connection.send(spawner.REQUEST.pack(*header)[:12])
            reply = spawner.REPLY.unpack(connection.recv(spawner.REPLY.size))
            connection.close()
        else:
            reply = _request(path, header, body, fds)
        assert reply == (spawner.ERROR, 22), what  # EINVAL
    assert _spawner_pids(local_backend, handle) == before  # never crashed, never replaced
    deadline = time.monotonic() + 2  # it answers, then closes the connection
    while _descriptors(spawner_pid) != descriptors and time.monotonic() < deadline:
        time.sleep(0.01)
    assert _descriptors(spawner_pid) == descriptors  # and kept no descriptor it was sent
    assert local_backend.exec(handle, "echo served").stdout == "served\n"


def test_the_host_side_refuses_nul_bytes_and_names_with_equals_before_sending(tmp_path):
    nowhere = str(tmp_path / "no-spawner.sock")
    for argv, env in (
        (["/bin/echo", "a\0b"], {}),
        (["/bin/true"], {"A": "1\0LD_PRELOAD=/tmp/x.so"}),
        (["/bin/true"], {"LD_PRELOAD=/tmp/x.so;A": "1"}),
        (["/bin/true"], {"": "1"}),
        (["true"], {}),
    ):
        with pytest.raises(SandboxError) as refused:
            spawner.spawn(nowhere, argv, env, uid=1000, gid=1000, fds=[0, 1, 2], no_new_privs=True)
        assert not isinstance(refused.value, spawner.SpawnerGone)  # refused before any connection


def test_a_spawner_stopped_by_a_learner_with_sudo_is_replaced_at_once(local_backend, make_sandbox):
    handle = make_sandbox(learner_sudo=True)
    stopped = _spawner_pids(local_backend, handle)
    local_backend.exec(handle, "(sleep 0.1; sudo -n pkill -STOP -x kafaat-spawner) >/dev/null 2>&1 &")
    time.sleep(0.3)
    assert local_backend._stopped_spawners(handle) == sorted(stopped)  # pylint: disable=protected-access
    started = time.monotonic()
    assert local_backend.exec(handle, "echo back").stdout == "back\n"
    assert time.monotonic() - started < 3.0  # before: 10 s, then an error, on every request
    assert not _spawner_pids(local_backend, handle) & stopped
    # a process of the learner's that calls itself kafaat-spawner is not taken for one
    local_backend.exec(handle, "cp /bin/sleep /tmp/kafaat-spawner; nohup /tmp/kafaat-spawner 30 >/dev/null 2>&1 &")
    local_backend.exec(handle, "pkill -STOP -x kafaat-spawner")  # as the learner: their own copy only
    assert "T" in local_backend.exec(handle, "ps -o stat= -C kafaat-spawner").stdout
    assert not local_backend._stopped_spawners(handle)  # pylint: disable=protected-access


def test_a_spawner_killed_while_taking_a_request_is_replaced(local_backend, make_sandbox):
    handle = make_sandbox(learner_sudo=True)
    for _ in range(5):
        local_backend.exec(handle, "(sleep 0.01; sudo -n pkill -9 -x kafaat-spawner) >/dev/null 2>&1 &")
        result = local_backend.exec(handle, "echo back")  # ConnectionResetError before, raw, from the socket
        assert result.stdout in ("back\n", "")
    assert local_backend.exec(handle, "echo back").stdout == "back\n"


def test_restarting_a_killed_spawner_stacks_no_mounts(local_backend, make_sandbox):
    """Each start covered /proc/sys and masked /proc files again: 7 more mounts per kill, without end."""
    handle = make_sandbox(learner_sudo=True)
    before = local_backend.exec(handle, "wc -l < /proc/self/mountinfo").stdout
    for _ in range(5):
        local_backend.exec(handle, "(sleep 0.05; sudo -n pkill -9 -x kafaat-spawner) >/dev/null 2>&1 &")
        time.sleep(0.15)
    assert local_backend.exec(handle, "wc -l < /proc/self/mountinfo").stdout == before
    assert local_backend.exec(handle, "cat /proc/cmdline | wc -c; touch /proc/sys/x 2>&1").stdout.startswith("0\n")
