"""The sandbox helper program: built from the C source in ``native/`` on first use, or an operator's prebuilt copy.

The local backend creates and enters sandboxes only through this program (``native/kafaat-sandbox.c``
says what it does and why it is not Python). It is compiled with the system C compiler, statically
linked, into a root-owned cache folder keyed by the hash of its source, so a changed source builds
a new helper beside the old one and a running worker never executes a half-written file. A host
without a compiler gets ``BackendUnavailable`` naming what to install, or uses ``SANDBOX_HELPER``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import logging
import os
import pathlib
import shutil
import stat
import subprocess
import threading

from xblocks.labs.sandbox.base import BackendUnavailable

log = logging.getLogger(__name__)

SOURCE = pathlib.Path(__file__).resolve().parent / "native" / "kafaat-sandbox.c"
PROTOCOL = 1
NAME = "kafaat-sandbox"
CFLAGS = ("-static", "-O2", "-Wall", "-Wextra", "-fno-strict-aliasing")
COMPILERS = ("cc", "gcc", "clang")
INSTALL_HINT = (
    "install a C compiler and the static C library (Debian: gcc libc6-dev, as scripts/system-deps.sh does), "
    "or set SANDBOX_HELPER to a prebuilt kafaat-sandbox"
)

_lock = threading.Lock()
_resolved: dict[str, str] = {}


def source_hash() -> str:
    """What the cache is keyed by: the source and the flags it is built with."""
    digest = hashlib.sha256(SOURCE.read_bytes())
    digest.update(" ".join(CFLAGS).encode())
    return digest.hexdigest()[:16]


def _settings():
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    return labs_settings


def path() -> str:
    """The helper to run: the configured prebuilt one, or the cached build of this source (built now if missing)."""
    configured = str(_settings().SANDBOX_HELPER or "")
    key = configured or f"{_settings().SANDBOX_HELPER_CACHE}:{source_hash()}"
    with _lock:
        if key in _resolved and os.path.exists(_resolved[key]):
            return _resolved[key]
        found = _prebuilt(configured) if configured else _cached_or_built()
        _resolved[key] = found
        return found


def _trusted(target: pathlib.Path) -> str | None:
    """Why ``target`` must not be executed as root (not root-owned, writable by others, a link), or None."""
    try:
        info = os.lstat(target)
    except OSError as error:
        return f"{target}: {error.strerror}"
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISREG(info.st_mode):
        return f"{target} is not a regular file"
    for item in (target, *target.parents):
        try:
            detail = os.stat(item)
        except OSError as error:
            return f"{item}: {error.strerror}"
        if detail.st_uid != 0 or detail.st_mode & 0o022:
            return f"{item} must be owned by root and not writable by group or others"
    return None


def _version(target: pathlib.Path) -> list[str]:
    try:
        output = subprocess.run(
            [str(target), "version"], capture_output=True, text=True, timeout=10, check=True, env={}
        ).stdout
    except (OSError, subprocess.SubprocessError) as error:
        raise BackendUnavailable(f"the sandbox helper {target} does not run: {error}") from error
    return output.split()


def _prebuilt(configured: str) -> str:
    target = pathlib.Path(configured)
    problem = _trusted(target)
    if problem:
        raise BackendUnavailable(f"SANDBOX_HELPER {configured} is not usable: {problem}")
    words = _version(target)
    if len(words) < 2 or words[0] != NAME or words[1] != str(PROTOCOL):
        raise BackendUnavailable(
            f"SANDBOX_HELPER {configured} speaks {' '.join(words[:2]) or 'nothing'}, not {NAME} {PROTOCOL}: "
            f"rebuild it from {SOURCE.name} of this version"
        )
    return str(target)


def _cached_or_built() -> str:
    digest = source_hash()
    cache = pathlib.Path(str(_settings().SANDBOX_HELPER_CACHE))
    target = cache / digest / NAME
    if target.exists() and _trusted(target) is None and _version(target)[:3] == [NAME, str(PROTOCOL), digest]:
        return str(target)
    return str(build(force=target.exists()))


def build(*, force: bool = False) -> pathlib.Path:
    """Compile the helper into the cache (under a lock; atomically renamed into place) and return its path."""
    if os.geteuid() != 0:
        raise BackendUnavailable("building the sandbox helper needs root (its cache folder is root-owned)")
    digest = source_hash()
    cache = pathlib.Path(str(_settings().SANDBOX_HELPER_CACHE))
    folder = cache / digest
    target = folder / NAME
    compiler = next((found for name in COMPILERS if (found := shutil.which(name))), None)
    if compiler is None:
        raise BackendUnavailable(f"no C compiler to build the sandbox helper: {INSTALL_HINT}")
    for item in (cache, folder):
        item.mkdir(mode=0o755, parents=True, exist_ok=True)
        os.chown(item, 0, 0)
        os.chmod(item, 0o755)  # noqa: S103  root-owned; only root writes
    with open(cache / ".build.lock", "a+b") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            if not force and target.exists() and _trusted(target) is None:
                return target
            staging = folder / f".{NAME}.{os.getpid()}"
            command = [compiler, *CFLAGS, f'-DKAFAAT_SOURCE_HASH="{digest}"', "-o", str(staging), str(SOURCE)]
            result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
            if result.returncode != 0:
                with contextlib.suppress(OSError):
                    staging.unlink()
                raise BackendUnavailable(
                    f"building the sandbox helper failed ({' '.join(command)}): {result.stderr.strip()[-1500:]}; "
                    f"{INSTALL_HINT}"
                )
            os.chown(staging, 0, 0)
            os.chmod(staging, 0o755)  # noqa: S103  a program anyone may run, only root may change
            os.replace(staging, target)
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    log.info("built the sandbox helper %s", target)
    return target


def landlock_abi() -> int:
    """The Landlock ABI version this kernel offers (0: none), as the helper sees it."""
    try:
        words = subprocess.run(
            [path(), "probe"], capture_output=True, text=True, timeout=10, check=True, env={}
        ).stdout.split()
    except (OSError, subprocess.SubprocessError):
        return 0
    return int(words[1]) if len(words) >= 2 and words[0] == "landlock" and words[1].isdigit() else 0


def forget() -> None:
    """Drop the per-process memo (tests that point SANDBOX_HELPER elsewhere)."""
    with _lock:
        _resolved.clear()
