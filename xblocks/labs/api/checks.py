"""Check runs: a press of Check recorded in the request, run by a lab host's worker, graded from the record."""

from __future__ import annotations

import dataclasses
import logging
import time

from django.db import IntegrityError, transaction
from django.utils import timezone

from xblocks.core.i18n import gettext as _
from xblocks.core.transactions import atomic_with_retries
from xblocks.labs import grading, leases, runner, tasks
from xblocks.labs.api.gateway import _terminal_door
from xblocks.labs.api.hosts import _here, host_queue
from xblocks.labs.api.results import _publish_result
from xblocks.labs.api.sessions import _backend
from xblocks.labs.api.status import (
    _hash,
    _latest_row,
    _locked,
    _rendered,
    _row,
    check_run_status,
    learner_status,
)
from xblocks.labs.conf import labs_settings
from xblocks.labs.data import (
    RUN_ACTIVE_STATES,
    RUN_RESULT_STATES,
    ActionRefused,
    CheckRunStatus,
    PendingGrade,
    RunInProgress,
    RunState,
    SessionNotReady,
    SessionState,
)
from xblocks.labs.lifecycle import transition
from xblocks.labs.models import CheckRun, LabSession
from xblocks.labs.sandbox.base import SandboxError, SandboxHandle, SandboxNotFound
from xblocks.labs.sandbox.conf import sandbox_settings

log = logging.getLogger(__name__)

S = SessionState


def _command_history(session_id: int, handle: SandboxHandle, machine: str) -> bytes:
    """What the learner typed in the shell of the check's ``machine``, the check's standard input."""
    terminal_api = _terminal_door()
    if terminal_api is None:  # the gateway is an optional app; checks then get no history
        return b""
    key = terminal_api.machine_key(handle, machine)
    if key is None:  # not a machine of this environment: no one's history
        return b""
    try:
        return terminal_api.command_history(session_id, key) or b""
    except Exception:  # a broken history must not stop the checks: they run without it
        log.exception("lab session %s: command history unavailable", session_id)
        return b""


def _ready_step(session_id: int, step_id: str, *, need_checks: bool):
    row = _row(session_id)
    if row.state != S.READY:
        raise SessionNotReady(_("Your lab is not running. Start it first."), f"session {session_id} is {row.state}")
    definition = _rendered(row)
    step = next((s for s in definition.steps if s.id == step_id), None)
    if step is None:
        raise ActionRefused(_("This step does not exist."), f"unknown step {step_id!r}")
    if need_checks and not step.checks:
        raise ActionRefused(_("This step has nothing to check; submit its answer instead."))
    return row, definition, step


def _wait_message() -> str:
    return _("A check of this lab is still running. Wait for its result, then try again.")


def _claim_run(session_id: int, definition, step, *, kind: str, state: RunState, checks_total: int) -> CheckRun:
    """Count an attempt and record an active run, under the session's row lock, or refuse.

    Gating, the attempt limit and one run per session at a time are decided in one transaction; the
    unique ``CheckRun.active_key`` makes the database refuse a second active run whatever raced.
    """
    now = timezone.now()
    # no savepoints: every refusal below raises out of the whole transaction, which rolls back anyway
    with transaction.atomic(savepoint=False):
        row = _locked(session_id)
        if row.state != S.READY:
            raise SessionNotReady(_("Your lab is not running. Start it first."), f"session {session_id} is {row.state}")
        if CheckRun.objects.filter(active_key=session_id).exists():
            raise RunInProgress(_wait_message(), f"session {session_id} already has an active run")
        progress = row.progress or {}
        if not grading.step_open(definition, progress, step.id):
            raise ActionRefused(_("Complete the previous steps first."), f"step {step.id} is gated")
        record = grading.step_record(progress, step.id)
        record["attempts"] = _attempts_used(row.user_id, row.usage_key, step.id)
        if grading.attempts_left(definition, record) == 0:
            raise ActionRefused(_("You have no attempts left for this step."), f"step {step.id}: attempts used")
        record["attempts"] = int(record["attempts"]) + 1
        LabSession.objects.filter(pk=session_id).update(
            progress=grading.with_step(progress, step.id, record), last_activity=now
        )
        try:
            with transaction.atomic(savepoint=False):
                return CheckRun.objects.create(
                    session=row,
                    step_id=step.id,
                    kind=kind,
                    state=state,
                    active_key=session_id,
                    checks_total=checks_total,
                    max_points=step.max_points,
                    queued_at=now,
                    started_at=now if state == RunState.RUNNING else None,
                )
        except IntegrityError:
            raise RunInProgress(_wait_message(), f"session {session_id}: active run inserted concurrently") from None


def _attempts_used(user_id: int, usage_key: str, step_id: str) -> int:
    """Attempts a learner used on a step: their runs of it in this block that were not given back.

    The step record's ``attempts`` is a copy of this count, written with each run and each refund, so
    an attempt exists only with its run: a press whose process died before its run was written used
    none, and a counter that drifted anyway is set right by the next press.
    """
    return CheckRun.objects.filter(
        session__user_id=user_id, session__usage_key=usage_key, step_id=step_id, attempt_refunded=False
    ).count()


def _give_back_attempt(user_id: int, usage_key: str, step_id: str) -> None:
    """Return an attempt (the run is marked refunded) on the learner's current session of the block.

    The current session, not the run's: a Reset may have carried the count over to a newer one.
    """
    latest = _latest_row(user_id, usage_key)
    if latest is None:
        return
    row = _locked(latest.pk)
    record = grading.step_record(row.progress or {}, step_id)
    record["attempts"] = _attempts_used(user_id, usage_key, step_id)
    LabSession.objects.filter(pk=row.pk).update(progress=grading.with_step(row.progress or {}, step_id, record))


def _abandon_run(run_id: int, *, learner_message: str, detail: str) -> bool:
    """End an active run that could not run: no results, the attempt given back, the reason kept.

    Returns False when the run had already ended (another worker, the reaper or a late result won).
    """
    run = CheckRun.objects.select_related("session").filter(pk=run_id).first()
    if run is None:
        return False
    with transaction.atomic():
        _locked(run.session_id)  # lock order: session, then run (as when recording), so the two never deadlock
        moved = CheckRun.objects.filter(pk=run_id, state__in=[s.value for s in RUN_ACTIVE_STATES]).update(
            state=RunState.ERROR,
            active_key=None,
            learner_message=str(learner_message),
            detail=str(detail)[:10000],
            finished_at=timezone.now(),
            attempt_refunded=True,
        )
        if not moved:
            return False
        _give_back_attempt(run.session.user_id, run.session.usage_key, run.step_id)
    log.warning("check run %s of lab session %s could not run: %s", run_id, run.session_id, detail)
    return True


def _record_run(run_id: int, session_id: int, definition, step, *, kind, state, outcomes, points, passed, **fields):
    """Record a running run (of ``kind``, which its caller knows) and fold its results into the step's best record.

    Returns (graded, row, the steps this result newly opened).

    Returns None when the run is no longer running (the reaper ended it): a late result changes nothing.
    """
    with transaction.atomic():
        row = _locked(session_id)
        progress = row.progress or {}
        record = grading.step_record(progress, step.id)
        reached_before = grading.reached_steps(definition, progress)
        graded = not record["solution"]
        now = timezone.now()
        recorded = CheckRun.objects.filter(pk=run_id, state=RunState.RUNNING).update(
            state=state,
            active_key=None,
            outcomes=outcomes,
            points=points,
            passed=passed,
            graded=graded,
            checks_done=len(outcomes),
            finished_at=now,
            **fields,
        )
        if not recorded:
            return None
        if kind == CheckRun.Kind.CHECK:
            if graded:
                record["check_points"] = max(float(record["check_points"]), float(points))
            record["checks_passed"] = bool(record["checks_passed"] or passed)
        elif passed and outcomes[0]["id"] not in record["flags"]:
            record["flags"] = [*record["flags"], outcomes[0]["id"]]
        progress = grading.with_step(progress, step.id, record)
        score = grading.lab_score(definition, progress)
        completed = grading.lab_completed(definition, progress)
        row.progress = progress
        row.best_score = score
        row.completed_at = row.completed_at or (now if completed else None)
        row.last_activity = now
        row.result_at = now
        LabSession.objects.filter(pk=session_id).update(
            progress=progress,
            best_score=score,
            completed_at=row.completed_at,
            last_activity=now,
            result_at=row.result_at,
        )
        # In the same transaction as the run: the result reaches certification however this process ends
        # (an ungraded run after a solution earns nothing, but it may still complete the lab).
        _publish_result(row, definition)
    newly_reached = [s for s in grading.reached_steps(definition, progress) if s not in reached_before]
    return graded, row, newly_reached


def _graded_result(run_id: int, session_id: int, definition, step, **run) -> bool:
    """Record a run with its result's message to certification; False if the run had ended meanwhile."""
    recorded = _record_run(run_id, session_id, definition, step, **run)
    if recorded is None:
        log.info("check run %s had already ended; its late result is dropped", run_id)
        return False
    _graded, row, newly_reached = recorded
    with_setup = [step_id for step_id in newly_reached if definition.step(step_id).setup]
    if with_setup:
        # Sandbox work never runs in a web request (a flag is answered in one): the lab host does it.
        tasks.enqueue(tasks.prepare_steps, session_id, with_setup, queue=host_queue(row.host))
    return True


def prepare_steps(session_id: int, step_ids: list[str]) -> None:
    """Run the setup scripts of steps the learner has just reached, in their live environment.

    Safe to run twice only as far as the author's scripts are (they should be idempotent, as the
    authoring guide says); a session that is no longer ready is left alone.
    """
    row = _row(session_id)
    if row.state != S.READY or not row.handle:
        log.info("lab session %s is %s: step setups %s not run", session_id, row.state, step_ids)
        return
    definition = _rendered(row)
    handle = SandboxHandle.from_json(row.handle)
    backend = _backend(handle.backend)
    for step in definition.steps:
        if step.id not in step_ids:
            continue
        try:
            runner.run_step_setup(backend, handle, step)
        except (runner.ProvisionError, SandboxError) as error:
            log.warning("lab session %s: setup of step %s failed: %s", session_id, step.id, error)
            return
        log.info("lab session %s: ran the setup of step %s", session_id, step.id)


def request_checks(session_id: int, step_id: str) -> CheckRunStatus:
    """Record a press of Check and queue its run on the session's lab host; the page then polls the run.

    Returns at once (in eager mode, as in tests, the run has already finished). One run per session
    at a time: a second press, from any tab, is refused with ``RunInProgress``.
    """
    row, definition, step = _ready_step(session_id, step_id, need_checks=True)
    run = atomic_with_retries(
        lambda: _claim_run(
            session_id, definition, step, kind=CheckRun.Kind.CHECK, state=RunState.QUEUED, checks_total=len(step.checks)
        ),
        what=f"Check press of lab session {session_id}",
    )
    log.info("check run %s requested for step %s of lab session %s", run.pk, step.id, session_id)
    tasks.enqueue(tasks.run_checks, run.pk, queue=host_queue(row.host))
    return check_run_status(run.pk)


def _time_cut(check, seconds: float):
    """The outcome of a check that the press's total time limit stopped (or never let start)."""

    return runner.CheckOutcome(
        id=check.id,
        passed=False,
        points=0.0,
        max_points=int(check.points),
        feedback=_(
            "The checks reached their time limit of %(seconds)s seconds before this one finished, so it did not pass."
        )
        % {"seconds": f"{seconds:g}"},
        exit_code=None,
        duration=0.0,
        timed_out=True,
        truncated=False,
    )


def run_checks(run_id: int) -> bool:
    """Worker side of Check: run a queued press's checks one by one and record the run (the grade's only source).

    Safe twice and at once: only the worker that moves the run queued → running works on it, progress
    is written after each check, and a result that arrives after the reaper ended the run is dropped.
    The checks together get ``CHECK_RUN_TIME_LIMIT`` seconds; what has not finished by then does not pass.
    Returns whether this call took the run (and ended it); the page reads the result with
    ``check_run_status``, so the worker does not read it back.
    """
    run = CheckRun.objects.select_related("session").filter(pk=run_id).first()
    if run is None or run.state != RunState.QUEUED:
        return False
    row = run.session
    if row.host and not _here(row.host):
        # Sent to another lab host: leave it queued; the reaper sends it to its host's queue again.
        # (A session with no host never got a sandbox: the run ends below without one.)
        log.warning("check run %s belongs to lab host %r, not this one; left queued", run_id, row.host)
        return False
    now = timezone.now()
    waited = (now - run.created).total_seconds()
    if waited >= int(labs_settings.CHECK_QUEUE_TIMEOUT):
        _abandon_run(run_id, learner_message=_busy_message(), detail=f"no worker started it for {waited:.0f} s")
        return True
    if not CheckRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(
        state=RunState.RUNNING, started_at=now, held_until=leases.lease_until(now)
    ):
        return False  # another worker took it

    log.info("lab session %s: checks of step %s run on lab host %s", row.pk, run.step_id, sandbox_settings.LAB_HOST)
    try:
        with leases.held(CheckRun.objects.filter(pk=run_id, state=RunState.RUNNING)):
            _execute_checks(run_id, row.pk, run.step_id)
    except Exception as error:
        log.exception("check run %s of lab session %s crashed", run_id, row.pk)
        _abandon_run(
            run_id,
            learner_message=_("Your checks could not run just now. Please try again in a moment."),
            detail=f"{type(error).__name__}: {error}",
        )
    return True


def _busy_message() -> str:
    return _(
        "Your checks could not start in time because the lab machines are busy. Press Check again; "
        "this attempt was not counted."
    )


def _execute_checks(run_id: int, session_id: int, step_id: str) -> None:
    row = _row(session_id)
    if row.state != S.READY or not row.handle:
        _abandon_run(
            run_id,
            learner_message=_("Your lab is not running. Start it first."),
            detail=f"session {session_id} is {row.state} when its checks were to run",
        )
        return
    definition = _rendered(row)
    step = definition.step(step_id)
    handle = SandboxHandle.from_json(row.handle)
    histories: dict[str, bytes] = {}
    backend = _backend(handle.backend)
    budget = float(labs_settings.CHECK_RUN_TIME_LIMIT)
    started = time.monotonic()
    outcomes, cut = [], False
    for index, check in enumerate(step.checks):
        remaining = budget - (time.monotonic() - started)
        if remaining < 0.5:
            outcomes.append(_time_cut(check, budget))
            cut = True
            continue
        if check.machine not in histories:
            histories[check.machine] = _command_history(session_id, handle, check.machine)
        try:
            outcome = runner.run_check(
                backend,
                handle,
                dataclasses.replace(check, timeout=min(float(check.timeout), remaining)),
                stdin=histories[check.machine],
            )
        except SandboxNotFound as error:
            message = _("Your lab environment stopped unexpectedly. Start the lab again; your progress is kept.")
            failed = transition(
                session_id,
                S.FAILED,
                actor="system:check",
                reason="environment gone during check",
                expect={S.READY},
                learner_message=message,
                detail=str(error)[:10000],
            )
            if failed is None:  # not unexpected: the lab was stopped or reset while its checks ran
                message = _("Your lab is not running. Start it first.")
            _abandon_run(run_id, learner_message=message, detail=f"sandbox gone: {error}")
            return
        except SandboxError as error:
            # The engine refused or broke (self-test failing, host trouble): not the learner's doing,
            # so the attempt is given back and the message says to try again; the detail goes to the log.
            log.error("lab session %s: checks of %s could not run: %s", session_id, step.id, error)
            _abandon_run(
                run_id,
                learner_message=_("Your checks could not run just now. Please try again in a moment."),
                detail=str(error),
            )
            return
        if outcome.timed_out and remaining < float(check.timeout):
            outcome = dataclasses.replace(_time_cut(check, budget), duration=outcome.duration)
            cut = True
        outcomes.append(outcome)
        if not CheckRun.objects.filter(pk=run_id, state=RunState.RUNNING).update(checks_done=index + 1):
            log.info("check run %s was ended while its checks ran; stopping", run_id)
            return
    duration = time.monotonic() - started
    limit = int(labs_settings.CHECK_OUTPUT_LIMIT)
    stored = [
        {
            "id": o.id,
            "passed": bool(o.passed),
            "points": float(o.points) if o.passed else 0.0,
            "max_points": int(o.max_points),
            "feedback": (o.feedback or "")[:limit],
            "timed_out": bool(o.timed_out),
            "truncated": bool(o.truncated) or len(o.feedback or "") > limit,
            "exit_code": o.exit_code,
            "duration": round(o.duration, 4),
        }
        for o in outcomes
    ]
    _graded_result(
        run_id,
        session_id,
        definition,
        step,
        kind=CheckRun.Kind.CHECK,
        state=RunState.TIMED_OUT if cut else RunState.DONE,
        outcomes=stored,
        points=sum(o["points"] for o in stored),
        passed=all(o["passed"] for o in stored),
        script_hash=_hash("\0".join(check.script for check in step.checks)),
        duration=duration,
        learner_message=(
            _("Your checks took longer than %(seconds)s seconds in all; the ones that had not finished did not pass.")
            % {"seconds": f"{budget:g}"}
            if cut
            else ""
        ),
    )


def claim_unpublished_grade(user, usage_key: str, definition) -> PendingGrade | None:
    """The learner's recorded score when finished runs changed it since the block last published, claimed.

    A run is recorded by a worker, but a grade reaches the gradebook through the block's runtime,
    during a request: the block publishes when the page fetches a finished run, and also the next
    time the learner loads or polls the block (the page may have been closed before the result).
    Claiming marks the runs published first, so concurrent requests publish once; the block calls
    ``release_grade_claim`` if publishing fails. Publishing the same score twice is harmless anyway.
    """
    pending = list(
        CheckRun.objects.filter(
            session__user_id=user.pk,
            session__usage_key=usage_key,
            state__in=[s.value for s in RUN_RESULT_STATES],
            published_at__isnull=True,
        ).values_list("pk", flat=True)[:1000]
    )
    if not pending:
        return None
    if not CheckRun.objects.filter(pk__in=pending, published_at__isnull=True).update(published_at=timezone.now()):
        return None
    return PendingGrade(run_ids=tuple(pending), status=learner_status(user, usage_key, definition))


def release_grade_claim(pending: PendingGrade) -> None:
    """Publishing failed: leave the runs to be published by the learner's next request."""
    CheckRun.objects.filter(pk__in=pending.run_ids).update(published_at=None)
