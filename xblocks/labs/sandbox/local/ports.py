"""A TCP connection to a port inside a sandbox's network namespace, with no host port and no process.

A sandbox has its own network namespace (loopback only, or a lab's private network), so nothing on
the host can reach a web app the learner runs in it. The service proxy needs a socket *in* that
namespace: a thread of the proxy enters it with ``setns(CLONE_NEWNET)`` (which moves only the calling
thread), creates the socket (a socket belongs for life to the namespace it was made in), and goes
back at once. Nothing executes in the sandbox and no helper process starts; the connect itself then
runs from the host's namespace on that socket. Only host root may do this (entering a namespace owned
by another user namespace needs CAP_SYS_ADMIN over it), which the lab host's gateway is.

The namespace is reached through a pidfd of the sandbox's init checked against its start time, as
every entry into a sandbox is (``entering.open_init``), so a recycled pid cannot lead elsewhere.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import socket
import threading

from xblocks.labs.sandbox.base import SandboxError, SandboxHandle, SandboxNotFound
from xblocks.labs.sandbox.local.kernel import start_time

log = logging.getLogger(__name__)

CLONE_NEWNET = 0x40000000
_libc = ctypes.CDLL(None, use_errno=True)
_libc.setns.argtypes = [ctypes.c_int, ctypes.c_int]
_home_lock = threading.Lock()
_home: int | None = None  # an fd of the host's network namespace, opened once


class NamespaceEscape(RuntimeError):
    """A thread could not return to the host's network namespace (never expected; the thread is lost)."""


def _setns(fd: int) -> None:
    if _libc.setns(fd, CLONE_NEWNET) != 0:
        code = ctypes.get_errno()
        raise OSError(code, f"setns(CLONE_NEWNET): {os.strerror(code)}")


def _home_namespace() -> int:
    global _home  # noqa: PLW0603  one descriptor for the process's life
    with _home_lock:
        if _home is None:
            _home = os.open(f"/proc/{os.getpid()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        return _home


def _sandbox_namespace(handle: SandboxHandle) -> int:
    """An fd of the sandbox init's network namespace, checked against the init's start time."""
    try:
        pid = int(handle.data["pid"])
    except (KeyError, TypeError, ValueError):
        raise SandboxNotFound(f"sandbox {handle.id} has no init") from None
    try:
        pidfd = os.pidfd_open(pid)
    except ProcessLookupError as error:
        raise SandboxNotFound(f"sandbox {handle.id} is not running") from error
    try:
        if start_time(pid) != handle.data.get("start"):
            raise SandboxNotFound(f"sandbox {handle.id} is not running")
        namespace = os.open(f"/proc/{pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        if start_time(pid) != handle.data.get("start"):  # the pidfd pins the pid: checked once more
            os.close(namespace)
            raise SandboxNotFound(f"sandbox {handle.id} is not running")
        return namespace
    except FileNotFoundError as error:
        raise SandboxNotFound(f"sandbox {handle.id} is not running") from error
    finally:
        os.close(pidfd)


def socket_in(handle: SandboxHandle, family: int = socket.AF_INET) -> socket.socket:
    """A new TCP socket of the sandbox's network namespace (not connected), made by the calling thread."""
    home = _home_namespace()
    namespace = _sandbox_namespace(handle)
    try:
        _setns(namespace)
        try:
            return socket.socket(family, socket.SOCK_STREAM | socket.SOCK_CLOEXEC)
        finally:
            try:
                _setns(home)
            except OSError as error:  # pragma: no cover - the kernel lets root back into its own namespace
                log.critical("a thread could not return to the host's network namespace: %s", error)
                raise NamespaceEscape(str(error)) from error
    except OSError as error:
        raise SandboxError(f"cannot enter the network of sandbox {handle.id}: {error}") from error
    finally:
        os.close(namespace)


def connect(handle: SandboxHandle, port: int, *, timeout: float = 5.0) -> socket.socket:
    """A blocking connect to ``127.0.0.1:port`` in the sandbox; ``ConnectionRefusedError`` if nothing listens."""
    if not 1 <= int(port) <= 65535:
        raise ValueError(f"not a port: {port!r}")
    sock = socket_in(handle)
    try:
        sock.settimeout(timeout)
        sock.connect(("127.0.0.1", int(port)))
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except BaseException:
        with contextlib.suppress(OSError):
            sock.close()
        raise
    return sock
