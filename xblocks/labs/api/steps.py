"""A learner's other actions on a step: a flag answered in the request, a hint or the solution revealed."""

from __future__ import annotations

import logging
from typing import Any

from django.utils import timezone

from xblocks.core.html import render_markdown
from xblocks.core.i18n import gettext as _
from xblocks.core.i18n import language
from xblocks.core.transactions import atomic_with_retries
from xblocks.labs import grading, runner
from xblocks.labs.api.checks import _claim_run, _graded_result, _ready_step
from xblocks.labs.api.results import _publish_result
from xblocks.labs.api.status import (
    _hash,
    _locked,
    _status,
    check_run_status,
)
from xblocks.labs.data import (
    ActionRefused,
    CheckRunStatus,
    HintReveal,
    RunState,
    SessionState,
    SolutionReveal,
)
from xblocks.labs.definition import translated
from xblocks.labs.models import CheckRun, LabSession

log = logging.getLogger(__name__)

S = SessionState


def submit_flag(session_id: int, step_id: str, flag_id: str, answer: str) -> CheckRunStatus:
    """Compare a submitted flag with this learner's rendered value, server-side; counts as an attempt.

    Quick, so it runs in the request, but as a run like a Check press: refused while a check runs.
    """

    row, definition, step = _ready_step(session_id, step_id, need_checks=False)
    flag = next((f for f in step.flags if f.id == flag_id), None)
    if flag is None:
        raise ActionRefused(_("This step has no such answer field."), f"unknown flag {flag_id!r}")
    if flag.id in grading.step_record(row.progress or {}, step.id)["flags"]:
        raise ActionRefused(_("You already found this flag."))
    passed = runner.check_flag(flag, str(answer or "")[:1000])
    points = float(flag.points) if passed else 0.0
    outcome = {
        "id": flag.id,
        "passed": passed,
        "points": points,
        "max_points": int(flag.points),
        "feedback": _("Correct.") if passed else _("That is not the flag."),
    }

    # Quick and pure, so the attempt, the run and its result are one transaction: a process that dies
    # anywhere in between leaves no attempt used and no run, and an error gives nothing back to undo.
    # Run again when the database ends it to break a deadlock (learners answering at once on MariaDB).
    def answer_flag() -> CheckRun:
        run = _claim_run(session_id, definition, step, kind=CheckRun.Kind.FLAG, state=RunState.RUNNING, checks_total=1)
        _graded_result(
            run.pk,
            session_id,
            definition,
            step,
            kind=CheckRun.Kind.FLAG,
            state=RunState.DONE,
            outcomes=[outcome],
            points=points,
            passed=passed,
            script_hash=_hash(flag.id),
            duration=0.0,
        )
        return run

    run = atomic_with_retries(answer_flag, what=f"flag answer of lab session {session_id}")
    return check_run_status(run.pk)


def _update_step(session_id: int, step_id: str, change) -> tuple[LabSession, Any, Any, dict]:
    row, definition, step = _ready_step(session_id, step_id, need_checks=False)

    def update() -> tuple[LabSession, dict]:
        row = _locked(session_id)
        progress = row.progress or {}
        if not grading.step_open(definition, progress, step.id):
            raise ActionRefused(_("Complete the previous steps first."))
        record = change(step, grading.step_record(progress, step.id))
        row.progress = grading.with_step(progress, step.id, record)
        row.best_score = grading.lab_score(definition, row.progress)
        row.result_at = timezone.now()
        LabSession.objects.filter(pk=session_id).update(
            progress=row.progress, best_score=row.best_score, result_at=row.result_at
        )
        _publish_result(row, definition)
        return row, record

    row, record = atomic_with_retries(update, what=f"step {step_id} of lab session {session_id}")
    return row, definition, step, record


def reveal_hint(session_id: int, step_id: str) -> HintReveal:
    """Reveal the step's next hint; its cost comes off the step's points."""

    def change(step, record):
        if int(record["hints"]) >= len(step.hints):
            raise ActionRefused(_("There are no more hints for this step."))
        record["hints"] = int(record["hints"]) + 1
        return record

    row, definition, step, record = _update_step(session_id, step_id, change)
    hint = step.hints[int(record["hints"]) - 1]
    return HintReveal(
        step_id=step.id,
        index=int(record["hints"]) - 1,
        text=render_markdown(translated(hint.text, hint.translations, language())),
        cost=hint.cost,
        status=_status(row, definition),
    )


def reveal_solution(session_id: int, step_id: str) -> SolutionReveal:
    """Show the step's solution.

    A step not yet passed then earns no points (it still opens the next step once it passes); a step
    already passed keeps the points it earned.
    """

    def change(step, record):
        if not step.solve:
            raise ActionRefused(_("This step has no solution to show."))
        return grading.reveal_solution(step, record)

    row, definition, step, _record = _update_step(session_id, step_id, change)
    return SolutionReveal(step_id=step.id, script=step.solve or "", status=_status(row, definition))
