"""The session state machine: the only code that changes ``LabSession.state``, one locked move at a time.

requested → provisioning → ready → stopping → stopped, with failed reachable from every live state and
provisioning → requested for a retry. Each move locks the row (``select_for_update``) and then writes
with a compare-and-set UPDATE on the state it saw, so two workers (or a worker and the reaper) can
never both move a session, even on SQLite where row locks do not exist.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from typing import Any

from django.db import connection, transaction
from django.db.models import F
from django.utils import timezone

from xblocks.labs.data import LIVE_STATES, SessionState
from xblocks.labs.models import LabSession, SessionEvent

log = logging.getLogger(__name__)

S = SessionState
ALLOWED: dict[SessionState, frozenset[SessionState]] = {
    S.REQUESTED: frozenset({S.PROVISIONING, S.STOPPING, S.FAILED}),
    S.PROVISIONING: frozenset({S.READY, S.REQUESTED, S.STOPPING, S.FAILED}),
    S.READY: frozenset({S.STOPPING, S.FAILED}),
    S.STOPPING: frozenset({S.STOPPED, S.FAILED}),
    S.FAILED: frozenset({S.STOPPED}),  # the environment of a failed start was cleaned up
    S.STOPPED: frozenset(),
}


def live_key(user_id: int, usage_key: str) -> str:
    """The value of ``LabSession.live_key`` while live: a fixed-size digest, so any usage key fits the index."""
    return hashlib.sha256(f"{user_id}\n{usage_key}".encode()).hexdigest()


def locked(session_id: int) -> LabSession | None:
    """Inside an atomic block, read the session holding its row lock (``SELECT ... FOR UPDATE``).

    SQLite has no row locks, and a transaction that reads before it writes can deadlock with
    another one doing the same ("database is locked" at once, without waiting). A no-op write
    first takes SQLite's write lock, so concurrent movers queue behind each other instead.
    """
    if connection.vendor == "sqlite":
        LabSession.objects.filter(pk=session_id).update(state=F("state"))
    return LabSession.objects.select_for_update().filter(pk=session_id).first()


def transition(
    session_id: int,
    to: SessionState,
    *,
    actor: str,
    reason: str = "",
    expect: frozenset[SessionState] | set[SessionState] | None = None,
    when: Callable[[LabSession], bool] | None = None,
    **fields: Any,
) -> LabSession | None:
    """Move a session to ``to`` and log it; return the updated row, or None when the move is not
    allowed from its current state, not in ``expect``, or ``when(row)`` says no (someone else moved it).
    """
    to = SessionState(to)
    with transaction.atomic():
        row = locked(session_id)
        if row is None:
            return None
        current = SessionState(row.state)
        if expect is not None and current not in expect:
            return None
        if to not in ALLOWED[current] or (when is not None and not when(row)):
            return None
        now = timezone.now()
        changes: dict[str, Any] = {
            "state": to.value,
            "live_key": live_key(row.user_id, row.usage_key) if to in LIVE_STATES else None,
            **fields,
        }
        if to not in LIVE_STATES:
            changes["live_slot"] = None  # frees one of the learner's live-lab slots (api.start_session)
        if to in (S.STOPPED, S.FAILED) and "stopped_at" not in changes:
            changes["stopped_at"] = now
        updated = LabSession.objects.filter(
            pk=session_id, state=current.value, provision_attempts=row.provision_attempts
        ).update(**changes)
        if not updated:
            return None
        for name, value in changes.items():
            setattr(row, name, value)
        SessionEvent.objects.create(
            session=row, from_state=current.value, to_state=to.value, actor=actor[:150], reason=reason[:255]
        )
    log.info("lab session %s: %s -> %s by %s (%s)", session_id, current.value, to.value, actor, reason)
    return row


def transition_new(
    row: LabSession, moves: list[tuple[SessionState, str, dict[str, Any]]], *, actor: str
) -> LabSession | None:
    """Move a session this very transaction created through several states at once (a Start that
    claimed a warm pool sandbox: requested → provisioning → ready), as one UPDATE and one insert of
    the moves' events, instead of one locked move each.

    No other transaction can see the row yet, so there is nothing to lock against; the UPDATE still
    names the state the row was created in. Each move is checked against ``ALLOWED`` in turn; returns
    the updated row, or None (nothing written) when one is not allowed or the row is not as created.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("transition_new runs inside the transaction that created the session")
    current, changes, events = SessionState(row.state), {}, []
    for to, reason, fields in moves:
        to = SessionState(to)
        if to not in ALLOWED[current]:
            return None
        changes.update(fields)
        events.append((current, to, reason))
        current = to
    changes["state"] = current.value
    changes["live_key"] = live_key(row.user_id, row.usage_key) if current in LIVE_STATES else None
    if current not in LIVE_STATES:  # not a pool claim's end state, kept for the rule's sake
        changes["live_slot"] = None
    updated = LabSession.objects.filter(pk=row.pk, state=row.state, provision_attempts=row.provision_attempts).update(
        **changes
    )
    if not updated:
        return None
    for name, value in changes.items():
        setattr(row, name, value)
    SessionEvent.objects.bulk_create(
        [
            SessionEvent(session=row, from_state=old.value, to_state=new.value, actor=actor[:150], reason=reason[:255])
            for old, new, reason in events
        ]
    )
    for old, new, reason in events:
        log.info("lab session %s: %s -> %s by %s (%s)", row.pk, old.value, new.value, actor, reason)
    return row
