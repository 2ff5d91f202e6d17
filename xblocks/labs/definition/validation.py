"""The format's bounds and units: caps, allowed attributes, sizes, durations, ids, file paths and images."""

from __future__ import annotations

import posixpath
import re

from xblocks.core.i18n import gettext as _
from xblocks.labs.sandbox.base import get_backend

MIN_TIME_LIMIT, MAX_TIME_LIMIT = 60, 24 * 3600


MiB = 1024 * 1024


# Caps keep one definition cheap to store, render and ship to a sandbox.
MAX_SCRIPT_CHARS = 64 * 1024


MAX_FILE_CHARS = 256 * 1024


MAX_TEXT_CHARS = 64 * 1024


MAX_FLAG_CHARS = 256


MAX_STEPS = 50


MAX_ITEMS_PER_STEP = 20


MAX_FILES = 100


MAX_PARAMS = 32


MAX_POINTS = 1000


MAX_CHECK_TIMEOUT = 300.0


DEFAULT_CHECK_TIMEOUT = 10.0


LIMIT_BOUNDS = {
    "memory": (32 * MiB, 16 * 1024 * MiB),
    "disk": (16 * MiB, 64 * 1024 * MiB),
    "pids": (16, 4096),
    "cpus": (0.05, 16.0),
    "inodes": (1000, 10_000_000),
}


# Paths the sandbox mounts itself; a lab file there would be hidden or refused.
RESERVED_PREFIXES = ("/proc", "/sys", "/dev", "/run/kafaat")


ID_PATTERN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$")


SIZE_PATTERN = re.compile(r"^\s*(\d+)\s*([KMGT]?)(i?B?)\s*$", re.IGNORECASE)


NUMBER_PATTERN = re.compile(r"^\d+(?:\.\d+)?$")


DURATION_PATTERN = re.compile(r"^(?:\d+(?:\.\d+)?[hms])+$")


DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([hms])")


SIZE_UNITS = {"": 1, "K": 1024, "M": MiB, "G": 1024 * MiB, "T": 1024 * 1024 * MiB}


LAB_ATTRIBUTES = {
    "display_name",
    "lab_key",
    "image",
    "time_limit",
    "idle_timeout",
    "weight",
    "max_attempts",
    "memory",
    "pids",
    "cpus",
    "disk",
    "inodes",
    "gating",
    "sudo",
    "network",
}


# Set by the OLX import/export machinery around the definition, not part of it.
RUNTIME_ATTRIBUTES = {"url_name", "xblock-family"}


CHILD_ATTRIBUTES = {
    "param": {"name", "kind", "min", "max", "length", "prefix"},
    "setup": {"user"},
    "file": {"path", "mode", "owner"},
    "step": {"id", "title"},
    "intro": set(),
    "finish": set(),
    "service": {"id", "machine", "port", "path", "label", "kind", "root"},
}

# A service id is one DNS label of its origin (``<session>-<service>.svc.…``): lowercase, digits, -.
SERVICE_ID_PATTERN = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?$")
MAX_SERVICES = 8
MAX_LABEL_CHARS = 64
# What a service's path may hold: an absolute URL path with its query, no scheme, host or fragment.
SERVICE_PATH_PATTERN = re.compile(r"^/[A-Za-z0-9._~!$&'()*+,;=:@%/?-]{0,511}$")


STEP_CHILD_ATTRIBUTES = {
    "instructions": set(),
    "check": {"id", "points", "timeout", "user", "where"},
    "flag": {"id", "points"},
    "hint": {"cost"},
    "solve": {"user"},
    "setup": {"user"},
}


def path_problem(path: str) -> str | None:
    """Why ``path`` cannot hold a lab file, or None: absolute, normalised, inside the sandbox."""
    if not path:
        return _("<file> needs a path.")
    if "\x00" in path or "\n" in path or "{{" in path:
        return _("File path %(path)r contains a forbidden character or a template.") % {"path": path}
    if not path.startswith("/"):
        return _("File path %(path)s must be absolute (start with /).") % {"path": path}
    if ".." in path.split("/") or posixpath.normpath(path) != path or path.startswith("//"):
        return _("File path %(path)s must be normalised, without .., . or repeated /.") % {"path": path}
    if path == "/" or any(path == prefix or path.startswith(prefix + "/") for prefix in RESERVED_PREFIXES):
        return _("File path %(path)s is outside the lab's writable file system.") % {"path": path}
    if len(path) > 1024:
        return _("File path is longer than 1024 characters.")
    return None


def known_images() -> set[str] | None:
    """Image names a lab may use, from the configured backend; None when it cannot say."""
    try:
        return set(get_backend().image_names())
    except Exception:  # a broken registry must not hide the lab's own errors
        return None


def parse_duration(raw: str, unit: str = "s") -> float | None:
    """Seconds from ``"90"`` (in ``unit``), ``"30s"``, ``"45m"``, ``"1.5h"`` or ``"1h30m"``; None if malformed."""
    text = raw.strip().lower().replace(" ", "")
    factors = {"s": 1, "m": 60, "h": 3600}
    if NUMBER_PATTERN.match(text):
        return float(text) * factors[unit]
    if not DURATION_PATTERN.match(text):
        return None
    return sum(float(number) * factors[suffix] for number, suffix in DURATION_PART.findall(text))


def human_duration(seconds: float) -> str:
    if seconds >= 3600 and seconds % 3600 == 0:
        return f"{int(seconds // 3600)}h"
    if seconds >= 60 and seconds % 60 == 0:
        return f"{int(seconds // 60)}m"
    return f"{seconds:g}s"


def format_size(value: int) -> str:
    for unit in ("T", "G", "M", "K"):
        if value >= SIZE_UNITS[unit] and value % SIZE_UNITS[unit] == 0:
            return f"{value // SIZE_UNITS[unit]}{unit}"
    return str(value)
