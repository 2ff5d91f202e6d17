"""The terminal gateway's contract: who owns a session, its sandbox, who may watch, activity, tokens."""

from __future__ import annotations

import logging
from typing import Any

from django.apps import apps
from django.utils import timezone

from xblocks.core import compat
from xblocks.core.i18n import gettext as _
from xblocks.labs.api.status import (
    _parsed,
    _row,
)
from xblocks.labs.data import (
    ServiceTarget,
    SessionNotFound,
    SessionNotReady,
    SessionState,
)
from xblocks.labs.models import LabSession
from xblocks.labs.sandbox.base import SandboxHandle

log = logging.getLogger(__name__)

S = SessionState


def terminal_target(session_id: int):
    """The handle of a ready session's environment (the gateway opens its PTY there)."""

    row = _row(session_id)
    if row.state != S.READY or not row.handle:
        raise SessionNotReady(_("Your lab is not running. Start it first."), f"session {session_id} is {row.state}")
    return SandboxHandle.from_json(row.handle)


def machine_handle(handle: SandboxHandle, machine: str) -> SandboxHandle:
    """The sandbox handle of one machine of a session's environment (a lab of several machines
    answers ``handle.machine(name)``; a single-machine handle is its own only machine)."""
    pick = getattr(handle, "machine", None)
    return pick(machine) if callable(pick) else handle


def services(session_id: int) -> tuple:
    """The services the session's lab declares (from the definition it was started from)."""
    row = LabSession.objects.filter(pk=session_id).values_list("definition_hash", "definition").first()
    if row is None:
        raise SessionNotFound(_("This lab session does not exist."), f"no LabSession {session_id}")
    return _parsed(row[0], row[1]).services


def service_target(session_id: int, service_id: str) -> ServiceTarget:
    """Where a ready session's service lives (the service proxy connects there, the editor works there).

    Raises ``SessionNotReady`` unless the session is ready, ``SessionNotFound`` for an undeclared
    service: the proxy reaches only the ports the lab's author declared, never one a request names.
    """
    row = _row(session_id)
    if row.state != S.READY or not row.handle:
        raise SessionNotReady(_("Your lab is not running. Start it first."), f"session {session_id} is {row.state}")
    try:
        service = _parsed(row.definition_hash, row.definition).service(service_id)
    except KeyError:
        raise SessionNotFound(
            _("This lab has no such service."), f"session {session_id} declares no service {service_id!r}"
        ) from None
    return ServiceTarget(
        session_id=session_id,
        service_id=service.id,
        label=service.label,
        kind=service.kind,
        machine=service.machine,
        handle=machine_handle(SandboxHandle.from_json(row.handle), service.machine),
        port=service.port,
        path=service.path,
        root=service.root,
    )


def services_enabled() -> bool:
    """Whether this site serves service tabs (the terminal app is installed and SERVICE_ORIGIN is set)."""
    terminal_api = _terminal_door()
    return bool(terminal_api is not None and terminal_api.service_origin(1, "x"))


def service_token(user, session_id: int, service_id: str, *, mode: str, attached_by=None) -> dict[str, Any]:
    """Mint a token that opens one service tab of a ready session (the caller has checked who may ask)."""
    service_target(session_id, service_id)
    terminal_api = _terminal_door()
    if terminal_api is None:
        raise SessionNotReady(_("Services are not available on this site."), "terminal app not installed")
    return terminal_api.mint_service_token(
        user=user, session_id=session_id, service_id=service_id, mode=mode, attached_by=attached_by
    )


def record_activity(session_id: int) -> None:
    """Note learner input now (feeds the idle timeout). One UPDATE; the gateway rate-limits calls."""
    LabSession.objects.filter(pk=session_id, state=S.READY).update(last_activity=timezone.now())


def session_owner(session_id: int) -> tuple[int, str, str]:
    row = LabSession.objects.filter(pk=session_id).values_list("user_id", "usage_key", "course_key").first()
    if row is None:
        raise SessionNotFound(_("This lab session does not exist."), f"no LabSession {session_id}")
    return int(row[0]), row[1], row[2]


def can_watch(user, session_id: int) -> bool:
    """Whether ``user`` may attach read-only to the session: staff of the session's course."""
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    row = LabSession.objects.filter(pk=session_id).values_list("course_key", flat=True).first()
    if row is None:
        return False

    return compat.is_course_staff(user, row)


TERMINAL_APP = "xblocks.labs.terminal"


def _terminal_door():
    """The terminal app's api, or None where that optional app is not installed."""
    if not apps.is_installed(TERMINAL_APP):
        return None
    # Imported on demand: the terminal's models exist only where its app is installed.
    from xblocks.labs.terminal import api as terminal_api  # noqa: PLC0415

    return terminal_api


def terminal_token(user, session_id: int, *, mode: str, attached_by=None, machine: str = "") -> dict[str, Any]:
    """Mint a gateway token for a ready session (the caller has checked who may ask); ``machine``
    names the lab's machine to open the shell on ("" for its first)."""
    terminal_target(session_id)
    terminal_api = _terminal_door()
    if terminal_api is None:
        raise SessionNotReady(_("The terminal is not available on this site."), "terminal app not installed")
    options = {"machine": machine} if machine else {}
    return terminal_api.mint_token(user=user, session_id=session_id, mode=mode, attached_by=attached_by, **options)


def transcript(session_id: int, machine: str = "") -> str | None:
    """The recorded terminal of the session's ``machine`` ("": its first), asciinema v2; None if none."""
    terminal_api = _terminal_door()
    return terminal_api.transcript(session_id, machine) if terminal_api is not None else None


def transcript_machines(session_id: int) -> list[str]:
    """The session's machines that have a recorded terminal ("" is the first)."""
    terminal_api = _terminal_door()
    return terminal_api.transcript_machines(session_id) if terminal_api is not None else []


def add_terminal_assets(frag, resource_url) -> bool:
    """Add the terminal's front end to a block fragment; False where the terminal app is not installed."""
    terminal_api = _terminal_door()
    if terminal_api is None:
        return False
    terminal_api.add_to_fragment(frag, resource_url)
    return True
