"""Per-sandbox host id ranges: each live sandbox holds one slot of the subordinate range.

Slot ``n`` covers host ids ``SANDBOX_UID_BASE + n * SANDBOX_UID_COUNT`` onwards; the sandbox's root
is the first id of its slot and its learner that plus 1000. Because no two live sandboxes share a
host uid, what the kernel counts per user (inotify instances and watches, pipe buffers, processes,
message queues, the user namespaces themselves) is counted per sandbox, and one learner cannot use
up a limit for another or for the host.

A slot is a file in ``SANDBOX_UID_SLOT_DIR`` (one registry per host, whatever ``SANDBOX_ROOT``
each worker uses), created with ``O_EXCL`` under a lock, naming the sandbox and its folder; it is
removed by ``destroy``. A slot whose sandbox folder no longer exists (a crash after the folder went)
is taken back when no slot is free and no process runs with its ids any more; a crash that left the
folder is found by ``inventory`` and destroyed by the reconciler, which frees the slot. A destroy
that could not kill every process keeps the slot (and the folder) for the reconciler: a new sandbox
never gets host ids that a live process of an old one still runs with. Slot 0 is never handed out:
it is the range sandboxes of earlier versions all shared, which may still be alive during an upgrade.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pathlib
from collections.abc import Iterator
from dataclasses import dataclass

from xblocks.labs.sandbox.base import BackendUnavailable


@dataclass(frozen=True)
class Slot:
    index: int
    base: int
    count: int


def _settings():
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    return labs_settings


def directory() -> pathlib.Path:
    path = pathlib.Path(str(_settings().SANDBOX_UID_SLOT_DIR))
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    return path


def _geometry() -> tuple[int, int, int]:
    settings = _settings()
    return int(settings.SANDBOX_UID_BASE), int(settings.SANDBOX_UID_COUNT), int(settings.SANDBOX_UID_SLOTS)


def slot(index: int) -> Slot:
    base, count, _slots = _geometry()
    return Slot(index=index, base=base + index * count, count=count)


@contextlib.contextmanager
def _locked() -> Iterator[pathlib.Path]:
    folder = directory()
    with open(folder / ".lock", "a+b") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield folder
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _entry(folder: pathlib.Path, index: int) -> pathlib.Path:
    base, _count, _slots = _geometry()
    return folder / f"{base}.{index}"


def _owner(path: pathlib.Path) -> dict:
    try:
        return json.loads(path.read_text() or "{}")
    except (OSError, ValueError):
        return {}


def _running_in(taken: Slot) -> bool:
    """Whether a process (not a zombie) of this host runs with a uid or gid of the slot's range."""
    low, high = taken.base, taken.base + taken.count
    with os.scandir("/proc") as entries:
        pids = [entry.name for entry in entries if entry.name.isdigit()]
    for pid in pids:
        try:
            with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
                fields = dict(line.split(":", 1) for line in handle if ":" in line)
        except OSError:
            continue
        if fields.get("State", "").strip().startswith(("Z", "X")):
            continue
        ids = [int(value) for key in ("Uid", "Gid") for value in fields.get(key, "").split()]
        if any(low <= value < high for value in ids):
            return True
    return False


def allocate(sandbox_id: str, sandbox_folder: pathlib.Path) -> Slot:
    """Take the lowest free slot for ``sandbox_id`` (whose folder must exist), reclaiming abandoned ones."""
    base, _count, slots = _geometry()
    with _locked() as folder:
        prefix = f"{base}."
        # indexes only: this runs under the host-wide lock on every create, over every live sandbox
        taken = {
            int(name[len(prefix) :])
            for name in os.listdir(folder)
            if name.startswith(prefix) and name[len(prefix) :].isdigit()
        }
        free = next((index for index in range(1, slots + 1) if index not in taken), None)
        if free is None:
            # every slot is recorded: take back those whose sandbox is gone without a destroy
            for index in sorted(taken):
                entry = _entry(folder, index)
                owner = _owner(entry)
                if owner.get("folder") and not os.path.isdir(owner["folder"]) and not _running_in(slot(index)):
                    entry.unlink(missing_ok=True)
                    free = index
                    break
        if free is not None:
            fd = os.open(_entry(folder, free), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump({"sandbox": sandbox_id, "folder": str(sandbox_folder)}, handle)
            return slot(free)
    raise BackendUnavailable(
        f"every one of the {slots} sandbox id ranges is in use on this host (SANDBOX_UID_SLOTS); "
        "destroy idle sandboxes or raise the setting (and run scripts/sandbox-host.sh)"
    )


def release(index: int, sandbox_id: str) -> None:
    """Free ``index`` if ``sandbox_id`` holds it (a later sandbox may hold a slot a dead one recorded)."""
    if index <= 0:
        return
    with _locked() as folder:
        entry = _entry(folder, index)
        if _owner(entry).get("sandbox") == sandbox_id:
            entry.unlink(missing_ok=True)


def release_all(sandbox_id: str) -> None:
    """Free whatever slot ``sandbox_id`` holds (its handle was lost with a crash)."""
    with _locked() as folder:
        for entry in folder.iterdir():
            if not entry.name.startswith(".") and _owner(entry).get("sandbox") == sandbox_id:
                entry.unlink(missing_ok=True)


def held() -> dict[int, str]:
    """Slot index to sandbox id, for operators and tests."""
    base, _count, _slots = _geometry()
    prefix = f"{base}."
    found = {}
    for entry in directory().iterdir():
        if entry.name.startswith(prefix) and entry.name[len(prefix) :].isdigit():
            found[int(entry.name[len(prefix) :])] = str(_owner(entry).get("sandbox", ""))
    return found
