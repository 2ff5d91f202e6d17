"""What course staff do from the block: every learner's lab, a fresh environment for one, more time."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import transaction
from django.db.models import OuterRef, Subquery
from django.utils import timezone

from xblocks.core.i18n import gettext as _
from xblocks.labs import grading
from xblocks.labs.api.sessions import reset_session
from xblocks.labs.api.status import (
    _rendered,
    _row,
    session_status,
)
from xblocks.labs.data import (
    RUN_RESULT_STATES,
    ActionRefused,
    SessionNotFound,
    SessionNotReady,
    SessionState,
    SessionStatus,
    StaffSessionRow,
)
from xblocks.labs.lifecycle import locked
from xblocks.labs.models import CheckRun, LabSession, SessionEvent

log = logging.getLogger(__name__)

S = SessionState


def list_sessions(usage_key: str, *, limit: int = 500) -> list[StaffSessionRow]:
    """Every learner's latest session in one block, for the staff view."""

    last_runs = CheckRun.objects.filter(
        session=OuterRef("pk"), state__in=[s.value for s in RUN_RESULT_STATES]
    ).order_by("-created", "-pk")
    sessions = (
        LabSession.objects.filter(usage_key=usage_key)
        .select_related("user")
        .annotate(
            last_check_at=Subquery(last_runs.values("created")[:1]),
            last_check_passed=Subquery(last_runs.values("passed")[:1]),
        )
        .order_by("-created", "-pk")
    )
    rows: dict[int, LabSession] = {}
    for row in sessions[: limit * 4]:  # one query, whatever the number of learners
        rows.setdefault(row.user_id, row)
    now = timezone.now()
    result = []
    for row in list(rows.values())[:limit]:
        definition = _rendered(row)
        progress = row.progress or {}
        used_until = row.stopped_at or now
        result.append(
            StaffSessionRow(
                session_id=row.pk,
                username=row.user.get_username(),
                state=row.state,
                phase=row.phase,
                current_step=grading.current_step(definition, progress),
                last_check_at=row.last_check_at,
                last_check_passed=None if row.last_check_passed is None else bool(row.last_check_passed),
                attempts=sum(int(grading.step_record(progress, s.id)["attempts"]) for s in definition.steps),
                seconds_used=int((used_until - row.ready_at).total_seconds()) if row.ready_at else 0,
                score=grading.lab_score(definition, progress),
                max_score=definition.max_score,
                learner_message=row.learner_message,
                detail=row.detail[:500],
            )
        )
    return result


def session_in_block(session_id: int, usage_key: str) -> int:
    """Refuse a session id that does not belong to this block (staff handlers act on their block only)."""
    if not LabSession.objects.filter(pk=session_id, usage_key=usage_key).exists():
        raise SessionNotFound(_("This lab session does not exist."), f"session {session_id} not in {usage_key}")
    return int(session_id)


def staff_reset(session_id: int, definition, *, actor: str) -> SessionStatus:
    """Give the learner of ``session_id`` a fresh environment (their progress is kept)."""
    row = _row(session_id)
    return reset_session(row.user, row.usage_key, row.course_key, definition, actor=actor)


def extend_session(session_id: int, seconds: int, *, actor: str) -> SessionStatus:
    """Push a ready session's time limit back by ``seconds`` (staff)."""
    seconds = int(seconds)
    if seconds <= 0 or seconds > 24 * 3600:
        raise ActionRefused(_("Choose an extension between 1 second and 24 hours."), f"extension {seconds}")
    with transaction.atomic():
        row = locked(session_id)
        if row is None:
            raise SessionNotFound(_("This lab session does not exist."))
        if row.state != S.READY or row.ends_at is None:
            raise SessionNotReady(_("Only a running lab can be extended."))
        LabSession.objects.filter(pk=session_id).update(
            ends_at=row.ends_at + timedelta(seconds=seconds), extended_seconds=row.extended_seconds + seconds
        )
        SessionEvent.objects.create(
            session=row, from_state=row.state, to_state=row.state, actor=actor, reason=f"extended by {seconds} s"
        )
    return session_status(session_id)
