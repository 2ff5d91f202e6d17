"""The one door to the terminal's data: tokens for the gateway, staff attaches, transcripts, history.

Lab sessions belong to the labs app; this module reaches them only through the functions of
``TERMINAL_SESSION_DIRECTORY`` (``xblocks.labs.api`` by default): ``session_owner``,
``terminal_target``, ``can_watch`` and ``record_activity``.
"""

from __future__ import annotations

import datetime
import hashlib
import importlib
import logging
import re
import secrets
from types import ModuleType

from django.core.exceptions import PermissionDenied
from django.db.models import F, Max, Sum, Value
from django.db.models.functions import Greatest, Length
from django.utils import timezone

from xblocks.labs.terminal import recording
from xblocks.labs.terminal.assets import add_to_fragment
from xblocks.labs.terminal.conf import terminal_settings
from xblocks.labs.terminal.data import TokenClaim, TokenGrant, TranscriptState
from xblocks.labs.terminal.models import Mode, StaffAttach, TerminalToken, Transcript, TranscriptChunk

log = logging.getLogger(__name__)

MAX_TOKEN_TTL = 60
PATH_PREFIX = "/kafaat/terminal/ws/"  # routing.py serves <PATH_PREFIX><session_id>/
AUTH_PATH = "/_kafaat/auth"  # on a service's origin: trades a service token for that origin's cookie
_TOKEN_CHARS = 64


class TerminalDenied(PermissionDenied):
    """The caller may not open this terminal in this mode."""


def sessions() -> ModuleType:
    """The module that answers questions about lab sessions (ownership, sandbox, watchers)."""
    return importlib.import_module(terminal_settings.TERMINAL_SESSION_DIRECTORY)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode("ascii", "replace")).hexdigest()


def _gateway_url(host: str, session_id: int) -> str:
    """The gateway URL for a session on ``host``: configured for it, else what it registered, else the default."""
    registered = getattr(sessions(), "gateway_url", None)  # optional in a session directory
    base = (
        (terminal_settings.TERMINAL_GATEWAY_URLS or {}).get(host)
        or (registered(host) if registered and host else "")
        or terminal_settings.TERMINAL_GATEWAY_URL
    )
    path = f"{PATH_PREFIX}{int(session_id)}/"
    return f"{base.rstrip('/')}{path}" if base else path


def mint_token(*, user, session_id: int, mode: str, attached_by=None, machine: str = "") -> dict:
    """A single-use token (at most 60 s) for ``user`` to open ``session_id``'s terminal in ``mode``.

    ``mode`` is ``"rw"`` (the learner's own shell) or ``"ro"`` (watching; ``attached_by`` is the
    staff member accountable for the watch when it differs from ``user``). Ownership and watch
    rights are checked again here, and again when the gateway consumes the token.
    ``machine`` names the lab's machine to open a shell on ("" or absent: its first); a name the
    session's environment does not have is refused.
    Returns ``{"token", "url", "expires_in"}``; ``url`` is absolute when the session's lab host has
    a configured gateway, else a path on the page's own host.
    """
    try:
        mode = Mode(mode)
    except ValueError:
        raise TerminalDenied(f"unknown terminal mode {mode!r}") from None
    directory = sessions()
    owner_id, _usage_key, _course_key = directory.session_owner(session_id)
    viewer = attached_by or user
    if mode == Mode.READ_WRITE and (user.pk != owner_id or viewer.pk != owner_id):
        raise TerminalDenied(f"user {user.pk} does not own lab session {session_id}")
    if mode == Mode.READ_ONLY and viewer.pk != owner_id and not directory.can_watch(viewer, session_id):
        raise TerminalDenied(f"user {viewer.pk} may not watch lab session {session_id}")
    handle = directory.terminal_target(session_id)  # raises unless the sandbox is ready
    machine = machine_key(handle, machine)
    if machine is None:
        raise TerminalDenied(f"lab session {session_id} has no machine to open a terminal on")
    ttl = max(1, min(int(terminal_settings.TERMINAL_TOKEN_TTL), MAX_TOKEN_TTL))
    token = secrets.token_urlsafe(48)
    TerminalToken.objects.create(
        digest=_digest(token),
        user=user,
        session_id=session_id,
        mode=mode.value,
        machine=machine,
        attached_by=attached_by if attached_by is not None and attached_by.pk != user.pk else None,
        expires_at=timezone.now() + datetime.timedelta(seconds=ttl),
    )
    return TokenGrant(token=token, url=_gateway_url(handle.host, session_id), expires_in=ttl).as_json()


def machine_key(handle, machine: object) -> str | None:
    """A machine as tokens, shells and transcripts name it: "" for the lab's first (or only) machine,
    None for no such machine."""
    if not isinstance(machine, str):
        return None
    names = tuple(getattr(handle, "machines", ()) or ())
    if not names or not machine or machine == names[0]:
        return ""  # one machine: whatever its name, it is the only one a token can open
    return machine if machine in names else None


def consume_token(token: object, session_id: int, *, service: str = "") -> TokenClaim | None:
    """Use a token once for ``session_id``; ``None`` when it is malformed, unknown, used, expired,
    for another session, or its holder lost the right to the session since it was minted.

    The consume is one conditional UPDATE, so of concurrent replays exactly one wins. ``service``
    names the service tab the token must be for ("": the terminal): a token for one never opens
    the other.
    """
    if not isinstance(token, str) or not 16 <= len(token) <= _TOKEN_CHARS * 2:
        return None
    digest = _digest(token)
    now = timezone.now()
    won = TerminalToken.objects.filter(
        digest=digest, consumed_at__isnull=True, expires_at__gt=now, service=service
    ).update(consumed_at=now)
    if won != 1:
        return None
    row = TerminalToken.objects.select_related("user", "attached_by").get(digest=digest)
    if row.session_id != session_id:
        log.warning("terminal token for session %s presented on session %s", row.session_id, session_id)
        return None
    directory = sessions()
    try:
        owner_id, _usage_key, _course_key = directory.session_owner(session_id)
        viewer = row.attached_by or row.user
        if row.mode == Mode.READ_WRITE and row.user_id != owner_id:
            return None
        if row.mode == Mode.READ_ONLY and viewer.pk != owner_id and not directory.can_watch(viewer, session_id):
            return None
        machine = ""
        if service:
            handle = directory.service_target(session_id, service).handle
        else:
            handle = directory.terminal_target(session_id)
            machine = machine_key(handle, row.machine)
            if machine is None:
                return None
            if machine:
                handle = handle.machine(machine)
            elif getattr(handle, "machines", ()):
                handle = handle.machine()
    except Exception:
        # fail closed: a session that vanished or cannot be resolved opens nothing
        log.warning("terminal token for session %s refused: session not available", session_id, exc_info=True)
        return None
    attach_id = None
    if row.mode == Mode.READ_ONLY and viewer.pk != owner_id:
        attach_id = StaffAttach.objects.create(staff=viewer, learner_id=owner_id, session_id=session_id).pk
        log.info("user %s attached read-only to lab session %s of user %s", viewer.pk, session_id, owner_id)
    return TokenClaim(
        user_id=row.user_id,
        viewer_id=viewer.pk,
        owner_id=owner_id,
        session_id=session_id,
        mode=row.mode,
        handle=handle,
        attach_id=attach_id,
        machine=machine,
        service=service,
    )


def service_origin(session_id: int, service_id: str, host: str = "") -> str:
    """The origin a session's service is served from: ``SERVICE_ORIGIN`` with ``{id}`` (``<session>-<service>``)
    and ``{host}`` (the session's lab host, for a DNS name per host) filled in; "" when off."""
    template = str(terminal_settings.SERVICE_ORIGIN or "")
    if not template:
        return ""
    label = re.sub(r"[^a-z0-9-]", "-", (host or "").lower()).strip("-")[:63] or "lab"
    return template.replace("{id}", f"{int(session_id)}-{service_id}").replace("{host}", label).rstrip("/")


def mint_service_token(*, user, session_id: int, service_id: str, mode: str, attached_by=None) -> dict:
    """A single-use token (at most 60 s) that opens one service tab of ``session_id`` in ``mode``.

    The same rules as ``mint_token`` (the learner's own session for ``rw``, watch rights for ``ro``);
    the page posts it to the service origin's ``/_kafaat/auth``, which trades it for a cookie of that
    origin alone. Returns ``{"token", "url", "origin", "path", "expires_in"}``.
    """
    try:
        mode = Mode(mode)
    except ValueError:
        raise TerminalDenied(f"unknown service mode {mode!r}") from None
    if not service_origin(session_id, service_id):
        raise TerminalDenied("service tabs are off on this site (SERVICE_ORIGIN is empty)")
    directory = sessions()
    owner_id, _usage_key, _course_key = directory.session_owner(session_id)
    viewer = attached_by or user
    if mode == Mode.READ_WRITE and (user.pk != owner_id or viewer.pk != owner_id):
        raise TerminalDenied(f"user {user.pk} does not own lab session {session_id}")
    if mode == Mode.READ_ONLY and viewer.pk != owner_id and not directory.can_watch(viewer, session_id):
        raise TerminalDenied(f"user {viewer.pk} may not watch lab session {session_id}")
    target = directory.service_target(session_id, service_id)  # raises unless ready and declared
    origin = service_origin(session_id, service_id, target.handle.host)
    ttl = max(1, min(int(terminal_settings.TERMINAL_TOKEN_TTL), MAX_TOKEN_TTL))
    token = secrets.token_urlsafe(48)
    TerminalToken.objects.create(
        digest=_digest(token),
        user=user,
        session_id=session_id,
        mode=mode.value,
        service=service_id,
        attached_by=attached_by if attached_by is not None and attached_by.pk != user.pk else None,
        expires_at=timezone.now() + datetime.timedelta(seconds=ttl),
    )
    return {
        "token": token,
        "url": f"{origin}{AUTH_PATH}",
        "origin": origin,
        "path": target.path,
        "expires_in": ttl,
    }


def end_attach(attach_id: int) -> None:
    StaffAttach.objects.filter(pk=attach_id, ended_at__isnull=True).update(ended_at=timezone.now())


def record_activity(session_id: int) -> None:
    """Tell the labs app the learner is active (keeps the idle timeout from firing)."""
    sessions().record_activity(session_id)


def open_transcript(session_id: int, width: int, height: int, machine: str = "") -> TranscriptState:
    """The transcript of the session's ``machine`` ("": its first; created on first use): where recording
    continues from."""
    now = timezone.now()
    row, _created = Transcript.objects.get_or_create(
        session_id=session_id,
        machine=machine,
        defaults={"width": width, "height": height, "started_at": now, "updated_at": now},
    )
    chunks = row.chunks.aggregate(last=Max("seq"), history=Sum(Length("history")))
    return TranscriptState(
        started_at=row.started_at.timestamp(),
        size=row.size,
        truncated=row.truncated,
        next_seq=(chunks["last"] or 0) + 1,
        history_size=chunks["history"] or 0,
    )


def append_transcript(
    session_id: int, seq: int, events: str, history: bytes, *, size: int, truncated: bool, machine: str = ""
) -> None:
    """Store one flushed run of events and completed input lines (chunk ``seq``) of the session's ``machine``.

    Two statements on the common path: the gateway calls this from a thread of its event loop's
    process, and every millisecond of ORM work here competes with keystrokes for the GIL.
    """
    now = timezone.now()
    rows = Transcript.objects.filter(session_id=session_id, machine=machine)
    transcript_id = rows.values_list("pk", flat=True).first()
    if transcript_id is None:  # purged while the shell lived on: start again rather than lose the rest
        transcript_id = Transcript.objects.create(
            session_id=session_id, machine=machine, started_at=now, updated_at=now
        ).pk
    TranscriptChunk.objects.create(transcript_id=transcript_id, seq=seq, events=events, history=history)
    # flushes may land out of order: size only grows and truncation is never undone
    changes = {"updated_at": now, "size": Greatest(F("size"), Value(size))}
    if truncated:
        changes["truncated"] = True
    Transcript.objects.filter(pk=transcript_id).update(**changes)


def transcript(session_id: int, machine: str = "") -> str | None:
    """The terminal of the session's ``machine`` as asciinema v2 cast text, for staff replay; ``None`` if
    never opened."""
    row = Transcript.objects.filter(session_id=session_id, machine=machine).first()
    if row is None:
        return None
    parts = [recording.header(row.width, row.height, row.started_at.timestamp()) + "\n"]
    parts.extend(row.chunks.order_by("seq").values_list("events", flat=True))
    return "".join(parts)


def transcript_machines(session_id: int) -> list[str]:
    """The machines of the session that have a recorded terminal ("" is the first), first one first."""
    return sorted(Transcript.objects.filter(session_id=session_id).values_list("machine", flat=True))


def command_history(session_id: int, machine: str = "") -> bytes:
    """The learner's input lines in the shell of the session's ``machine`` ("": its first) as recorded by the
    gateway, one per line (empty if none): a check receives its own machine's."""
    chunks = TranscriptChunk.objects.filter(transcript__session_id=session_id, transcript__machine=machine).order_by(
        "seq"
    )
    return b"".join(bytes(history) for history in chunks.values_list("history", flat=True))


def delete_transcript(session_id: int) -> None:
    Transcript.objects.filter(session_id=session_id).delete()


def purge_expired(now: datetime.datetime | None = None) -> dict[str, int]:
    """Delete transcripts past retention and tokens that can no longer be used; safe to run twice."""
    now = now or timezone.now()
    days = int(terminal_settings.TERMINAL_TRANSCRIPT_RETENTION_DAYS)
    old = Transcript.objects.filter(updated_at__lt=now - datetime.timedelta(days=days))
    transcripts = old.count()
    old.delete()
    tokens, _ = TerminalToken.objects.filter(expires_at__lt=now - datetime.timedelta(hours=1)).delete()
    return {"transcripts": transcripts, "tokens": tokens}


__all__ = [
    "TerminalDenied",
    "add_to_fragment",
    "mint_token",
    "consume_token",
    "mint_service_token",
    "service_origin",
    "end_attach",
    "record_activity",
    "open_transcript",
    "append_transcript",
    "transcript",
    "transcript_machines",
    "machine_key",
    "command_history",
    "delete_transcript",
    "purge_expired",
]
