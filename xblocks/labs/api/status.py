"""What the page and the staff see of a session and its check runs, and the lab as each learner reads it."""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.utils import timezone

from xblocks.core.html import render_markdown
from xblocks.core.i18n import gettext as _
from xblocks.core.i18n import language
from xblocks.labs import grading
from xblocks.labs.data import (
    LIVE_STATES,
    RUN_ACTIVE_STATES,
    RUN_RESULT_STATES,
    CheckResult,
    CheckRunResult,
    CheckRunStatus,
    SessionNotFound,
    SessionState,
    SessionStatus,
    StepStatus,
)
from xblocks.labs.definition import generate_params, localise, localise_feedback, parse_lab, render, serialize_lab
from xblocks.labs.lifecycle import live_key, locked
from xblocks.labs.models import CheckRun, LabSession

log = logging.getLogger(__name__)

S = SessionState


def definition_source(definition) -> str:
    """The canonical OLX of a parsed lab (what a session snapshots)."""

    return serialize_lab(definition)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=128)
def _parsed(source_hash: str, source: str):

    return parse_lab(source)


@lru_cache(maxsize=512)
def _rendered_cached(source_hash: str, source: str, params_json: str):

    return render(_parsed(source_hash, source), json.loads(params_json))


def _rendered(row: LabSession):
    """The session's lab with this learner's parameters substituted (cached: parse once per snapshot)."""
    return _rendered_cached(row.definition_hash, row.definition, json.dumps(row.params or {}, sort_keys=True))


def learner_seed(user_id: int, usage_key: str) -> bytes:
    """A secret, stable seed per learner and block: parameters differ between learners, never between resets."""
    key = settings.SECRET_KEY.encode("utf-8")
    return hmac.new(key, f"kafaat-lab-params\n{user_id}\n{usage_key}".encode(), hashlib.sha256).digest()


def learner_definition(user, usage_key: str, definition):
    """The lab as this learner sees it: rendered with their parameters (for instructions on the page)."""

    latest = _latest_row(user.pk, usage_key)
    seed = bytes.fromhex(latest.seed) if latest else learner_seed(user.pk, usage_key)
    return render(definition, generate_params(definition, seed))


def _seconds_left(row: LabSession, now: datetime) -> int | None:
    if row.state != S.READY or row.ends_at is None:
        return None
    return max(0, int((row.ends_at - now).total_seconds()))


def _idle_seconds_left(row: LabSession, now: datetime) -> int | None:
    if row.state != S.READY or not row.idle_timeout:
        return None
    since = row.last_activity or row.ready_at or now
    return max(0, int((since + timedelta(seconds=row.idle_timeout) - now).total_seconds()))


def _steps_status(definition, progress: dict[str, Any]) -> tuple[StepStatus, ...]:
    # titles and hints in the language of the request (the learner's), falling back to the lab's own
    definition = localise(definition, language())
    steps = []
    for step in definition.steps:
        record = grading.step_record(progress, step.id)
        revealed = int(record["hints"])
        steps.append(
            StepStatus(
                id=step.id,
                title=step.title,
                open=grading.step_open(definition, progress, step.id),
                passed=grading.step_passed(step, record),
                points=grading.step_points(step, record),
                max_points=step.max_points,
                attempts=int(record["attempts"]),
                attempts_left=grading.attempts_left(definition, record),
                hints_revealed=revealed,
                hints_total=len(step.hints),
                next_hint_cost=step.hints[revealed].cost if revealed < len(step.hints) else None,
                solution_revealed=grading.solution_revealed(record),
                has_checks=bool(step.checks),
                flags=tuple(flag.id for flag in step.flags),
                flags_accepted=tuple(
                    flag_id for flag_id in record["flags"] if any(f.id == flag_id for f in step.flags)
                ),
                hints=tuple(render_markdown(hint.text) for hint in step.hints[:revealed]),
                solution=(step.solve or "") if grading.solution_revealed(record) else None,
                solution_ungraded=bool(record["solution"]),
            )
        )
    return tuple(steps)


def _status(row: LabSession, definition=None) -> SessionStatus:
    definition = definition or _rendered(row)
    progress = row.progress or {}
    return SessionStatus(
        session_id=row.pk,
        state=row.state,
        phase=row.phase,
        learner_message=row.learner_message,
        ready_at=row.ready_at,
        ends_at=row.ends_at if row.state == S.READY else None,
        seconds_left=_seconds_left(row, timezone.now()),
        score=grading.lab_score(definition, progress),
        max_score=definition.max_score,
        completed=grading.lab_completed(definition, progress),
        steps=_steps_status(definition, progress),
        idle_seconds_left=_idle_seconds_left(row, timezone.now()),
        active_run=_active_run(row.pk) if row.state in LIVE_STATES else None,
    )


def _active_run(session_id: int) -> CheckRunStatus | None:
    run = CheckRun.objects.filter(active_key=session_id).first()
    return _run_status(run) if run is not None else None  # active: progress only, no extra queries


def _row(session_id: int) -> LabSession:
    row = LabSession.objects.filter(pk=session_id).first()
    if row is None:
        raise SessionNotFound(_("This lab session does not exist."), f"no LabSession {session_id}")
    return row


def _locked(session_id: int) -> LabSession:
    row = locked(session_id)
    if row is None:
        raise SessionNotFound(_("This lab session does not exist."), f"no LabSession {session_id}")
    return row


def _live_row(user_id: int, usage_key: str) -> LabSession | None:
    return LabSession.objects.filter(live_key=live_key(user_id, usage_key)).first()


def _latest_row(user_id: int, usage_key: str) -> LabSession | None:
    return LabSession.objects.filter(user_id=user_id, usage_key=usage_key).order_by("-created", "-pk").first()


def session_status(session_id: int) -> SessionStatus:
    return _status(_row(session_id))


def learner_status(user, usage_key: str, definition) -> SessionStatus:
    """The learner's lab in this block: their latest session, or a not-started status with carried progress."""
    row = _latest_row(user.pk, usage_key)
    if row is not None and row.state in LIVE_STATES:
        return _status(row)
    progress = _carried_progress(row, definition)
    return SessionStatus(
        session_id=None,
        state=row.state if row else "",
        phase="",
        learner_message=row.learner_message if row and row.state == S.FAILED else "",
        ready_at=None,
        ends_at=None,
        seconds_left=None,
        score=grading.lab_score(definition, progress),
        max_score=definition.max_score,
        completed=grading.lab_completed(definition, progress),
        steps=_steps_status(learner_definition(user, usage_key, definition), progress),
    )


def live_session_id(user, usage_key: str) -> int | None:
    """The id of the learner's live session in this block (blocks never take session ids from requests)."""
    row = _live_row(user.pk, usage_key)
    return row.pk if row else None


def latest_session_id(user, usage_key: str) -> int | None:
    row = _latest_row(user.pk, usage_key)
    return row.pk if row else None


def _carried_progress(previous: LabSession | None, definition) -> dict[str, Any]:
    """Progress kept from the learner's previous session, limited to steps the lab still has."""
    if previous is None:
        return {}
    ids = {step.id for step in definition.steps}
    steps = {k: v for k, v in ((previous.progress or {}).get("steps") or {}).items() if k in ids}
    return {"steps": steps}


def _feedback(run: CheckRun, text: str) -> str:
    """Stored check output with its ``kafaat-feedback`` lines in the language of the request.

    Translated when shown, not when run: the worker has no learner language, and a learner who switches
    language reads their earlier results in the new one.
    """
    if "kafaat-feedback:" not in text:
        return text
    try:
        definition = _rendered(run.session)
    except ValueError:  # a snapshot that no longer parses: the output as printed
        return text
    return localise_feedback(definition, run.step_id, text, language())


def _results(run: CheckRun) -> tuple[CheckResult, ...]:
    return tuple(
        CheckResult(
            id=o["id"],
            passed=bool(o["passed"]),
            points=float(o["points"]),
            max_points=int(o.get("max_points", 0)),
            feedback=_feedback(run, o.get("feedback", "")),
            timed_out=bool(o.get("timed_out")),
            truncated=bool(o.get("truncated")),
        )
        for o in run.outcomes
    )


def _run_status(run: CheckRun) -> CheckRunStatus:
    finished = run.state not in RUN_ACTIVE_STATES
    status = _status(run.session) if finished else None
    result = None
    if run.state in RUN_RESULT_STATES:
        result = CheckRunResult(
            run_id=run.pk,
            step_id=run.step_id,
            passed=run.passed,
            graded=run.graded,
            step_points=run.points,
            results=_results(run),
            status=status,
        )
    return CheckRunStatus(
        run_id=run.pk,
        step_id=run.step_id,
        kind=run.kind,
        state=run.state,
        checks_done=run.checks_done,
        checks_total=run.checks_total,
        learner_message=run.learner_message,
        result=result,
        status=status,
    )


def check_run_status(run_id: int) -> CheckRunStatus:
    """A check run as the page shows it: progress while active; results (or why it could not run) after."""
    run = CheckRun.objects.select_related("session").filter(pk=run_id).first()
    if run is None:
        raise SessionNotFound(_("This check does not exist."), f"no CheckRun {run_id}")
    return _run_status(run)


def learner_check_run(user, usage_key: str, run_id: int) -> CheckRunStatus:
    """A check run of this learner in this block; any other id (another learner's, another block's) is not found."""
    run = (
        CheckRun.objects.select_related("session")
        .filter(pk=run_id, session__user_id=user.pk, session__usage_key=usage_key)
        .first()
    )
    if run is None:
        raise SessionNotFound(_("This check does not exist."), f"CheckRun {run_id} is not {user.pk}'s in {usage_key}")
    return _run_status(run)
