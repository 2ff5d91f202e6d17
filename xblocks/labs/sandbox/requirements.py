"""What a lab host needs from its machine, checked one named piece at a time before any sandbox is made.

The self-test runs these first: when a piece is missing it says which one and how to provide it,
instead of failing every abuse case with the same low-level error. Checks are registered with
``@requirement("name")`` in the order they run; a backend or launcher that needs more adds its own.
Each returns a one-line account of what it found, or raises ``Missing`` saying what to do.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import platform
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass

# Where the tools are looked up: the backend runs them with this PATH, never the caller's.
TOOL_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
SUBID_FILES = ("/etc/subuid", "/etc/subgid")
MIN_KERNEL = (5, 11)
MIN_BUBBLEWRAP = (0, 8)
MIN_UTIL_LINUX = (2, 38)


class Missing(Exception):
    """A piece the sandboxes need is absent or too old; the message says what and how to fix it."""


@dataclass(frozen=True)
class RequirementResult:
    name: str
    ok: bool
    detail: str

    def line(self) -> str:
        return f"{'ok  ' if self.ok else 'MISS'} {self.name:<20} {self.detail}"


CHECKS: list[tuple[str, Callable[[], str]]] = []


def requirement(name: str) -> Callable[[Callable[[], str]], Callable[[], str]]:
    """Register a check under ``name`` (checks run in registration order; a name registered again replaces it)."""

    def register(function: Callable[[], str]) -> Callable[[], str]:
        for index, (existing, _function) in enumerate(CHECKS):
            if existing == name:
                CHECKS[index] = (name, function)
                return function
        CHECKS.append((name, function))
        return function

    return register


def check(only: list[str] | None = None) -> tuple[RequirementResult, ...]:
    """Run every registered check (or ``only`` those) and report each; a check that crashes counts as missing."""
    results = []
    for name, function in CHECKS:
        if only and name not in only:
            continue
        try:
            results.append(RequirementResult(name, True, function()))
        except Missing as missing:
            results.append(RequirementResult(name, False, str(missing)))
        except Exception as error:  # pylint: disable=broad-except  # an unexpected state is a missing piece too
            results.append(RequirementResult(name, False, f"could not check: {type(error).__name__}: {error}"))
    return tuple(results)


def summary(results: tuple[RequirementResult, ...]) -> str:
    """``missing: name (detail); …`` for the failed checks, "" when all passed."""
    missing = [f"{result.name} ({result.detail})" for result in results if not result.ok]
    return ("missing: " + "; ".join(missing)) if missing else ""


def _version(text: str) -> tuple[int, ...]:
    match = re.search(r"(\d+)\.(\d+)(?:\.(\d+))?", text)
    if not match:
        return ()
    return tuple(int(part) for part in match.groups() if part is not None)


def _tool_version(*command: str) -> str:
    tool = shutil.which(command[0], path=TOOL_PATH)
    if tool is None:
        raise Missing(f"{command[0]} is not installed in {TOOL_PATH} (Debian: apt install {PACKAGES[command[0]]})")
    completed = subprocess.run([tool, *command[1:]], capture_output=True, text=True, timeout=10, check=False)
    lines = (completed.stdout or completed.stderr or "").strip().splitlines()
    return lines[0] if lines else ""


PACKAGES = {"bwrap": "bubblewrap", "unshare": "util-linux", "nsenter": "util-linux", "debootstrap": "debootstrap"}


def _settings():
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    return labs_settings


@requirement("root")
def _root() -> str:
    if os.geteuid() != 0:
        raise Missing(f"the sandbox backend runs as root (this process is uid {os.geteuid()})")
    return "running as root"


@requirement("kernel")
def _kernel() -> str:
    release = platform.release()
    if _version(release)[:2] < MIN_KERNEL:
        raise Missing(
            f"Linux {release}: {MIN_KERNEL[0]}.{MIN_KERNEL[1]} or later is needed (overlayfs in user namespaces)"
        )
    return f"Linux {release}"


@requirement("user namespaces")
def _user_namespaces() -> str:
    limit_file = pathlib.Path("/proc/sys/user/max_user_namespaces")
    limit = int(limit_file.read_text().strip()) if limit_file.exists() else -1
    if limit == 0:
        raise Missing("user.max_user_namespaces is 0: set it above 0 (sysctl -w user.max_user_namespaces=15000)")
    unshare = shutil.which("unshare", path=TOOL_PATH)
    if unshare is None:
        raise Missing("cannot test: unshare is not installed (apt install util-linux)")
    completed = subprocess.run([unshare, "--user", "true"], capture_output=True, text=True, timeout=10, check=False)
    if completed.returncode != 0:
        raise Missing(
            "creating a user namespace failed: "
            f"{completed.stderr.strip() or completed.returncode} (a container needs --privileged, or the host's "
            "seccomp/AppArmor profile forbids unshare(CLONE_NEWUSER))"
        )
    return f"available (max {limit})" if limit > 0 else "available"


def _ranges(path: pathlib.Path) -> list[tuple[str, int, int]]:
    entries = []
    with contextlib.suppress(OSError):
        for line in path.read_text().splitlines():
            parts = line.strip().split(":")
            if len(parts) == 3 and parts[1].isdigit() and parts[2].isdigit():
                entries.append((parts[0], int(parts[1]), int(parts[2])))
    return entries


@requirement("subordinate range")
def _subordinate_range() -> str:
    settings = _settings()
    # every slot a live sandbox may hold, plus slot 0 (kept for sandboxes of earlier versions)
    base = int(settings.SANDBOX_UID_BASE)
    count = (int(settings.SANDBOX_UID_SLOTS) + 1) * int(settings.SANDBOX_UID_COUNT)
    for file in SUBID_FILES:
        entries = _ranges(pathlib.Path(file))
        ours = [e for e in entries if e[0] in ("root", "0") and e[1] <= base and e[1] + e[2] >= base + count]
        if not ours:
            raise Missing(
                f"no entry root:{base}:{count} in {file}: add it so no other tool hands the sandboxes' "
                "ids out (scripts/sandbox-host.sh does)"
            )
        for user, start, length in entries:
            if user not in ("root", "0") and start < base + count and base < start + length:
                raise Missing(
                    f"{file} gives {user} {start}:{length}, which overlaps the sandboxes' range {base}:{count}: "
                    "choose another SANDBOX_UID_BASE"
                )
    return f"root:{base}:{count} in {' and '.join(SUBID_FILES)}"


@requirement("cgroup controllers")
def _cgroups() -> str:
    from xblocks.labs.sandbox import cgroups  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import BackendUnavailable, Limits, MiB  # pylint: disable=import-outside-toplevel

    settings = _settings()
    try:
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            driver = cgroups.choose(handle.read(), str(settings.SANDBOX_CGROUP_PARENT))
    except BackendUnavailable as error:
        raise Missing(str(error)) from None
    where = f"v{driver.version} " + (
        str(getattr(driver, "root", "")) or ", ".join(f"{k}" for k in sorted(getattr(driver, "mounts", {})))
    )
    probe = f"probe-{os.getpid()}"
    try:
        driver.create(probe, Limits(memory_bytes=64 * MiB, pids=8, cpus=0.1, disk_bytes=MiB, inodes=64))
    except OSError as error:
        hint = ""
        if driver.version == 2 and getattr(error, "errno", None) == 16:  # EBUSY
            hint = (
                ": processes live in this cgroup namespace's root, so controllers cannot be delegated; "
                "move them to a child cgroup first (the lab-host container's entrypoint does)"
            )
        raise Missing(
            f"cannot make a limited cgroup under {settings.SANDBOX_CGROUP_PARENT} ({where}): {error}{hint}"
        ) from None
    finally:
        with contextlib.suppress(Exception):
            driver.remove(probe)
    return f"memory, pids and cpu writable ({where})"


def _at_least(tool: str, minimum: tuple[int, int], package: str, needed_for: str) -> str:
    line = _tool_version(tool, "--version")
    if _version(line)[:2] < minimum:
        raise Missing(f"{line or tool}: {package} {minimum[0]}.{minimum[1]} or later is needed ({needed_for})")
    return line


@requirement("bubblewrap")
def _bubblewrap() -> str:
    return _at_least("bwrap", MIN_BUBBLEWRAP, "bubblewrap", "--json-status-fd, --args from a pipe")


@requirement("util-linux")
def _util_linux() -> str:
    line = _at_least("unshare", MIN_UTIL_LINUX, "util-linux", "unshare --map-users")
    _tool_version("nsenter", "--version")
    return line


@requirement("overlayfs")
def _overlayfs() -> str:
    try:
        known = pathlib.Path("/proc/filesystems").read_text()
    except OSError as error:
        raise Missing(f"cannot read /proc/filesystems: {error}") from None
    if not re.search(r"\boverlay\b", known):
        raise Missing("the kernel offers no overlay filesystem (modprobe overlay)")
    return "overlay and tmpfs"


@requirement("sandbox helper")
def _sandbox_helper() -> str:
    from xblocks.labs.sandbox import helper  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import BackendUnavailable  # pylint: disable=import-outside-toplevel

    try:
        return helper.path()  # the configured prebuilt helper, or this source built into the cache
    except BackendUnavailable as error:
        raise Missing(str(error)) from None


@requirement("landlock")
def _landlock() -> str:
    from xblocks.labs.sandbox import helper  # pylint: disable=import-outside-toplevel

    needed = int(_settings().SANDBOX_LANDLOCK_MIN_ABI)
    abi = helper.landlock_abi()
    if abi < needed:
        raise Missing(
            f"Landlock ABI {abi} is below the required {needed} (Linux 6.12 or later with landlock in the "
            "kernel's lsm= list; it keeps checks out of the learner's reach)"
        )
    return f"ABI {abi}"


@requirement("sandbox root")
def _sandbox_root() -> str:
    root = pathlib.Path(str(_settings().SANDBOX_ROOT))
    try:
        root.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise Missing(f"cannot create SANDBOX_ROOT {root}: {error}") from None
    if not os.access(root, os.W_OK | os.X_OK):
        raise Missing(f"SANDBOX_ROOT {root} is not writable by this process")
    return str(root)


@requirement("image cache")
def _image_cache() -> str:
    from xblocks.labs.sandbox import images  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import SandboxError  # pylint: disable=import-outside-toplevel

    settings = _settings()
    cache = pathlib.Path(str(settings.IMAGE_CACHE))
    try:
        base = images.find("base")
    except (OSError, SandboxError) as error:
        raise Missing(f"IMAGE_CACHE {cache}: {error}") from None
    if base.built:
        return f"{cache}: base image {base.hash} built"
    if not settings.IMAGE_AUTO_BUILD:
        raise Missing(
            f"the base image is not built in {cache} and IMAGE_AUTO_BUILD is off: run kafaat image build --all"
        )
    if shutil.which("debootstrap", path=TOOL_PATH) is None:
        raise Missing(f"the base image is not built in {cache} and debootstrap is not installed to build it")
    return f"{cache}: base image not built yet; the first sandbox builds it (or run kafaat image build --all)"
