"""Lab images: recipes (a Debian release, packages, files, a setup script) built into a cache.

A build is a minimal debootstrap, then the recipe's packages installed by apt inside the new root
(``--no-install-recommends``, documentation excluded by dpkg), from the Debian sources the host's
own apt uses; progress goes to the operator phase by phase with package counts.

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
import dataclasses
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
# 5: a minimal debootstrap, then the packages through apt from the host's sources.
BUILDER_VERSION = 5
PACKAGE_RECIPES = pathlib.Path(__file__).resolve().parent / "images"
NAME_PATTERN = re.compile(r"^[a-z0-9][a-z0-9_.-]{0,63}$")
# Only when the host has no Debian sources of its own (and IMAGE_MIRROR is empty).
DEFAULT_MIRROR = "http://deb.debian.org/debian"
DEFAULT_SECURITY_MIRROR = "http://deb.debian.org/debian-security"
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
path-exclude /usr/share/linda/*
path-exclude /usr/share/groff/*
"""
# The image's apt (the build's, and a learner's in a lab with egress): no recommends, no translations.
APT_LEAN = """\
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Languages "none";
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
    "apt-get clean",
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
    exclude: tuple[str, ...] = ()  # more dpkg path-exclude globs (headers no lab compiles against...)

    def fingerprint(self) -> dict[str, Any]:
        extra = {"exclude": list(self.exclude)} if self.exclude else {}
        return {
            **extra,
            "builder": BUILDER_VERSION,
            "release": self.release,
            "packages": sorted(set(self.packages)),
            "files": [list(item) for item in self.files],
            "setup": list(self.setup),
            # the builder's own steps, so changing them rebuilds every image
            "common": [list(REQUIRED_PACKAGES), COMMON_SETUP, list(STRIP_PATHS), DPKG_NODOC, APT_LEAN],
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
    unknown = set(raw) - {"description", "release", "extends", "packages", "files", "setup", "exclude"}
    if unknown:
        raise ImageBuildError(f"{source}: unknown keys {sorted(unknown)}")
    setup = raw.get("setup", [])
    setup = [setup] if isinstance(setup, str) else list(setup)
    files = dict(raw.get("files", {}))
    for path, content in files.items():
        if not path.startswith("/") or ".." in path.split("/"):
            raise ImageBuildError(f"{source}: file path {path!r} must be absolute and without '..'")
        if isinstance(content, dict):  # {"from": "app.py"}: a file beside the recipe (its text is hashed)
            files[path] = _beside(source, content.get("from", ""))
        elif not isinstance(content, str):
            raise ImageBuildError(f'{source}: file {path!r} must be text or {{"from": "a file beside the recipe"}}')
    packages = list(raw.get("packages", []))
    exclude = list(raw.get("exclude", []))
    for pattern in exclude:
        if not isinstance(pattern, str) or not pattern.startswith("/") or any(c.isspace() for c in pattern):
            raise ImageBuildError(f"{source}: exclude {pattern!r} must be an absolute path glob without spaces")
    release = raw.get("release")
    parents: tuple[str, ...] = ()
    if raw.get("extends"):
        parent = load_recipe(raw["extends"], (*_seen, name))
        packages = [*parent.packages, *packages]
        exclude = [*parent.exclude, *exclude]
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
        exclude=tuple(dict.fromkeys(exclude)),
    )


def _beside(source: pathlib.Path, name: str) -> str:
    """The text of the file ``name`` in the recipe's own folder (never outside it)."""
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name or "") or name.startswith("."):
        raise ImageBuildError(f"{source}: 'from' must name a file in the recipe's folder, not {name!r}")
    try:
        return (source.parent / name).read_text(encoding="utf-8")
    except OSError as error:
        raise ImageBuildError(f"{source}: cannot read {name}: {error}") from error


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


@dataclass(frozen=True)
class AptSource:
    """One Debian source of an image's apt: a mirror, its suites (``bookworm``, ``bookworm-updates``) and components."""

    uri: str
    suites: tuple[str, ...]
    components: tuple[str, ...] = ("main",)
    signed_by: str = ""

    @property
    def security(self) -> bool:
        return any(suite.endswith("-security") for suite in self.suites)


def _host_codename() -> str:
    try:
        text = pathlib.Path("/etc/os-release").read_text(encoding="utf-8")
    except OSError:
        return ""
    match = re.search(r"^VERSION_CODENAME=\"?([a-z]+)\"?$", text, re.MULTILINE)
    return match.group(1) if match else ""


def _read_sources(paths: list[pathlib.Path]) -> list[AptSource]:
    """Every ``deb`` entry of the given apt source files (deb822 ``.sources`` or one-line ``.list``)."""
    found = []
    for source in paths:
        try:
            text = source.read_text(encoding="utf-8", errors="replace")
        except OSError:
            continue
        if source.suffix == ".sources":
            for stanza in re.split(r"\n\s*\n", text):
                fields = dict(re.findall(r"^([A-Za-z-]+):\s*(.+)$", stanza, re.MULTILINE))
                if "deb" not in fields.get("Types", "").split() or fields.get("Enabled", "yes").strip() == "no":
                    continue
                for uri in fields.get("URIs", "").split():
                    found.append(
                        AptSource(
                            uri.rstrip("/"),
                            tuple(fields.get("Suites", "").split()),
                            tuple(fields.get("Components", "main").split()),
                            fields.get("Signed-By", "").strip(),
                        )
                    )
        elif source.suffix == ".list":
            for line in text.splitlines():
                match = re.match(r"^\s*deb\s+(?:\[([^]]*)\]\s+)?(\S+)\s+(\S+)\s*(.*)$", line)
                if match:
                    signed = re.search(r"signed-by=(\S+)", match.group(1) or "")
                    found.append(
                        AptSource(
                            match.group(2).rstrip("/"),
                            (match.group(3),),
                            tuple(match.group(4).split()) or ("main",),
                            signed.group(1) if signed else "",
                        )
                    )
    return found


def _host_source_files() -> list[pathlib.Path]:
    return [pathlib.Path("/etc/apt/sources.list"), *sorted(pathlib.Path("/etc/apt/sources.list.d").glob("*"))]


def apt_sources(release: str, paths: list[pathlib.Path] | None = None, codename: str | None = None) -> list[AptSource]:
    """The Debian sources an image of ``release`` installs from: the host's own apt sources for its
    Debian release (release, ``-updates`` and ``-security`` suites, renamed to ``release``), so a
    build uses the mirror, proxy or snapshot the operator already configured for the host.

    Third-party repositories and backports of the host are left out (their suites are not the
    host's release). ``IMAGE_MIRROR`` replaces the URI of every non-security source; with neither,
    the public Debian mirrors are the last resort.
    """
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    codename = _host_codename() if codename is None else codename
    chosen: list[AptSource] = []
    for entry in _read_sources(_host_source_files() if paths is None else paths):
        suites = []
        for suite in entry.suites:
            base, _, pocket = suite.partition("-")
            if base in (codename, "stable") and pocket in ("", "updates", "security"):
                suites.append(release + (f"-{pocket}" if pocket else ""))
        if suites:
            chosen.append(AptSource(entry.uri, tuple(suites), entry.components, entry.signed_by))
    if not chosen:
        chosen = [
            AptSource(DEFAULT_MIRROR, (release, f"{release}-updates")),
            AptSource(DEFAULT_SECURITY_MIRROR, (f"{release}-security",)),
        ]
    if labs_settings.IMAGE_MIRROR:
        mirror = str(labs_settings.IMAGE_MIRROR).rstrip("/")
        chosen = [entry if entry.security else dataclasses.replace(entry, uri=mirror) for entry in chosen]
    return chosen


def apt_mirror(
    sources: list[pathlib.Path] | None = None, release: str = "bookworm", codename: str | None = None
) -> str:
    """The mirror debootstrap fetches ``release`` from: the first non-security source of ``apt_sources``."""
    return next((s.uri for s in apt_sources(release, sources, codename) if not s.security), DEFAULT_MIRROR)


def _sources_file(sources: list[AptSource], rootfs: pathlib.Path) -> str:
    stanzas = []
    for entry in sources:
        lines = [
            "Types: deb",
            f"URIs: {entry.uri}",
            f"Suites: {' '.join(entry.suites)}",
            f"Components: {' '.join(entry.components)}",
        ]
        if entry.signed_by and (rootfs / entry.signed_by.lstrip("/")).is_file():
            lines.append(f"Signed-By: {entry.signed_by}")
        stanzas.append("\n".join(lines))
    return "\n\n".join(stanzas) + "\n"


def build(
    name: str, *, force: bool = False, progress: Callable[[str], None] | None = None, stream: TextIO | None = None
) -> Image:
    """Build the image for the current recipe of ``name`` unless already built (or ``force``).

    Concurrent builds of the same image wait on a file lock; the result appears by an atomic
    rename, so readers see either no image or a complete one, and a failed build leaves nothing.
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
            raise ImageBuildError("building images needs root (debootstrap and apt in the new root)")
        for tool in ("debootstrap", "bwrap"):
            if not shutil.which(tool):
                raise ImageBuildError(f"{tool} is not installed (see scripts/system-deps.sh)")
        parent = None
        if image.recipe.parents:  # built (or found) first, outside this image's staging
            parent = ensure(image.recipe.parents[-1], progress=report)
        staging = root / f".build-{name}-{image.hash}-{os.getpid()}"
        _remove_tree(staging)
        staging.mkdir(mode=0o700)
        started = time.monotonic()
        try:
            size, installed = _build_into(image.recipe, staging / "rootfs", report, parent)
            (staging / "image.json").write_text(
                json.dumps(
                    {
                        "name": name,
                        "hash": image.hash,
                        "recipe": image.recipe.fingerprint(),
                        "size_bytes": size,
                        "packages_installed": installed,
                        "build_seconds": round(time.monotonic() - started, 1),
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
        report(f"done: {size / 1024 / 1024:.0f} MiB, {installed} packages, in {image.path}")
        return find(name)


def _build_into(
    recipe: Recipe, rootfs: pathlib.Path, report: Callable[[str], None], parent: Image | None = None
) -> tuple[int, int]:
    """The build's phases; each failure names its phase (and the package, when one is to blame).

    A minimal debootstrap first, then the recipe's packages through apt in the new root: apt
    resolves and configures large sets (a Jupyter stack) where ``debootstrap --include`` breaks,
    and with ``--no-install-recommends`` and dpkg's path excludes the image stays lean. An image
    that extends another starts from a copy of its parent's built root instead of a debootstrap,
    and adds only its own packages, files and setup.
    """
    sources = apt_sources(recipe.release)
    mirror = next((s.uri for s in sources if not s.security), DEFAULT_MIRROR)
    packages = sorted(set(REQUIRED_PACKAGES) | set(recipe.packages))
    files, setup = recipe.files, recipe.setup
    if parent is not None and parent.recipe is not None and parent.recipe.release == recipe.release:
        with _phase("copy parent"):
            report(f"phase 1/6 copy of the parent image {parent.name}-{parent.hash}")
            _run_streamed(["cp", "-a", "--reflink=auto", str(parent.rootfs), str(rootfs)], _PlainLines(report), env={})
        packages = sorted(set(packages) - set(parent.recipe.packages) - set(REQUIRED_PACKAGES))
        files = tuple(item for item in recipe.files if item not in parent.recipe.files)
        setup = recipe.setup[len(parent.recipe.setup) :]
    else:
        with _phase("debootstrap"):
            report(f"phase 1/6 debootstrap: minimal {recipe.release} from {mirror}")
            _run_streamed(
                ["debootstrap", "--variant=minbase", recipe.release, str(rootfs), mirror],
                _DebootstrapLines(report),
                env={"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C"},
            )
    report("phase 2/6 configure apt: host's sources, no recommends, no docs, no service starts")
    excluded = "".join(f"path-exclude {pattern}\n" for pattern in recipe.exclude)
    _write(rootfs, "/etc/dpkg/dpkg.cfg.d/01-kafaat-nodoc", DPKG_NODOC + excluded)
    _write(rootfs, "/etc/apt/apt.conf.d/01-kafaat-lean", APT_LEAN)
    with contextlib.suppress(FileNotFoundError):
        (rootfs / "etc/apt/sources.list").unlink()
    _write(rootfs, "/etc/apt/sources.list.d/debian.sources", _sources_file(sources, rootfs))
    _write(rootfs, "/usr/sbin/policy-rc.d", "#!/bin/sh\nexit 101\n")  # daemons never start during the build
    os.chmod(rootfs / "usr/sbin/policy-rc.d", 0o755)  # noqa: S103 - a system script, root-owned
    if packages:
        with _phase("apt-get update"):
            report("phase 3/6 package lists: apt-get update")
            _run_streamed(_in_root(rootfs, ["apt-get", "update", "-q"]), _AptLines(report, "update"), env={})
        # status lines on stdout; dpkg keeps apt's pty (without one, with Status-Fd=1, the
        # ca-certificates trigger fails writing to a closed stdout)
        apt = ["apt-get", "install", "-y", "-q", "--no-install-recommends", "-o", "APT::Status-Fd=1"]
        download = _AptLines(report, "download")
        with _phase("download", download):
            report(f"phase 4/6 download: {len(packages)} recipe packages and their dependencies")
            _run_streamed(_in_root(rootfs, [*apt, "--download-only", *packages]), download, env={})
        install = _AptLines(report, "install", total=download.total)
        with _phase("install", install):
            report(f"phase 5/6 install: {download.total} packages, offline")
            _run_streamed(_in_root(rootfs, [*apt, *packages], network=False), install, env={})
    with _phase("recipe setup"):
        report("phase 6/6 recipe files and setup, learner account, clean-up")
        for path, content in files:
            _write(rootfs, path, content)
        if setup:  # may download (a wheel, a data set): with the host's resolver
            script = "set -e\n" + "\n".join(setup) + "\n"
            _run_streamed(_in_root(rootfs, ["/bin/sh", "-c", script]), _PlainLines(report), env={})
        script = "set -e\n" + "\n".join(COMMON_SETUP) + "\n"
        _run_streamed(_in_root(rootfs, ["/bin/sh", "-c", script], network=False), _PlainLines(report), env={})
    (rootfs / "usr/sbin/policy-rc.d").unlink()
    for relative in STRIP_PATHS:  # what debootstrap installed before dpkg's excludes were in place
        target = rootfs / relative
        if target.is_dir() and not target.is_symlink():
            for child in target.iterdir():
                if relative == "usr/share/doc" and child.is_dir() and not child.is_symlink():
                    for inner in child.iterdir():
                        if inner.name != "copyright":  # licences stay, as dpkg's path-include keeps them
                            _discard(inner)
                else:
                    _discard(child)
    installed = _count_installed(rootfs)
    return _tree_size(rootfs), installed


def _write(rootfs: pathlib.Path, path: str, content: str) -> None:
    target = _inside(rootfs, path)
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():
        target.unlink()
    target.write_text(content, encoding="utf-8")


def _count_installed(rootfs: pathlib.Path) -> int:
    try:
        status = (rootfs / "var/lib/dpkg/status").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return 0
    return len(re.findall(r"^Status: install ok installed$", status, re.MULTILINE))


def _in_root(rootfs: pathlib.Path, command: list[str], *, network: bool = True) -> list[str]:
    """``command`` run as root in the image being built (the operator's build, not learner code):
    its own /proc, /dev and /tmp, pid namespace, and no network unless it must download."""
    return [
        "bwrap",
        "--bind",
        str(rootfs),
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--perms",
        "1777",
        "--tmpfs",
        "/tmp",
        "--unshare-pid",
        "--unshare-ipc",
        "--unshare-uts",
        # the host's resolver while it downloads (the image's own resolv.conf stays empty)
        *(["--ro-bind", "/etc/resolv.conf", "/etc/resolv.conf"] if network else ["--unshare-net"]),
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
        *command,
    ]


class _Lines:
    """What a build step's output says: relayed as throttled progress, remembered for the failure message."""

    def __init__(self, report: Callable[[str], None]):
        self.report = report
        self.tail: list[str] = []
        self.culprit = ""
        self._last = 0.0

    def throttled(self, message: str, *, every: float = 2.0) -> None:
        now = time.monotonic()
        if now - self._last >= every:
            self._last = now
            self.report(message)

    def __call__(self, line: str) -> None:
        self.tail = [*self.tail[-29:], line]
        self.feed(line)

    def feed(self, line: str) -> None:  # pragma: no cover - overridden
        pass


class _PlainLines(_Lines):
    def feed(self, line: str) -> None:
        self.throttled(f"  {line[:160]}")


class _DebootstrapLines(_Lines):
    # debootstrap prints one "I:" line per package; relay phases, at most one line every 2 s
    PHASES = ("I: Retrieving", "I: Validating", "I: Extracting", "I: Installing", "I: Unpacking", "I: Configuring")

    def feed(self, line: str) -> None:
        if line.startswith(("I: Base system", "E:")):
            self.report(f"  {line}")
        elif line.startswith(self.PHASES):
            self.throttled(f"  {line}")
        match = re.match(
            r"^(?:I: (?:Retrieving|Validating|Extracting|Unpacking|Configuring)|E: .*?) ([a-z0-9][a-z0-9+.-]+)", line
        )
        if match and line.startswith("E:"):
            self.culprit = match.group(1)


class _AptLines(_Lines):
    """apt's machine-readable status (``APT::Status-Fd``): ``dlstatus:`` while downloading,
    ``pmstatus:PACKAGE:PERCENT:WHAT`` while dpkg works, ``pmerror:PACKAGE:...`` when one fails."""

    def __init__(self, report: Callable[[str], None], step: str, total: int = 0):
        super().__init__(report)
        self.step = step
        self.total = total
        self.unpacked: set[str] = set()
        self.configured: set[str] = set()

    def feed(self, line: str) -> None:
        counted = re.match(r"^(\d+) upgraded, (\d+) newly installed", line)
        if counted:
            self.total = int(counted.group(2))
            self.report(f"  {self.total} packages to install")
        elif line.startswith("Need to get "):
            self.report(f"  {line}")
        elif line.startswith("dlstatus:"):
            status = re.match(r"^dlstatus:[^:]*:([\d.]+):(.*)$", line)
            if status:
                self.throttled(f"  download {float(status.group(1)):3.0f}% ({status.group(2)})")
        elif line.startswith("pmstatus:"):
            status = re.match(r"^pmstatus:(.+?):([\d.]+):(.*)$", line)
            if not status:
                return
            package, percent, what = status.group(1).split(":")[0], float(status.group(2)), status.group(3)
            if what.startswith("Unpacking"):
                self.unpacked.add(package)
            elif what.startswith("Installed"):
                self.configured.add(package)
            if package != "dpkg-exec":
                self.culprit = package
            total = max(self.total, len(self.unpacked))
            unpacked, configured = len(self.unpacked), len(self.configured)
            self.throttled(f"  {percent:3.0f}%: unpacked {unpacked}/{total}, set up {configured}/{total} ({what})")
        elif line.startswith("pmerror:"):
            failed = re.match(r"^pmerror:(.+?):[\d.]+:(.*)$", line)
            if failed:
                self.culprit = failed.group(1).split(":")[0]
                self.report(f"  error: {failed.group(2)}")
        elif line.startswith(("E:", "W:", "Err:")):
            self.report(f"  {line}")
            missing = re.search(
                r"(?:Unable to locate package |Package ')([a-z0-9][a-z0-9+.:-]*)'?(?: has no installation candidate)?",
                line,
            )
            fetched = re.search(r"Failed to fetch \S*/([a-z0-9][a-z0-9+.-]*)_[^/\s]+\.deb", line)
            broken = re.search(r"error processing package ([a-z0-9][a-z0-9+.-]*)", line)
            for found in (fetched, broken, missing):
                if found and not self.culprit:
                    self.culprit = found.group(1).split(":")[0]
        elif line.startswith("dpkg: error processing package"):
            self.culprit = line.split()[4].split(":")[0]


@contextlib.contextmanager
def _phase(phase: str, lines: _Lines | None = None) -> Iterator[None]:
    """Name the phase (and the package apt or dpkg blamed) in a build error."""
    try:
        yield
    except _StepFailed as failed:
        culprit = (lines or failed.lines).culprit
        where = f"phase {phase!r}" + (f", package {culprit}" if culprit else "")
        raise ImageBuildError(f"build failed in {where}: {failed.args[0]}:\n" + "\n".join(failed.lines.tail)) from None


class _StepFailed(Exception):
    def __init__(self, message: str, lines: _Lines):
        super().__init__(message)
        self.lines = lines


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


def _run_streamed(command: list[str], lines: _Lines, env: dict[str, str]) -> None:
    """Run a build step, feeding each output line to ``lines`` (progress and the failure's tail)."""
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
            lines(line.rstrip())
        code = process.wait()
    if code != 0:
        raise _StepFailed(f"{command[0] if command[0] != 'bwrap' else _inner(command)} exited with {code}", lines)


def _inner(command: list[str]) -> str:
    """The program a ``_in_root`` command runs (after bwrap's options)."""
    return command[command.index("--chdir") + 2] if "--chdir" in command else command[0]


def _tree_size(rootfs: pathlib.Path) -> int:
    """Bytes the image's regular files occupy on disk."""
    total = 0
    for directory, _subdirs, files in os.walk(rootfs):
        for name in files:
            info = os.lstat(os.path.join(directory, name))
            if stat.S_ISREG(info.st_mode):
                total += info.st_blocks * 512
    return total


def _discard(path: pathlib.Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path)
    else:
        path.unlink()


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
