"""The sandbox backend protocol: what every environment engine (local, kubernetes) provides.

Callers (the labs api, the lab runner, the terminal gateway, the CLI) depend only on this module;
``get_backend()`` picks the configured implementation, ``get_backend(handle.backend)`` the one that
made a live sandbox (so changing the configured backend never strands live sessions). Every backend
passes the contract suite in tests/labs/sandbox/test_contract.py.
"""

from __future__ import annotations

import enum
import importlib
import re
import threading
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

MiB = 1024 * 1024
# A machine's name is its hostname and its name in /etc/hosts inside the lab: a lowercase DNS label.
MACHINE_NAME = re.compile(r"^[a-z](?:[a-z0-9-]{0,30}[a-z0-9])?$")
MAX_MACHINES = 8


class SandboxError(Exception):
    """Base of engine errors. ``learner_message`` is safe to show; ``str(error)`` is operator detail."""

    learner_message = "The lab environment could not be prepared. Please try again in a moment."


class BackendUnavailable(SandboxError):
    """The engine cannot take work now (self-test failed, host full, API down): retry later."""


class SandboxNotFound(SandboxError):
    """The handle names no live sandbox (destroyed, reaped, or the host restarted)."""


class ImageNotFound(SandboxError):
    """The requested image is neither built nor buildable from a known recipe."""


class User(enum.StrEnum):
    ROOT = "root"
    LEARNER = "learner"


@dataclass(frozen=True)
class Limits:
    """Per-sandbox resource limits, enforced by cgroups (v1 or v2) and a size-capped writable layer."""

    memory_bytes: int = 512 * MiB
    pids: int = 256
    cpus: float = 1.0
    disk_bytes: int = 512 * MiB
    inodes: int = 200_000


@dataclass(frozen=True)
class MachineSpec:
    """One machine of a lab of several: its name (also its hostname and its name in ``/etc/hosts``)."""

    name: str
    image: str = "base"
    limits: Limits = field(default_factory=Limits)
    learner_sudo: bool = False


@dataclass(frozen=True)
class SandboxSpec:
    """What to create. ``label`` ties the sandbox to a database row (e.g. ``labsession-42``).

    With ``machines`` (two or more), ``create`` makes a lab of machines on a private network of their
    own, and ``image``/``limits``/``learner_sudo``/``hostname`` are ignored; ``deny`` lists
    ``(from, to)`` machine names whose traffic the platform drops. Without, one machine, as before.
    """

    image: str = "base"
    limits: Limits = field(default_factory=Limits)
    network: bool = False
    learner_sudo: bool = False
    hostname: str = "lab"
    env: Mapping[str, str] = field(default_factory=dict)
    label: str = ""
    machines: tuple[MachineSpec, ...] = ()
    deny: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class SandboxHandle:
    """A live sandbox. JSON-serialisable through ``as_json``/``from_json`` for storage on a row."""

    id: str
    backend: str
    host: str
    label: str = ""
    data: Mapping[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {"id": self.id, "backend": self.backend, "host": self.host, "label": self.label, "data": dict(self.data)}

    @property
    def machines(self) -> tuple[str, ...]:
        """The machine names of a lab of several machines, in declaration order; ``()`` for one machine."""
        return tuple(name for name, _ in self.data.get("machines") or ())

    def machine(self, name: str | None = None) -> SandboxHandle:
        """The handle of one machine of a lab (every backend method takes it); ``None``: the first.

        A single-machine handle is its own only machine, whatever it is called, so callers need
        not tell the two apart. An unknown name raises ``SandboxNotFound``.
        """
        machines = self.data.get("machines") or ()
        if not machines:
            return self
        for machine_name, value in machines:
            if name is None or machine_name == name:
                return SandboxHandle.from_json(value)
        raise SandboxNotFound(f"sandbox {self.id} has no machine {name!r}")

    @classmethod
    def from_json(cls, value: Mapping[str, Any]) -> SandboxHandle:
        return cls(
            id=value["id"],
            backend=value["backend"],
            host=value["host"],
            label=value.get("label", ""),
            data=dict(value.get("data") or {}),
        )


@dataclass(frozen=True)
class ExecResult:
    """The outcome of one script run inside a sandbox. ``exit_code`` is None when it was killed."""

    exit_code: int | None
    stdout: str
    stderr: str
    duration: float
    timed_out: bool = False
    truncated: bool = False
    # Killed at its CPU-time limit (``cpu_seconds``), told apart from a wall-clock timeout.
    cpu_exceeded: bool = False

    @property
    def ok(self) -> bool:
        return self.exit_code == 0 and not self.timed_out


class StreamPty(Protocol):
    """A shell reached through a stream rather than a file descriptor (a remote exec's websocket).

    ``read`` blocks until output arrives and returns ``b""`` at the end; the terminal gateway bridges
    it to a pipe of its own (``xblocks.labs.terminal.streams``), so flow control works the same."""

    def read(self, size: int = 65536) -> bytes: ...

    def write(self, data: bytes) -> int: ...

    def resize(self, cols: int, rows: int) -> None: ...

    def alive(self) -> bool: ...

    def close(self) -> None: ...


class PtyProcess(Protocol):
    """An interactive shell on a pseudo-terminal inside a sandbox (the terminal gateway's source)."""

    def fileno(self) -> int:
        """A non-blocking fd that is readable when output is pending (for ``loop.add_reader``)."""

    def read(self, size: int = 65536) -> bytes:
        """Pending output; ``b""`` at end of stream."""

    def write(self, data: bytes) -> int: ...

    def resize(self, cols: int, rows: int) -> None: ...

    def alive(self) -> bool: ...

    def close(self) -> None:
        """Hang up the shell and release the fd; the sandbox itself lives on."""


@runtime_checkable
class Backend(Protocol):
    name: str

    def create(self, spec: SandboxSpec) -> SandboxHandle:
        """Create and start a sandbox; ready for ``exec`` and ``open_pty`` when it returns.

        With ``spec.machines``: a lab of machines on one private network, returned as one handle
        (a group) whose ``machine(name)`` is each machine's own handle. Every other method takes a
        machine's handle; given the group's, it acts on the first machine, except ``alive`` (all
        machines) and ``destroy`` (the whole lab: machines, network, namespaces)."""

    def exec(
        self,
        handle: SandboxHandle,
        script: str,
        *,
        user: User | str = User.LEARNER,
        timeout: float = 30.0,
        stdin: bytes = b"",
        output_limit: int = 64 * 1024,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        cpu_seconds: float | None = None,
        check: bool = False,
    ) -> ExecResult:
        """Run ``script`` with bash inside the live sandbox. The script never touches a path the
        learner can write; output beyond ``output_limit`` bytes is dropped and ``truncated`` set.
        ``args`` become ``$1``...; ``cpu_seconds`` caps the CPU time of each process of the script
        (``cpu_exceeded`` then tells a CPU-limit kill from a wall ``timed_out``).

        Without ``check`` the script runs on the learner's side (setup, solves, file placement):
        daemons it starts stay, and the learner can see, signal and manage them. With ``check``
        it runs out of the learner's reach: nothing the learner started can read its script or
        output, trace it, signal it or change its exit status, and nothing it starts outlives it."""

    def exec_outside(
        self,
        handle: SandboxHandle,
        script: str,
        *,
        timeout: float = 30.0,
        stdin: bytes = b"",
        output_limit: int = 64 * 1024,
        env: Mapping[str, str] | None = None,
        args: Sequence[str] = (),
        cpu_seconds: float | None = None,
    ) -> ExecResult:
        """Run ``script`` as root in a fresh environment of the lab's pristine image, with the
        learner's files read-only (and not executable) at ``/lab``: nothing of the learner's runs,
        so not even a learner who is root in their environment can forge what it reports."""

    def open_pty(
        self, handle: SandboxHandle, *, cols: int = 80, rows: int = 24, user: User | str = User.LEARNER
    ) -> PtyProcess | StreamPty:
        """A login shell; a ``PtyProcess`` (with ``fileno``) or a ``StreamPty`` (without)."""

    def put_file(
        self, handle: SandboxHandle, path: str, content: bytes, *, user: User | str = User.LEARNER, mode: int = 0o644
    ) -> None:
        """Write a file inside the sandbox as ``user`` (who then owns it); a link at ``path`` is replaced,
        never followed. SandboxError when it cannot."""

    def read_file(
        self, handle: SandboxHandle, path: str, *, user: User | str = User.LEARNER, limit: int = 1024 * 1024
    ) -> ExecResult:
        """A file's content as ``user`` sees it, read out of the learner's reach (like a check)."""

    def image_names(self) -> list[str]:
        """The images this backend can create sandboxes from (what a lab's ``image`` may name)."""

    def destroy(self, handle: SandboxHandle) -> None:
        """Remove every process, mount, cgroup and directory of the sandbox. Idempotent."""

    def alive(self, handle: SandboxHandle) -> bool: ...

    def inventory(self) -> list[SandboxHandle]:
        """Every sandbox this backend has on this host, for reconciliation with the database."""


class Capability(enum.StrEnum):
    """What a backend may offer beyond the protocol, listed in its ``capabilities``."""

    # ``usage(handle)``: memory, OOM kills, processes and CPU throttling (``cgroups.Usage``), which
    # the self-test's resource rows and the benchmarks read.
    USAGE = "usage"
    # ``build_image(name)``: images are built on the lab host by ``kafaat image build``.
    BUILD_IMAGES = "build_images"
    # ``connect(handle, port, timeout=)``: a connected TCP socket to a port inside a machine, for the
    # service proxy (docs/services.md); without it a lab's service tabs say nothing answers.
    CONNECT = "connect"


def supports(backend: Backend, capability: Capability | str) -> bool:
    """Whether ``backend`` declares ``capability``."""
    return str(capability) in {str(c) for c in getattr(backend, "capabilities", ())}


# Short names for the backends that ship; any other backend is named by its dotted path
# (``package.module.Class``), which is also what its handles then carry as ``backend``.
BACKENDS = {
    "local": "xblocks.labs.sandbox.local.LocalBackend",
    "memory": "xblocks.labs.sandbox.memory.MemoryBackend",
}
_instances: dict[str, Backend] = {}
_instances_lock = threading.Lock()


def get_backend(name: str | None = None) -> Backend:
    """The backend named ``name`` (a handle's ``backend``), or the configured one
    (``KAFAAT["SANDBOX_BACKEND"]``, ``local`` by default): a short name of ``BACKENDS`` or a dotted
    path to a class. One instance per process (the class's ``instance()`` when it has one)."""
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    name = str(name or labs_settings.SANDBOX_BACKEND)
    path = BACKENDS.get(name, name)
    with _instances_lock:
        if path not in _instances:
            module_name, _, class_name = path.rpartition(".")
            try:
                cls = getattr(importlib.import_module(module_name), class_name, None) if module_name else None
            except ImportError as error:
                raise BackendUnavailable(f"unknown sandbox backend {name!r}: {error}") from error
            if cls is None:
                raise BackendUnavailable(f"unknown sandbox backend {name!r}")
            _instances[path] = cls.instance() if hasattr(cls, "instance") else cls()
        return _instances[path]
