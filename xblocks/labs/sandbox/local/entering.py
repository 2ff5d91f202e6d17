"""Entering a live sandbox: its init pinned by a pidfd, the helper's command line, and the spawner left inside."""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import pathlib
import selectors
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from xblocks.labs.sandbox import helper, seccomp, spawner
from xblocks.labs.sandbox.base import (
    BackendUnavailable,
    SandboxError,
    SandboxHandle,
    SandboxNotFound,
)
from xblocks.labs.sandbox.local.kernel import start_time
from xblocks.labs.sandbox.local.layout import READY_TIMEOUT, SPAWNER_SOCKET

if TYPE_CHECKING:
    from xblocks.labs.sandbox.local.backend import LocalBackend

log = logging.getLogger(__name__)


def cgroup_options(procs_files: Sequence[str]) -> list[str]:
    options: list[str] = []
    for path in procs_files:
        options += ["--cgroup", path]
    return options


def program_fd(variant: str) -> int:
    """A pipe holding the seccomp program, for the helper to read (small enough for the pipe's buffer)."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, seccomp.program(variant))
    finally:
        os.close(write_end)
    return read_end


def open_init(handle: SandboxHandle) -> tuple[int, int]:
    """A pidfd of the sandbox's init and an O_PATH descriptor of its root, checked against its start time.

    The pidfd pins the process: once its start time matches, the pid cannot be recycled under
    the descriptor, so the root opened after it is that sandbox's.
    """
    pid = int(handle.data["pid"])
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError as error:
        raise SandboxNotFound(f"sandbox {handle.id} is not running") from error
    try:
        if start_time(pid) != handle.data.get("start"):
            raise SandboxNotFound(f"sandbox {handle.id} is not running")
        root = os.open(f"/proc/{pid}/root", os.O_PATH | os.O_DIRECTORY | os.O_CLOEXEC)
        if start_time(pid) != handle.data.get("start"):
            os.close(root)
            raise SandboxNotFound(f"sandbox {handle.id} is not running")
    except BaseException:
        os.close(pidfd)
        raise
    return pidfd, root


def enter_command(
    handle: SandboxHandle,
    *,
    error_fd: int,
    pidfd: int,
    root: int,
    filter_fd: int,
    procs_files: Sequence[str],
    uid: int,
    options: Sequence[str] = (),
) -> list[str]:
    return [
        helper.path(),
        "enter",
        "--error-fd",
        str(error_fd),
        "--pidfd",
        str(pidfd),
        "--root",
        str(root),
        "--seccomp",
        str(filter_fd),
        *cgroup_options(procs_files),
        "--uid",
        str(uid),
        "--gid",
        str(uid),
        *options,
    ]


def start_spawner(backend: LocalBackend, handle: SandboxHandle) -> None:
    """Leave the spawner in the sandbox: the helper enters it and, instead of executing anything,
    becomes the spawner in a new Landlock domain (with setuid re-enabled first for sudo labs)."""
    folder = backend._folder(handle)
    with open(folder / "spawner.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / SPAWNER_SOCKET
        if spawner_answers(path):
            return  # another process restarted it while this one waited
        path.unlink(missing_ok=True)
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
        fds: list[int] = []
        try:
            listener.bind(str(path))
            os.chmod(path, 0o600)
            listener.listen(128)
            pidfd, root = open_init(handle)
            fds += [pidfd, root]
            filter_fd = program_fd("sandbox")
            ready_r, ready_w = os.pipe()
            error_r, error_w = os.pipe()
            fds += [filter_fd, ready_w, error_w]
            options = [
                "--landlock",
                str(int(backend.settings.SANDBOX_LANDLOCK_MIN_ABI)),
                "--oom-protect",
                *(["--remount-suid"] if handle.data.get("sudo") else []),
                "--spawner",
                str(listener.fileno()),
                str(ready_w),
            ]
            command = enter_command(
                handle,
                error_fd=error_w,
                pidfd=pidfd,
                root=root,
                filter_fd=filter_fd,
                procs_files=backend._cgroups().procs_files(handle.id),
                uid=0,
                options=options,
            )
            process = subprocess.Popen(
                command,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                env={},
                close_fds=True,
                pass_fds=(*fds, listener.fileno()),
                start_new_session=True,
            )
        finally:
            listener.close()
            for fd in fds:
                with contextlib.suppress(OSError):
                    os.close(fd)
        try:
            await_spawner(ready_r, error_r, process)
        finally:
            os.close(ready_r)
            os.close(error_r)


def await_spawner(ready_fd: int, error_fd: int, process: subprocess.Popen) -> None:
    errors = b""
    deadline = time.monotonic() + READY_TIMEOUT
    with selectors.DefaultSelector() as selector:
        selector.register(ready_fd, selectors.EVENT_READ)
        selector.register(error_fd, selectors.EVENT_READ)
        while True:
            remaining = deadline - time.monotonic()
            events = selector.select(remaining) if remaining > 0 else []
            if not events:
                process.kill()
                process.wait()
                raise SandboxError("the sandbox's spawner did not start in time")
            for key, _ in events:
                chunk = os.read(key.fd, 4096)
                if key.fd == ready_fd:
                    if chunk:
                        process.wait()
                        return
                    selector.unregister(ready_fd)
                else:
                    errors += chunk
                    if not chunk:
                        process.wait()
                        detail = errors.decode(errors="replace").strip() or f"exit {process.returncode}"
                        raise BackendUnavailable(f"the sandbox's spawner could not start: {detail}")


def spawner_answers(path: pathlib.Path) -> bool:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET | socket.SOCK_CLOEXEC)
    try:
        probe.connect(str(path))
        return True
    except OSError:
        return False
    finally:
        probe.close()


def spawn(
    backend: LocalBackend,
    handle: SandboxHandle,
    argv: Sequence[str],
    env: Mapping[str, str],
    *,
    uid: int,
    fds: Sequence[int],
    no_new_privs: bool,
    terminal: bool = False,
) -> spawner.SpawnedProcess:
    path = str(backend._folder(handle) / SPAWNER_SOCKET)
    for attempt in (1, 2):
        try:
            return spawner.spawn(
                path,
                argv,
                env,
                uid=uid,
                gid=uid,
                fds=fds,
                no_new_privs=no_new_privs,
                terminal=terminal,
                stalled=lambda: bool(stopped_spawners(backend, handle)),
            )
        except spawner.SpawnerGone:
            if attempt == 2:
                raise
            # the spawner died (a sudo learner killed it, the OOM killer) or was stopped (a sudo
            # learner's SIGSTOP, which would hold every later request): leave a new one
            backend._live(handle)
            log.warning("sandbox %s: its spawner is gone or stopped; starting a new one", handle.id)
            end_stopped_spawners(backend, handle)
            start_spawner(backend, handle)
    raise AssertionError("unreachable")


def stopped_spawners(backend: LocalBackend, handle: SandboxHandle) -> list[int]:
    """Host pids of the sandbox's spawners that a signal stopped.

    A spawner is told apart by its executable, the helper, which nothing in a sandbox can run or
    name (a learner's process may call itself ``kafaat-spawner``, it cannot be that file).
    """
    binary = os.path.realpath(helper.path())
    stopped = []
    for pid in backend._cgroups().pids(handle.id):
        try:
            if not os.readlink(f"/proc/{pid}/exe").startswith(binary):
                continue
            with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as status:
                state = status.read().rsplit(")", 1)[1].split()[0]
        except (OSError, IndexError):
            continue
        if state in ("T", "t"):
            stopped.append(pid)
    return stopped


def end_stopped_spawners(backend: LocalBackend, handle: SandboxHandle) -> None:
    """SIGKILL stopped spawners and wait until they are gone, so their socket refuses and a new one starts."""
    stopped = stopped_spawners(backend, handle)
    for pid in stopped:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    end = time.monotonic() + 2.0
    while any(start_time(pid) is not None for pid in stopped) and time.monotonic() < end:
        time.sleep(0.005)
