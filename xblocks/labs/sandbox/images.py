"""Lab images: recipes (a Debian release, packages, files, a setup script) built by debootstrap into a cache.

An image is a read-only root file system shared by every sandbox that uses it (the lower layer of
each sandbox's overlay). Its path carries the recipe's hash, so changing a recipe builds a new
image next to the old one and a running sandbox never sees its root change underneath it.

Files keep the owners the build gave them (0 for root, 1000 for the learner): each sandbox sees the
image through an idmapped mount made with its own user namespace, so the same image serves every
sandbox's id range and the sandbox's root and learner own their files without ever being host
root. The cache folder is ``0700`` so host users cannot reach the image's setuid binaries.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import pathlib
import re
import shutil
import stat
import subprocess
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, TextIO

from xblocks.labs.sandbox.base import ImageNotFound, SandboxError

log = logging.getLogger(__name__)

# Bump when the build procedure changes in a way that changes the result; every image is rebuilt.
# 4: owners are no longer shifted into a host range (sandboxes map the image through idmapped mounts).
BUILDER_VERSION = 4
PACKAGE_RECIPES = pathlib.Path(__file__).resolve().parent / "images"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
DEFAULT_MIRROR = "http://deb.debian.org/debian"
LEARNER_UID = 1000
# What debootstrap's minbase lacks for an image to be usable as a lab at all.
REQUIRED_PACKAGES = ("bash", "coreutils", "util-linux", "passwd", "procps")
# Documentation and translations are a third of a minimal Debian and no lab reads them.
STRIP_PATHS = (
    "usr/share/doc",
    "usr/share/man",
    "usr/share/info",
    "usr/share/locale",
    "usr/share/lintian",
    "var/cache/apt/archives",
    "var/lib/apt/lists",
    "var/cache/debconf/templates.dat-old",
)
DPKG_NODOC = """\
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
"""
# Applied to every image after the recipe's own setup.
COMMON_SETUP = [
    f"id -u learner >/dev/null 2>&1 || "
    f"useradd --create-home --uid {LEARNER_UID} --user-group --shell /bin/bash learner",
    "passwd -l root >/dev/null; passwd -l learner >/dev/null",
    "mkdir -p /etc/sudoers.d /run/kafaat && chmod 0755 /run/kafaat",
    "rm -f /etc/machine-id && : > /etc/machine-id",
    # debootstrap copies the build host's name and resolvers in: neither belongs in a lab
    "echo lab > /etc/hostname && : > /etc/resolv.conf",
    "find /var/log -type f -exec truncate -s 0 {} +",
    "rm -rf /tmp/* /var/tmp/* /root/.cache",
]


class ImageBuildError(SandboxError):
    """A recipe could not be built (debootstrap, package or setup failure); details in the message."""


@dataclass(frozen=True)
class Recipe:
    """A resolved recipe: parents merged in, ready to hash and build."""

    name: str
    source: pathlib.Path
    release: str = "bookworm"
    packages: tuple[str, ...] = ()
    files: tuple[tuple[str, str], ...] = ()
    setup: tuple[str, ...] = ()
    description: str = ""
    parents: tuple[str, ...] = ()

    def fingerprint(self) -> dict[str, Any]:
        return {
            "builder": BUILDER_VERSION,
            "release": self.release,
            "packages": sorted(set(self.packages)),
            "files": [list(item) for item in self.files],
            "setup": list(self.setup),
            # the builder's own steps, so changing them rebuilds every image
            "common": [list(REQUIRED_PACKAGES), COMMON_SETUP, list(STRIP_PATHS), DPKG_NODOC],
        }

    @property
    def hash(self) -> str:
        blob = json.dumps(self.fingerprint(), sort_keys=True).encode()
        return hashlib.sha256(blob).hexdigest()[:12]


@dataclass(frozen=True)
class Image:
    """An image in the cache (``built`` False when only its recipe exists so far)."""

    name: str
    hash: str
    path: pathlib.Path  # the image folder: rootfs/ and image.json
    built: bool
    recipe: Recipe = field(repr=False, compare=False, default=None)  # type: ignore[assignment]

    @property
    def rootfs(self) -> pathlib.Path:
        return self.path / "rootfs"

    def size_bytes(self) -> int:
        meta = self.path / "image.json"
        try:
            return int(json.loads(meta.read_text())["size_bytes"])
        except (OSError, ValueError, KeyError):
            return 0


# ---------------------------------------------------------------------------------------------------
# Recipes


def recipe_dirs() -> list[pathlib.Path]:
    """Folders searched for ``<name>/recipe.json``, first match wins: settings, course content, package."""
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    dirs = [pathlib.Path(entry) for entry in (labs_settings.IMAGE_RECIPE_DIRS or [])]
    checkout = pathlib.Path(__file__).resolve().parents[3] / "course_content" / "images"
    for candidate in (pathlib.Path.cwd() / "course_content" / "images", checkout):
        if candidate not in dirs:
            dirs.append(candidate)
    dirs.append(PACKAGE_RECIPES)
    return dirs


def recipe_names() -> list[str]:
    """Every image name some recipe folder provides."""
    names: set[str] = set()
    for folder in recipe_dirs():
        if folder.is_dir():
            names.update(
                entry.parent.name for entry in folder.glob("*/recipe.json") if NAME_PATTERN.match(entry.parent.name)
            )
    return sorted(names)


def _recipe_file(name: str) -> pathlib.Path:
    if not NAME_PATTERN.match(name):
        raise ImageNotFound(f"invalid image name {name!r}")
    for folder in recipe_dirs():
        candidate = folder / name / "recipe.json"
        if candidate.is_file():
            return candidate
    raise ImageNotFound(f"no recipe for image {name!r} in {', '.join(str(d) for d in recipe_dirs())}")


def load_recipe(name: str, _seen: tuple[str, ...] = ()) -> Recipe:
    """The recipe ``name`` with its ``extends`` chain merged (packages and files add up, setup runs parent first)."""
    if name in _seen:
        raise ImageBuildError(f"image recipes extend each other in a loop: {' -> '.join((*_seen, name))}")
    source = _recipe_file(name)
    try:
        raw = json.loads(source.read_text(encoding="utf-8"))
    except ValueError as error:
        raise ImageBuildError(f"{source}: not valid JSON: {error}") from error
    unknown = set(raw) - {"description", "release", "extends", "packages", "files", "setup"}
    if unknown:
        raise ImageBuildError(f"{source}: unknown keys {sorted(unknown)}")
    setup = raw.get("setup", [])
    setup = [setup] if isinstance(setup, str) else list(setup)
    files = dict(raw.get("files", {}))
    for path in files:
        if not path.startswith("/") or ".." in path.split("/"):
            raise ImageBuildError(f"{source}: file path {path!r} must be absolute and without '..'")
    packages = list(raw.get("packages", []))
    release = raw.get("release")
    parents: tuple[str, ...] = ()
    if raw.get("extends"):
        parent = load_recipe(raw["extends"], (*_seen, name))
        packages = [*parent.packages, *packages]
        files = {**dict(parent.files), **files}
        setup = [*parent.setup, *setup]
        release = release or parent.release
        parents = (*parent.parents, parent.name)
    return Recipe(
        name=name,
        source=source,
        release=release or "bookworm",
        packages=tuple(dict.fromkeys(packages)),
        files=tuple(sorted(files.items())),
        setup=tuple(setup),
        description=raw.get("description", ""),
        parents=parents,
    )


# ---------------------------------------------------------------------------------------------------
# Cache


def cache_dir() -> pathlib.Path:
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    path = pathlib.Path(labs_settings.IMAGE_CACHE)
    path.mkdir(parents=True, exist_ok=True)
    os.chmod(path, 0o700)  # the images hold setuid binaries owned by the sandbox range
    return path


def find(name: str) -> Image:
    """The image for the current recipe of ``name``, built or not."""
    recipe = load_recipe(name)
    path = cache_dir() / f"{name}-{recipe.hash}"
    built = (path / "image.json").is_file() and (path / "rootfs").is_dir()
    return Image(name=name, hash=recipe.hash, path=path, built=built, recipe=recipe)


def find_built(name: str, digest: str) -> Image:
    """The cached image ``name`` built from the recipe with hash ``digest`` (the one a live sandbox
    uses, even if the recipe has changed since); ImageNotFound when it is gone."""
    if not NAME_PATTERN.match(name) or not re.fullmatch(r"[0-9a-f]{12}", digest):
        raise ImageNotFound(f"invalid image reference {name!r} {digest!r}")
    path = cache_dir() / f"{name}-{digest}"
    if not ((path / "image.json").is_file() and (path / "rootfs").is_dir()):
        raise ImageNotFound(f"image {name}-{digest} is no longer in the cache")
    return Image(name=name, hash=digest, path=path, built=True)


def ensure(name: str, *, progress: Callable[[str], None] | None = None) -> Image:
    """The built image ``name``: from the cache, or built now (waiting for a concurrent build of it)."""
    image = find(name)
    if image.built:
        return image
    return build(name, progress=progress)


def list_images() -> list[Image]:
    """Every recipe's current image, built or not, in name order."""
    return [find(name) for name in recipe_names()]


def prune(in_use: set[str], *, dry_run: bool = False) -> list[pathlib.Path]:
    """Remove cached images that no recipe builds any more and no live sandbox uses; return them.

    ``in_use`` holds ``<name>-<hash>`` of the images live sandboxes were created from (their overlay
    still reads them). Abandoned build folders of dead processes go too.
    """
    root = cache_dir()
    current = set()
    for name in recipe_names():
        with contextlib.suppress(SandboxError):
            current.add(f"{name}-{load_recipe(name).hash}")
    removed = []
    for entry in sorted(root.iterdir()):
        if entry.name.startswith(".build-"):
            pid = entry.name.rsplit("-", 1)[-1]
            if pid.isdigit() and os.path.exists(f"/proc/{pid}"):
                continue
        elif entry.name.startswith(".") or not entry.is_dir() or entry.name in current or entry.name in in_use:
            continue
        removed.append(entry)
        if not dry_run:
            _remove_tree(entry)
    return removed


@contextlib.contextmanager
def _locked(path: pathlib.Path, progress: Callable[[str], None]) -> Iterator[None]:
    with open(path, "a+b") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            progress("another build of this image is running; waiting for it")
            fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


# ---------------------------------------------------------------------------------------------------
# Building


class Progress:
    """Phase lines with the elapsed time, so a 40-second debootstrap is never silent."""

    def __init__(self, name: str, stream: TextIO | None = None):
        self.name = name
        self.stream = stream
        self.started = time.monotonic()

    def __call__(self, message: str) -> None:
        line = f"[{time.monotonic() - self.started:6.1f}s] {self.name}: {message}"
        log.info("%s", line)
        if self.stream is not None:
            print(line, file=self.stream, flush=True)


def apt_mirror(sources: list[pathlib.Path] | None = None) -> str:
    """The Debian mirror this host's apt uses (deb822 ``.sources`` or one-line ``.list``)."""
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    if labs_settings.IMAGE_MIRROR:
        return str(labs_settings.IMAGE_MIRROR)
    if sources is None:
        sources = [pathlib.Path("/etc/apt/sources.list"), *sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*"))]
    for source in sources:
        try:
            text = source.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if source.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.+)$", stanza, re.MULTILINE))
                suites = fields.get("Suites", "").split()
                if "deb" in fields.get("Types", "").split() and any(
                    not s.endswith("-security") and "-" not in s for s in suites
                ):
                    for uri in fields.get("URIs", "").split():
                        if "debian" in uri and "security" not in uri:
                            return uri.rstrip("/")
        else:
            for line in text.splitlines():
                match = re.match(r"^\s*deb\s+(?:\[[^]]*\]\s+)?(\S+)\s+(\S+)", line)
                if match and "security" not in match.group(1) and "debian" in match.group(1):
                    return match.group(1).rstrip("/")
    return DEFAULT_MIRROR


def build(
    name: str, *, force: bool = False, progress: Callable[[str], None] | None = None, stream: TextIO | None = None
) -> Image:
    """Build the image for the current recipe of ``name`` unless already built (or ``force``).

    Concurrent builds of the same image wait on a file lock; the result appears by an atomic
    rename, so readers see either no image or a complete one.
    """
    report = progress or Progress(name, stream)
    image = find(name)
    root = cache_dir()
    with _locked(root / f".{name}-{image.hash}.lock", report):
        image = find(name)
        if image.built and not force:
            report(f"already built ({image.path})")
            return image
        if os.geteuid() != 0:
            raise ImageBuildError("building images needs root (debootstrap, chroot and ownership shifting)")
        for tool in ("debootstrap", "bwrap"):
            if not shutil.which(tool):
                raise ImageBuildError(f"{tool} is not installed (see scripts/system-deps.sh)")
        staging = root / f".build-{name}-{image.hash}-{os.getpid()}"
        _remove_tree(staging)
        staging.mkdir(mode=0o700)
        try:
            size = _build_into(image.recipe, staging / "rootfs", report)
            (staging / "image.json").write_text(
                json.dumps(
                    {
                        "name": name,
                        "hash": image.hash,
                        "recipe": image.recipe.fingerprint(),
                        "size_bytes": size,
                        "built_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                    },
                    indent=2,
                )
            )
            if force and image.path.exists():
                old = root / f".old-{name}-{image.hash}-{os.getpid()}"
                os.rename(image.path, old)
                _remove_tree(old)
            os.rename(staging, image.path)
        except BaseException:
            _remove_tree(staging)
            raise
        report(f"done: {size / 1024 / 1024:.0f} MiB in {image.path}")
        return find(name)


def _build_into(recipe: Recipe, rootfs: pathlib.Path, report: Callable[[str], None]) -> int:
    packages = sorted(set(REQUIRED_PACKAGES) | set(recipe.packages))
    mirror = apt_mirror()
    report(f"debootstrap {recipe.release} (minbase, {len(packages)} packages) from {mirror}")
    command = [
        "debootstrap",
        "--variant=minbase",
        f"--include={','.join(packages)}",
        recipe.release,
        str(rootfs),
        mirror,
    ]
    _run_streamed(command, report, env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"})
    report("configuring: no docs, learner account, recipe files and setup")
    (rootfs / "etc/dpkg/dpkg.cfg.d").mkdir(parents=True, exist_ok=True)
    (rootfs / "etc/dpkg/dpkg.cfg.d/01-kafaat-nodoc").write_text(DPKG_NODOC)
    for path, content in recipe.files:
        target = _inside(rootfs, path)
        target.parent.mkdir(parents=True, exist_ok=True)
        if target.is_symlink():
            target.unlink()
        target.write_text(content, encoding="utf-8")
    script = "set -e\n" + "\n".join([*recipe.setup, *COMMON_SETUP]) + "\n"
    _run_streamed(
        [
            "bwrap",
            "--bind",
            str(rootfs),
            "/",
            "--proc",
            "/proc",
            "--dev",
            "/dev",
            "--tmpfs",
            "/tmp",
            "--unshare-pid",
            "--unshare-ipc",
            "--unshare-uts",
            "--hostname",
            "lab",
            "--die-with-parent",
            "--clearenv",
            "--setenv",
            "PATH",
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "--setenv",
            "HOME",
            "/root",
            "--setenv",
            "LANG",
            "C.UTF-8",
            "--setenv",
            "DEBIAN_FRONTEND",
            "noninteractive",
            "--chdir",
            "/",
            "/bin/sh",
            "-c",
            script,
        ],
        report,
        env={},
    )
    report("stripping documentation, manuals and translations")
    for relative in STRIP_PATHS:
        target = rootfs / relative
        if target.is_dir() and not target.is_symlink():
            for child in target.iterdir():
                _remove_tree(child)
    return _tree_size(rootfs)


def _inside(rootfs: pathlib.Path, path: str) -> pathlib.Path:
    """``path`` under ``rootfs``, refusing any existing symlink on the way (a recipe must not write outside)."""
    current = rootfs
    for part in pathlib.PurePosixPath(path).parts[1:-1]:
        current = current / part
        if current.is_symlink():
            resolved = pathlib.Path(os.path.normpath(current.parent / os.readlink(current)))
            if os.readlink(current).startswith("/"):
                resolved = _inside(rootfs, os.readlink(current) + "/x").parent
            if rootfs not in (resolved, *resolved.parents):
                raise ImageBuildError(f"recipe file {path} crosses a symlink out of the image")
            current = resolved
    return current / pathlib.PurePosixPath(path).name


def _run_streamed(command: list[str], report: Callable[[str], None], env: dict[str, str]) -> None:
    """Run a build step, relaying its ``I:`` phase lines and keeping the tail for the error message."""
    tail: list[str] = []
    last = 0.0
    with subprocess.Popen(
        command,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        env=env,
        text=True,
        errors="replace",
    ) as process:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip()
            tail = [*tail[-29:], line]
            # debootstrap prints one "I:" line per package; relay phases, at most one line every 2 s
            if line.startswith(
                (
                    "I: Retrieving",
                    "I: Validating",
                    "I: Extracting",
                    "I: Installing",
                    "I: Unpacking",
                    "I: Configuring",
                    "I: Base system",
                )
            ) or line.startswith("E:"):
                now = time.monotonic()
                if now - last >= 2 or not line.startswith(
                    ("I: Retrieving", "I: Validating", "I: Extracting", "I: Unpacking", "I: Configuring")
                ):
                    report(line)
                    last = now
        code = process.wait()
    if code != 0:
        raise ImageBuildError(f"{command[0]} exited with {code}:\n" + "\n".join(tail))


def _tree_size(rootfs: pathlib.Path) -> int:
    """Bytes the image's regular files occupy on disk."""
    total = 0
    for directory, _subdirs, files in os.walk(rootfs):
        for name in files:
            info = os.lstat(os.path.join(directory, name))
            if stat.S_ISREG(info.st_mode):
                total += info.st_blocks * 512
    return total


def _remove_tree(path: pathlib.Path) -> None:
    """Remove a build tree, unmounting first anything a failed debootstrap left mounted inside it."""
    if not os.path.lexists(path):
        return
    prefix = str(path).rstrip("/") + "/"
    mounts = []
    with contextlib.suppress(OSError):
        with open("/proc/self/mountinfo", encoding="utf-8") as handle:
            for line in handle:
                point = line.split()[4].replace("\\040", " ")
                if point.startswith(prefix) or point == str(path):
                    mounts.append(point)
    for point in sorted(mounts, key=len, reverse=True):
        subprocess.run(["umount", "-l", point], check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if path.is_symlink() or not path.is_dir():
        path.unlink()
    else:
        shutil.rmtree(path)
