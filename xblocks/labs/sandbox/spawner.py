"""The host side of a sandbox's spawner: ask it to start a learner-side process, follow that process.

Every learner-side process (terminal shells, setup scripts, solves, file placement) is started by
the sandbox's spawner, a process of the helper inside the sandbox and inside the learner's Landlock
domain, so that all of them share that one domain (see ``native/kafaat-sandbox.c``). The spawner
listens on a unix socket in the sandbox's host folder, which only host root can reach; one
connection per process: a request (user, flags, argv, environment, descriptors) goes in, a
``started`` and later an ``exited`` message come back, and closing the connection while the
process runs kills its process group.
"""

from __future__ import annotations

import array
import contextlib
import errno
import os
import select
import signal
import socket
import struct
import time
from collections.abc import Callable, Mapping, Sequence

from xblocks.labs.sandbox.base import SandboxError

MAGIC = 0x4B465350
PROTOCOL = 1
NNP, CTTY, ONE_FD = 1, 2, 4
STARTED, EXITED, ERROR = 1, 2, 3
CONTROL_SIGNAL = 1
REQUEST = struct.Struct("<IIIIIiiIII")
REPLY = struct.Struct("<Ii")
MAX_REQUEST = 65536
STALL_POLL = 0.2  # seconds between two looks at a spawner that has not answered yet


class SpawnerGone(SandboxError):
    """Nothing listens on the sandbox's spawner socket (the spawner died); the backend starts a new one."""


class SpawnedProcess:
    """A process the spawner started, with the parts of ``subprocess.Popen`` the backend uses."""

    def __init__(self, connection: socket.socket, pid: int):
        self._connection = connection
        self.pid = pid  # in the sandbox's pid namespace
        self.returncode: int | None = None

    def fileno(self) -> int:
        return self._connection.fileno()

    def _receive(self, timeout: float | None) -> None:
        if self.returncode is not None or self._connection.fileno() < 0:
            return
        ready, _, _ = select.select([self._connection], [], [], timeout)
        if not ready:
            return
        try:
            data = self._connection.recv(REPLY.size)
        except OSError:
            data = b""
        if len(data) == REPLY.size:
            kind, value = REPLY.unpack(data)
            if kind == EXITED:
                self.returncode = -os.WTERMSIG(value) if os.WIFSIGNALED(value) else os.WEXITSTATUS(value)
                return
        if not data:
            # the spawner went away (the sandbox is being destroyed): the process went with it
            self.returncode = -signal.SIGKILL

    def poll(self) -> int | None:
        self._receive(0)
        return self.returncode

    def wait(self, timeout: float | None = None) -> int:
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.returncode is None:
            remaining = None if deadline is None else deadline - time.monotonic()
            if remaining is not None and remaining <= 0:
                import subprocess  # pylint: disable=import-outside-toplevel

                raise subprocess.TimeoutExpired("spawned process", timeout or 0)
            self._receive(remaining)
        return self.returncode

    def send_signal(self, number: int) -> None:
        """Signal the process's whole process group (it leads a session of its own)."""
        if self.returncode is None:
            with contextlib.suppress(OSError):
                self._connection.send(REPLY.pack(CONTROL_SIGNAL, int(number)))

    def kill(self) -> None:
        self.send_signal(signal.SIGKILL)

    def close(self) -> None:
        """Stop following the process; if it still runs, the spawner kills its process group."""
        with contextlib.suppress(OSError):
            self._connection.close()


def _refuse_unsafe(argv: Sequence[str], env: Mapping[str, str]) -> None:
    """What ``subprocess`` refuses too: a NUL would end a string early on the spawner's side (and the
    spawner refuses a request whose strings do not add up), a ``=`` in a name would change the name."""
    if not argv or not str(argv[0]).startswith("/"):
        raise SandboxError("the spawner runs absolute paths only")
    for item in argv:
        if "\0" in item:
            raise SandboxError("an argument holds a NUL byte")
    for key, value in env.items():
        if not key or "=" in key or "\0" in key or "\0" in value:
            raise SandboxError(f"environment variable {key[:40]!r}: names need no '=' and no NUL, values no NUL")


def spawn(
    path: str,
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    uid: int,
    gid: int,
    fds: Sequence[int],
    no_new_privs: bool,
    terminal: bool = False,
    timeout: float = 10.0,
    stalled: Callable[[], bool] | None = None,
) -> SpawnedProcess:
    """Start ``argv`` in the sandbox whose spawner listens at ``path``; ``fds`` become 0, 1, 2 (and 3).

    With ``terminal`` one descriptor, a pseudo-terminal, is 0, 1 and 2 and becomes the process's
    controlling terminal. ``stalled`` is asked while the answer is awaited: when it says the spawner
    cannot answer (a learner with sudo stopped it with SIGSTOP), ``SpawnerGone`` is raised at once
    instead of holding the caller (a gateway thread, a worker) for the whole ``timeout``.
    """
    _refuse_unsafe(argv, env)
    strings = b"".join(item.encode() + b"\0" for item in argv)
    strings += b"".join(f"{key}={value}".encode() + b"\0" for key, value in env.items())
    flags = (NNP if no_new_privs else 0) | ((CTTY | ONE_FD) if terminal else 0)
    header = REQUEST.pack(MAGIC, PROTOCOL, uid, gid, flags, -1, -1, len(argv), len(env), len(strings))
    if len(header) + len(strings) > MAX_REQUEST:
        raise SandboxError("request to the sandbox spawner too large (arguments and environment)")
    connection = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        connection.settimeout(timeout)
        try:
            connection.connect(path)
        except (FileNotFoundError, ConnectionRefusedError) as error:
            raise SpawnerGone(f"no spawner at {path}: {error}") from error
        try:
            connection.sendmsg([header + strings], [(socket.SOL_SOCKET, socket.SCM_RIGHTS, array.array("i", fds))])
            deadline = time.monotonic() + timeout
            while not select.select([connection], [], [], min(STALL_POLL, max(0.0, deadline - time.monotonic())))[0]:
                if time.monotonic() >= deadline:
                    raise TimeoutError
                if stalled is not None and stalled():
                    raise SpawnerGone("the sandbox spawner is stopped and cannot answer")
            reply = connection.recv(REPLY.size)
        except TimeoutError as error:
            raise SandboxError(f"the sandbox spawner did not answer within {timeout:.0f} s") from error
        except (ConnectionResetError, BrokenPipeError) as error:
            # it died while taking the request (a learner with sudo can kill it): start a new one
            raise SpawnerGone(f"the sandbox spawner went away: {error}") from error
        if len(reply) != REPLY.size:
            raise SpawnerGone("the sandbox spawner closed the connection without starting the process")
        kind, value = REPLY.unpack(reply)
        if kind != STARTED:
            raise SandboxError(f"the sandbox spawner refused the request: {errno.errorcode.get(value, value)}")
        connection.settimeout(None)
        connection.setblocking(False)
        return SpawnedProcess(connection, value)
    except BaseException:
        connection.close()
        raise
