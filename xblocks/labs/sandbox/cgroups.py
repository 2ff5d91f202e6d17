"""Per-sandbox resource limits through cgroups, v1 or v2, whichever this host exposes the controllers through.

Hosts differ: the project's machines have memory, pids and cpu only on v1 hierarchies, most current
distributions have the unified v2 tree. ``driver()`` looks at ``/proc/self/mountinfo`` once and
returns the matching implementation; both offer the same operations, by sandbox id.
"""

from __future__ import annotations

import abc
import contextlib
import errno
import functools
import logging
import os
import pathlib
import signal
import time
from dataclasses import dataclass

from xblocks.labs.sandbox.base import BackendUnavailable, Limits

log = logging.getLogger(__name__)
CONTROLLERS = ("memory", "pids", "cpu")


@dataclass(frozen=True)
class Usage:
    """What a sandbox's cgroup reports: for tests, the benchmark, operators and abuse detection."""

    memory_bytes: int
    memory_peak_bytes: int
    oom_kills: int
    pids: int
    cpu_usage_us: int
    cpu_throttled_us: int
    forks_refused: int = 0  # fork/clone calls that failed at pids.max


def _write(path: pathlib.Path | str, value: str | int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CLOEXEC)
    try:
        os.write(fd, str(value).encode())
    finally:
        os.close(fd)


def _read(path: pathlib.Path | str) -> str:
    try:
        with open(path, encoding="ascii") as handle:
            return handle.read()
    except OSError:
        return ""


def _keyed(text: str) -> dict[str, int]:
    values = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].lstrip("-").isdigit():
            values[parts[0]] = int(parts[1])
    return values


def _pids_in(paths: list[pathlib.Path]) -> set[int]:
    """Members of each cgroup and of the cgroups below it (earlier versions ran checks in a child cgroup)."""
    found: set[int] = set()
    for path in paths:
        for folder, _subdirs, _files in os.walk(path):
            found.update(int(pid) for pid in _read(pathlib.Path(folder) / "cgroup.procs").split())
    return found


class CgroupDriver(abc.ABC):
    """Creates, limits, enters, measures and removes one cgroup per sandbox (v1 and v2 below)."""

    version = 0

    def __init__(self, parent: str):
        self.parent = parent.strip("/")

    @abc.abstractmethod
    def paths(self, sandbox_id: str) -> list[pathlib.Path]:
        """Implemented by each cgroup version."""

    @abc.abstractmethod
    def create(self, sandbox_id: str, limits: Limits) -> list[pathlib.Path]:
        """Implemented by each cgroup version."""

    def create_check(self, sandbox_id: str, name: str, limits: Limits) -> str:
        """A cgroup for one check of a sandbox, *beside* the sandbox's, with a budget of its own; returns its id.

        Not inside the sandbox's cgroup: there a learner who filled the sandbox's memory or process
        limit (or steered its OOM killer with ``oom_score_adj``, which is theirs to raise on a check
        that runs as their uid) decided which of the check's commands failed, and a check such as
        ``! grep -q bad file`` passed. Named ``<sandbox>.<name>`` so that ``kill``, ``pids`` and
        ``remove`` of the sandbox find checks a crash left behind.
        """
        if "." in sandbox_id or not name:
            raise ValueError(f"not a sandbox id and check name: {sandbox_id!r}, {name!r}")
        check = f"{sandbox_id}.{name}"
        self.create(check, limits)
        return check

    def family(self, cgroup_id: str) -> list[str]:
        """``cgroup_id`` and the cgroups of its checks (``<id>.<name>`` beside it), those that exist.

        A check's own cgroup (``<sandbox>.<name>``: sandbox ids have no dot, ``create_check`` refuses
        one) has no checks, so it is not looked for among every sandbox's cgroups: the kill and
        removal that end each check do not read a directory that grows with the live labs.
        """
        found = [cgroup_id]
        if "." in cgroup_id:
            return found
        prefix = cgroup_id + "."
        for parent in {path.parent for path in self.paths(cgroup_id)}:
            # names first (one C-level listing), a stat only for the few that match: the parent holds
            # every live sandbox's cgroup
            with contextlib.suppress(FileNotFoundError, NotADirectoryError):
                names = [name for name in os.listdir(parent) if name.startswith(prefix)]
                found += sorted({name for name in names if (parent / name).is_dir()} - set(found))
        return found

    def procs_files(self, sandbox_id: str) -> list[str]:
        """Files a new process writes ``0`` to (before exec) to join the sandbox's cgroups."""
        return [str(path / "cgroup.procs") for path in self.paths(sandbox_id)]

    @abc.abstractmethod
    def usage(self, sandbox_id: str) -> Usage:
        """Implemented by each cgroup version."""

    def pids(self, sandbox_id: str) -> set[int]:
        """Every process of the sandbox: its cgroup's and its checks'."""
        return _pids_in([path for group in self.family(sandbox_id) for path in self.paths(group) if path.is_dir()])

    def exists(self, sandbox_id: str) -> bool:
        return any(path.is_dir() for group in self.family(sandbox_id) for path in self.paths(group))

    def kill(self, sandbox_id: str, deadline: float = 5.0) -> bool:
        """SIGKILL every process in the cgroup until it is empty; True when empty."""
        end = time.monotonic() + deadline
        folders = [path for group in self.family(sandbox_id) for path in self.paths(group)]
        while time.monotonic() < end:
            pids = _pids_in([path for path in folders if path.is_dir()])
            if not pids:
                return True
            for pid in pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.002)
        return not _pids_in([path for path in folders if path.is_dir()])

    def remove(self, sandbox_id: str) -> None:
        """Remove the sandbox's cgroups and its checks' (once empty)."""
        for top in [path for group in self.family(sandbox_id) for path in self.paths(group)]:
            # child cgroups first (a check's, left by a crash), deepest first
            below = [pathlib.Path(folder) for folder, _subdirs, _files in os.walk(top)][1:] if top.is_dir() else []
            self._rmdir_all([*sorted(below, key=lambda p: len(p.parts), reverse=True), top])

    def _rmdir_all(self, paths: list[pathlib.Path]) -> None:
        for path in paths:
            for _ in range(200):
                try:
                    path.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError as error:
                    if error.errno != errno.EBUSY:
                        raise
                    time.sleep(0.005)  # zombies leave the cgroup a moment after SIGKILL
            else:
                log.warning("cgroup %s still busy after kill; left for the reconciler", path)


class CgroupV1(CgroupDriver):
    """One folder per sandbox under each of the memory, pids and cpu hierarchies."""

    version = 1

    def __init__(self, parent: str, mounts: dict[str, pathlib.Path]):
        super().__init__(parent)
        self.mounts = mounts

    def paths(self, sandbox_id: str) -> list[pathlib.Path]:
        return [self.mounts[name] / self.parent / sandbox_id for name in CONTROLLERS]

    def procs_files(self, sandbox_id: str) -> list[str]:
        # ``tasks`` moves the calling thread only, which skips the kernel's global threadgroup lock
        # (an RCU grace period, milliseconds on a busy host) that ``cgroup.procs`` takes; the caller
        # is the single thread of a freshly forked child, so the whole process moves.
        return [str(path / "tasks") for path in self.paths(sandbox_id)]

    def create(self, sandbox_id: str, limits: Limits) -> list[pathlib.Path]:
        from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

        memory, pids, cpu = self.paths(sandbox_id)
        for path in (memory, pids, cpu):
            path.mkdir(parents=True, exist_ok=True)
        _write(memory / "memory.limit_in_bytes", limits.memory_bytes)
        # swap off: memsw (memory + swap) equal to memory; absent when swap accounting is disabled
        with contextlib.suppress(FileNotFoundError):
            _write(memory / "memory.memsw.limit_in_bytes", limits.memory_bytes)
        with contextlib.suppress(OSError):
            _write(memory / "memory.swappiness", 0)
        _write(pids / "pids.max", limits.pids)
        period = int(labs_settings.SANDBOX_CPU_PERIOD_US)
        _write(cpu / "cpu.cfs_period_us", period)
        _write(cpu / "cpu.cfs_quota_us", max(1000, int(limits.cpus * period)))
        return [memory, pids, cpu]

    def usage(self, sandbox_id: str) -> Usage:
        memory, pids, cpu = self.paths(sandbox_id)
        stat = _keyed(_read(cpu / "cpu.stat"))
        # cpuacct.usage exists here only when cpuacct shares the cpu hierarchy (cpu,cpuacct); else unknown (0)
        usage_ns = int(_read(cpu / "cpuacct.usage") or 0)
        return Usage(
            memory_bytes=int(_read(memory / "memory.usage_in_bytes") or 0),
            memory_peak_bytes=int(_read(memory / "memory.max_usage_in_bytes") or 0),
            oom_kills=_keyed(_read(memory / "memory.oom_control")).get("oom_kill", 0),
            pids=int(_read(pids / "pids.current") or 0),
            cpu_usage_us=usage_ns // 1000,
            cpu_throttled_us=stat.get("throttled_time", 0) // 1000,
            forks_refused=_keyed(_read(pids / "pids.events")).get("max", 0),
        )


class CgroupV2(CgroupDriver):
    """One folder per sandbox in the unified tree, with memory, pids and cpu delegated to it."""

    version = 2

    def __init__(self, parent: str, root: pathlib.Path):
        super().__init__(parent)
        self.root = root

    def paths(self, sandbox_id: str) -> list[pathlib.Path]:
        return [self.root / self.parent / sandbox_id]

    def _enable(self, folder: pathlib.Path) -> None:
        wanted = " ".join(f"+{name}" for name in CONTROLLERS)
        if not set(CONTROLLERS) <= set(_read(folder / "cgroup.subtree_control").split()):
            _write(folder / "cgroup.subtree_control", wanted)

    def create(self, sandbox_id: str, limits: Limits) -> list[pathlib.Path]:
        from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

        parent = self.root / self.parent
        parent.mkdir(parents=True, exist_ok=True)
        # each step writes only when a controller is missing (another tool may have made the parent)
        self._enable(self.root)
        self._enable(parent)
        path = parent / sandbox_id
        path.mkdir(exist_ok=True)
        _write(path / "memory.max", limits.memory_bytes)
        with contextlib.suppress(FileNotFoundError):
            _write(path / "memory.swap.max", 0)
        # memory.oom.group stays 0: the OOM killer takes the hog only, not the sandbox's init and shell
        _write(path / "pids.max", limits.pids)
        period = int(labs_settings.SANDBOX_CPU_PERIOD_US)
        _write(path / "cpu.max", f"{max(1000, int(limits.cpus * period))} {period}")
        return [path]

    def kill(self, sandbox_id: str, deadline: float = 5.0) -> bool:
        # cgroup.kill (Linux >= 5.14) also catches processes forked while we kill
        for group in self.family(sandbox_id):
            with contextlib.suppress(OSError):
                _write(self.paths(group)[0] / "cgroup.kill", 1)
        return super().kill(sandbox_id, deadline)

    def usage(self, sandbox_id: str) -> Usage:
        path = self.paths(sandbox_id)[0]
        stat = _keyed(_read(path / "cpu.stat"))
        return Usage(
            memory_bytes=int(_read(path / "memory.current") or 0),
            memory_peak_bytes=int(_read(path / "memory.peak") or 0),
            oom_kills=_keyed(_read(path / "memory.events")).get("oom_kill", 0),
            pids=int(_read(path / "pids.current") or 0),
            cpu_usage_us=stat.get("usage_usec", 0),
            cpu_throttled_us=stat.get("throttled_usec", 0),
            forks_refused=_keyed(_read(path / "pids.events")).get("max", 0),
        )


def parse_mounts(mountinfo: str) -> tuple[dict[str, pathlib.Path], list[pathlib.Path]]:
    """v1 hierarchies by controller and v2 mount points, from the text of /proc/self/mountinfo."""
    v1: dict[str, pathlib.Path] = {}
    v2: list[pathlib.Path] = []
    for line in mountinfo.splitlines():
        left, _, right = line.partition(" - ")
        if not right:
            continue
        fstype, _source, options = (right.split() + ["", ""])[:3]
        point = pathlib.Path(left.split()[4])
        if fstype == "cgroup2":
            v2.append(point)
        elif fstype == "cgroup":
            for option in options.split(","):
                if option in (*CONTROLLERS, "cpuacct") and option not in v1:
                    v1[option] = point
    return v1, v2


def choose(mountinfo: str, parent: str = "kafaat") -> CgroupDriver:
    """v2 when a unified tree offers memory, pids and cpu; else v1 when each has a hierarchy; else refuse."""
    v1, v2 = parse_mounts(mountinfo)
    for root in v2:
        if set(CONTROLLERS) <= set(_read(root / "cgroup.controllers").split()):
            return CgroupV2(parent, root)
    if all(name in v1 for name in CONTROLLERS):
        return CgroupV1(parent, v1)
    raise BackendUnavailable(
        f"no cgroup hierarchy offers {', '.join(CONTROLLERS)} "
        f"(v1 mounts: {sorted(v1)}, v2 mounts: {[str(p) for p in v2]})"
    )


@functools.lru_cache(maxsize=4)
def driver(parent: str = "kafaat") -> CgroupDriver:
    """The driver for this host, chosen once per process."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return choose(handle.read(), parent)
