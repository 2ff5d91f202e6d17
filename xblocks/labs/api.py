"""The one door to lab sessions and check runs: blocks, tasks, the terminal gateway and commands call this.

Functions are domain actions returning frozen values from ``data``. Work that needs the sandbox
(provisioning, teardown, check runs) runs in Celery workers (``tasks``); the api queues it after the
transaction that asked for it commits. The state of a session changes only through
``lifecycle.transition``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from xblocks.core.html import render_markdown
from xblocks.core.i18n import gettext as _
from xblocks.core.i18n import ngettext
from xblocks.labs import grading
from xblocks.labs.data import (
    LIVE_STATES,
    RUN_ACTIVE_STATES,
    RUN_RESULT_STATES,
    ActionRefused,
    CheckResult,
    CheckRunResult,
    CheckRunStatus,
    HintReveal,
    LabHostStatus,
    LiveLabLimit,
    PendingGrade,
    Phase,
    RunInProgress,
    RunState,
    SessionNotFound,
    SessionNotReady,
    SessionState,
    SessionStatus,
    SolutionReveal,
    StaffSessionRow,
    StepStatus,
    SweepReport,
)
from xblocks.labs.lifecycle import live_key, locked, transition
from xblocks.labs.models import CheckRun, LabSession, SessionEvent, label_prefix
from xblocks.labs.session_conf import session_settings
from xblocks.labs.signals import lab_result_recorded

log = logging.getLogger(__name__)

S = SessionState


# --------------------------------------------------------------------------- definitions


def definition_source(definition) -> str:
    """The canonical OLX of a parsed lab (what a session snapshots)."""
    from xblocks.labs.definition import serialize_lab  # pylint: disable=import-outside-toplevel

    return serialize_lab(definition)


def _hash(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


@lru_cache(maxsize=128)
def _parsed(source_hash: str, source: str):  # pylint: disable=unused-argument
    from xblocks.labs.definition import parse_lab  # pylint: disable=import-outside-toplevel

    return parse_lab(source)


@lru_cache(maxsize=512)
def _rendered_cached(source_hash: str, source: str, params_json: str):
    from xblocks.labs.definition import render  # pylint: disable=import-outside-toplevel

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
    from xblocks.labs.definition import generate_params, render  # pylint: disable=import-outside-toplevel

    latest = _latest_row(user.pk, usage_key)
    seed = bytes.fromhex(latest.seed) if latest else learner_seed(user.pk, usage_key)
    return render(definition, generate_params(definition, seed))


# --------------------------------------------------------------------------- status


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
                solution_revealed=bool(record["solution"]),
                has_checks=bool(step.checks),
                flags=tuple(flag.id for flag in step.flags),
                flags_accepted=tuple(
                    flag_id for flag_id in record["flags"] if any(f.id == flag_id for f in step.flags)
                ),
                hints=tuple(render_markdown(hint.text) for hint in step.hints[:revealed]),
                solution=(step.solve or "") if record["solution"] else None,
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


# --------------------------------------------------------------------------- queueing


def host_queue(host: str) -> str:
    """The Celery queue of a lab host's own work ("<LAB_QUEUE>.<host>"); the shared lab queue for ""."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    return hosts.host_queue(host)


def may_run_lab_work() -> bool:
    """Whether this process is a lab host (``LAB_HOST_ROLE``); lab tasks received elsewhere are sent on."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    return hosts.lab_host_role()


def _here(host: str) -> bool:
    """Whether this process can reach sandboxes of ``host`` directly: it is that lab host."""
    from xblocks.labs.conf import labs_settings  # pylint: disable=import-outside-toplevel

    return bool(host) and may_run_lab_work() and host == str(labs_settings.LAB_HOST)


def lab_task_queue(task_name: str, args: list | tuple = (), kwargs: dict | None = None) -> str:
    """Where a lab task belongs: its session's host queue, the named host's queue, else the shared lab queue."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    kwargs = kwargs or {}
    short = task_name.rsplit(".", 1)[-1]
    if short == "run_checks":  # one press of Check: its run names the session
        run_id = kwargs.get("run_id", args[0] if args else None)
        try:
            host = CheckRun.objects.filter(pk=int(run_id)).values_list("session__host", flat=True).first() or ""
        except (TypeError, ValueError):
            host = ""
        return hosts.host_queue(host)
    if short in {"provision_session", "start_session", "teardown_session", "stop_session"}:
        session_id = kwargs.get("session_id", args[0] if args else None)
        try:
            host = LabSession.objects.filter(pk=int(session_id)).values_list("host", flat=True).first() or ""
        except (TypeError, ValueError):
            host = ""
        return hosts.host_queue(host)
    if short == "reconcile_sessions":
        return hosts.host_queue(str(kwargs.get("host", args[0] if args else "") or ""))
    return hosts.lab_queue()


def _enqueue(task_name: str, session_id: int, *, queue: str | None = None) -> None:
    """Queue a task once the current transaction commits (a worker must see the row it is given)."""

    def send() -> None:
        from xblocks.labs import tasks  # pylint: disable=import-outside-toplevel

        try:
            # Lab tasks always travel on a lab queue: the session's host, else the shared one.
            target = queue or lab_task_queue(task_name, [session_id])
            getattr(tasks, task_name).apply_async(args=[session_id], queue=target)
        except Exception:  # pylint: disable=broad-except
            # Broker down (or an eager run failing): the row is committed and the reaper queues it
            # again after REQUEST_REQUEUE_AFTER / STOPPING_REQUEUE_AFTER / CHECK_REQUEUE_AFTER, so
            # the learner is not shown an error for work that will still happen.
            log.exception("could not queue %s(%s); the reaper will retry", task_name, session_id)

    transaction.on_commit(send)


# --------------------------------------------------------------------------- starting


def _carried_progress(previous: LabSession | None, definition) -> dict[str, Any]:
    """Progress kept from the learner's previous session, limited to steps the lab still has."""
    if previous is None:
        return {}
    ids = {step.id for step in definition.steps}
    steps = {k: v for k, v in ((previous.progress or {}).get("steps") or {}).items() if k in ids}
    return {"steps": steps}


def _placements() -> list[str]:
    """Lab hosts for a new session, best first ([""] for the shared lab queue); refuses when none can take it."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    try:
        return hosts.choices()
    except hosts.NoLabHost as error:
        log.error("lab start refused: %s", error)
        raise ActionRefused(
            _("No lab machine is free right now. Please try again in a few minutes."), str(error)
        ) from None


class _HostFull(Exception):
    """The chosen lab host filled up between choosing it and locking it; the next one is tried."""


def _lab_name(row: LabSession) -> str:
    try:
        return _parsed(row.definition_hash, row.definition).display_name
    except ValueError:
        return row.usage_key


def _refuse_over_cap(user, usage_key: str, live: list[LabSession], cap: int) -> None:
    """Refuse a start beyond the learner's cap, naming the labs to stop; operators get the ids in the log."""
    log.info(
        "user %s refused a lab start in %s: %s live labs, cap %s (%s)",
        user.pk,
        usage_key,
        len(live),
        cap,
        "; ".join(f"session {row.pk} {row.state} in {row.usage_key}" for row in live),
    )
    # Each authored name in a bidi isolate (FSI … PDI): a Latin name in an Arabic sentence (or the
    # reverse) then keeps its quotes and separators where the reader expects them.
    names = _(", ").join(_("“%(lab)s”") % {"lab": f"\u2068{_lab_name(row)}\u2069"} for row in live)
    raise LiveLabLimit(
        ngettext(
            "You already have %(count)s lab running: %(labs)s. Stop it from its page, then start this one.",
            "You already have %(count)s labs running: %(labs)s. Stop one of them from its page, then start this one.",
            len(live),
        )
        % {"count": len(live), "labs": names},
        f"{len(live)} live labs, cap {cap}",
    )


def _free_slot(user_id: int, live: list[LabSession], cap: int) -> str | None:
    """The lowest of the learner's slots no live session holds (slots are cleared when a session ends)."""
    taken = {row.live_slot for row in live if row.live_slot}
    return next((f"{user_id}:{n}" for n in range(1, cap + 1) if f"{user_id}:{n}" not in taken), None)


def start_session(user, usage_key: str, course_key: str, definition) -> SessionStatus:
    """Create the learner's session for this block and queue its provisioning, or return the live one.

    Two concurrent starts give one session: the unique ``live_key`` makes the second insert fail and
    it returns the winner's session. The session is placed on the lab host with the most room
    (``hosts.choices``; the next one when it filled up meanwhile) and its provisioning queued there.
    A learner holds at most ``MAX_LIVE_LABS_PER_LEARNER`` live labs across blocks and courses: each
    live session takes one of that many ``live_slot`` values, whose unique index keeps concurrent
    starts of different labs under the cap; beyond it ``LiveLabLimit``.
    """
    existing = _live_row(user.pk, usage_key)
    if existing is not None:
        return _status(existing)
    source = definition_source(definition)
    previous = _latest_row(user.pk, usage_key)
    seed = bytes.fromhex(previous.seed) if previous else learner_seed(user.pk, usage_key)
    cap = int(session_settings.MAX_LIVE_LABS_PER_LEARNER)
    for _try in range(max(cap, 0) + 2):
        slot = None
        if cap > 0:
            # One read for the count, the free slot and the message, so the three agree.
            live = list(
                LabSession.objects.filter(user_id=user.pk, state__in=[s.value for s in LIVE_STATES]).order_by(
                    "created", "pk"
                )
            )
            slot = _free_slot(user.pk, live, cap) if len(live) < cap else None
            if slot is None:
                _refuse_over_cap(user, usage_key, live, cap)
        now = timezone.now()
        row = None
        slot_lost = False
        for host in _placements():
            try:
                row = _create_session(user, usage_key, course_key, definition, source, previous, seed, now, host, slot)
            except _HostFull:
                continue
            except IntegrityError:
                existing = _live_row(user.pk, usage_key)
                if existing is not None:
                    return _status(existing)
                if slot is None:
                    raise
                slot_lost = True  # a concurrent start of another lab took this slot: count again
            break
        if slot_lost:
            continue
        if row is None:
            detail = "every lab host filled up while this start was placed"
            log.error("lab start refused: %s", detail)
            raise ActionRefused(_("No lab machine is free right now. Please try again in a few minutes."), detail)
        log.info("lab session %s requested by user %s for %s on %s", row.pk, user.pk, usage_key, row.host or "any host")
        return session_status(row.pk)  # re-read: an eager or fast worker may have moved it already
    raise LiveLabLimit(_("Too many labs are starting at once. Please try again in a moment."), "slot contention")


def _create_session(  # pylint: disable=too-many-arguments
    user, usage_key, course_key, definition, source, previous, seed, now, host, slot
) -> LabSession:
    """Insert the requested session placed on ``host`` and queue its start there, in one transaction."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import generate_params  # pylint: disable=import-outside-toplevel

    with transaction.atomic():
        row = LabSession.objects.create(
            user=user,
            usage_key=usage_key,
            course_key=course_key or "",
            live_key=live_key(user.pk, usage_key),
            live_slot=slot,
            definition=source,
            definition_hash=_hash(source),
            seed=seed.hex(),
            params=generate_params(definition, seed),
            time_limit=int(definition.time_limit),
            idle_timeout=int(definition.idle_timeout),
            state=S.REQUESTED,
            phase=Phase.QUEUED,
            phase_at=now,
            host=host,
            progress=_carried_progress(previous, definition),
            best_score=previous.best_score if previous else 0,
            completed_at=previous.completed_at if previous else None,
        )
        SessionEvent.objects.create(
            session=row, from_state="", to_state=S.REQUESTED, actor=f"user:{user.pk}", reason="start"
        )
        # The row is written first (on SQLite a write must come before reads in a transaction that
        # writes), then the host's row is locked and its sessions counted, this one included.
        if host and not hosts.within_capacity(host):
            raise _HostFull(host)
        _enqueue("provision_session", row.pk, queue=host_queue(host))
    return row


def _backend():
    from xblocks.labs.sandbox.base import get_backend  # pylint: disable=import-outside-toplevel

    return get_backend()


def provision_session(session_id: int) -> SessionStatus | None:
    """Worker side of Start: create the environment through the runner, recording each phase.

    Safe twice and concurrently: only the worker that moves the row requested → provisioning works on
    it; a result that arrives after the reaper took over (or after a stop) is destroyed, not recorded.
    """
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.conf import labs_settings  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import BackendUnavailable  # pylint: disable=import-outside-toplevel

    row = LabSession.objects.filter(pk=session_id).first()
    if row is None or row.state != S.REQUESTED:
        return _status(row) if row else None
    now = timezone.now()
    moved = transition(
        session_id,
        S.PROVISIONING,
        actor="system:worker",
        reason=f"provisioning attempt {row.provision_attempts + 1}",
        expect={S.REQUESTED},
        provision_attempts=row.provision_attempts + 1,
        phase=Phase.CREATING,
        phase_at=now,
        started_at=row.started_at or now,
        host=str(labs_settings.LAB_HOST),
        learner_message="",
        detail="",
    )
    if moved is None:
        return session_status(session_id)
    attempt = moved.provision_attempts

    def ours(candidate: LabSession) -> bool:
        return candidate.provision_attempts == attempt

    def on_phase(phase: str) -> None:
        LabSession.objects.filter(pk=session_id, state=S.PROVISIONING, provision_attempts=attempt).update(
            phase=str(phase)[:32], phase_at=timezone.now()
        )

    try:
        backend = _backend()
        handle = runner.provision(backend, _rendered(moved), label=moved.label, on_phase=on_phase)
    except runner.ProvisionError as error:
        log.warning("lab session %s failed to provision: %s", session_id, error.detail)
        transition(
            session_id,
            S.FAILED,
            actor="system:worker",
            reason="provisioning failed",
            expect={S.PROVISIONING},
            when=ours,
            learner_message=str(error.learner_message),
            detail=str(error.detail)[:10000],
            phase="",
        )
        return session_status(session_id)
    except BackendUnavailable as error:
        # Hand the session back to the queue; the task retries with backoff and the reaper fails it
        # after PROVISION_MAX_ATTEMPTS, so a learner never waits on a dead engine for ever.
        log.warning("lab session %s: sandbox backend unavailable: %s", session_id, error)
        transition(
            session_id,
            S.REQUESTED,
            actor="system:worker",
            reason="backend unavailable",
            expect={S.PROVISIONING},
            when=ours,
            phase=Phase.QUEUED,
            phase_at=timezone.now(),
            detail=str(error)[:10000],
        )
        raise
    except Exception as error:  # pylint: disable=broad-except
        log.exception("lab session %s: unexpected provisioning error", session_id)
        transition(
            session_id,
            S.FAILED,
            actor="system:worker",
            reason="provisioning crashed",
            expect={S.PROVISIONING},
            when=ours,
            learner_message=_("The lab environment could not be prepared. Please try again in a moment."),
            detail=f"{type(error).__name__}: {error}"[:10000],
            phase="",
        )
        return session_status(session_id)
    now = timezone.now()
    ready = transition(
        session_id,
        S.READY,
        actor="system:worker",
        reason="environment ready",
        expect={S.PROVISIONING},
        when=ours,
        handle=handle.as_json(),
        host=handle.host,
        phase=Phase.READY,
        phase_at=now,
        ready_at=now,
        ends_at=now + timedelta(seconds=moved.time_limit),
        last_activity=now,
    )
    if ready is None:
        # Stopped or taken over while we worked: what we made belongs to nobody.
        log.info("lab session %s moved on during provisioning; destroying %s", session_id, handle.id)
        backend.destroy(handle)
    return session_status(session_id)


# --------------------------------------------------------------------------- ending


def stop_session(session_id: int, *, actor: str, reason: str = "stop") -> SessionStatus:
    """Mark a live session stopping and queue the teardown of its environment (idempotent)."""
    moved = transition(
        session_id, S.STOPPING, actor=actor, reason=reason, expect=set(LIVE_STATES), phase="", phase_at=timezone.now()
    )
    if moved is not None:
        _enqueue("teardown_session", session_id, queue=host_queue(moved.host))
    return session_status(session_id)


def _destroy_environment(row: LabSession) -> None:
    from xblocks.labs.sandbox.base import SandboxHandle  # pylint: disable=import-outside-toplevel

    backend = _backend()
    if row.handle:
        backend.destroy(SandboxHandle.from_json(row.handle))
    # A start interrupted before it recorded a handle may have left a sandbox under this label.
    for handle in backend.inventory():
        if handle.label == row.label:
            backend.destroy(handle)


def teardown_session(session_id: int) -> SessionStatus | None:
    """Worker side of Stop: destroy everything the environment had, then mark the session stopped."""
    row = LabSession.objects.filter(pk=session_id).first()
    if row is None:
        return None
    if row.state != S.STOPPING:
        return _status(row)
    _destroy_environment(row)
    transition(session_id, S.STOPPED, actor="system:worker", reason="environment destroyed", expect={S.STOPPING})
    return session_status(session_id)


def reset_session(user, usage_key: str, course_key: str, definition, *, actor: str) -> SessionStatus:
    """Throw the learner's environment away and start a fresh one (progress and attempts are kept)."""
    current = _live_row(user.pk, usage_key)
    if current is not None:
        stop_session(current.pk, actor=actor, reason="reset")
    return start_session(user, usage_key, course_key, definition)


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


# --------------------------------------------------------------------------- checks, flags, hints


def _command_history(session_id: int) -> bytes:
    try:
        from xblocks.labs.terminal.api import command_history  # pylint: disable=import-outside-toplevel
    except ImportError:  # the gateway is an optional app; checks then get no history
        return b""
    try:
        return command_history(session_id) or b""
    except Exception:  # pylint: disable=broad-except
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
    with transaction.atomic():
        row = _locked(session_id)
        if row.state != S.READY:
            raise SessionNotReady(_("Your lab is not running. Start it first."), f"session {session_id} is {row.state}")
        if CheckRun.objects.filter(active_key=session_id).exists():
            raise RunInProgress(_wait_message(), f"session {session_id} already has an active run")
        progress = row.progress or {}
        if not grading.step_open(definition, progress, step.id):
            raise ActionRefused(_("Complete the previous steps first."), f"step {step.id} is gated")
        record = grading.step_record(progress, step.id)
        if grading.attempts_left(definition, record) == 0:
            raise ActionRefused(_("You have no attempts left for this step."), f"step {step.id}: attempts used")
        record["attempts"] = int(record["attempts"]) + 1
        LabSession.objects.filter(pk=session_id).update(
            progress=grading.with_step(progress, step.id, record), last_activity=now
        )
        try:
            with transaction.atomic():
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


def _give_back_attempt(user_id: int, usage_key: str, step_id: str) -> None:
    """Return an attempt on the learner's current session of the block (a Reset may have carried it over)."""
    latest = _latest_row(user_id, usage_key)
    if latest is None:
        return
    row = _locked(latest.pk)
    record = grading.step_record(row.progress or {}, step_id)
    record["attempts"] = max(0, int(record["attempts"]) - 1)
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


def _record_run(run_id: int, session_id: int, definition, step, *, state, outcomes, points, passed, **fields):
    """Record a running run's results and fold them into the step's best record; returns (run, graded, row).

    Returns None when the run is no longer running (the reaper ended it): a late result changes nothing.
    """
    with transaction.atomic():
        row = _locked(session_id)
        progress = row.progress or {}
        record = grading.step_record(progress, step.id)
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
        run = CheckRun.objects.get(pk=run_id)
        if run.kind == CheckRun.Kind.CHECK:
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
        LabSession.objects.filter(pk=session_id).update(
            progress=progress, best_score=score, completed_at=row.completed_at, last_activity=now
        )
    return run, graded, row


def _announce(row: LabSession, definition) -> None:
    """Tell listeners (certification) about the learner's current result; their errors never break a check."""
    responses = lab_result_recorded.send_robust(
        sender=CheckRun,
        user=row.user,
        course_key=row.course_key,
        usage_key=row.usage_key,
        lab_key=definition.lab_key,
        score=float(row.best_score),
        max_score=float(definition.max_score),
        passed=grading.lab_completed(definition, row.progress or {}),
        completed_at=row.completed_at,
    )
    for receiver, response in responses:
        if isinstance(response, Exception):
            log.error("lab_result_recorded receiver %r failed: %r", receiver, response)


def _graded_result(run_id: int, session_id: int, definition, step, **run) -> bool:
    """Record a run, and announce the grade (once, from here) when it counts; False if it ended meanwhile."""
    recorded = _record_run(run_id, session_id, definition, step, **run)
    if recorded is None:
        log.info("check run %s had already ended; its late result is dropped", run_id)
        return False
    _run, graded, row = recorded
    if graded:
        _announce(row, definition)
    return True


def request_checks(session_id: int, step_id: str) -> CheckRunStatus:
    """Record a press of Check and queue its run on the session's lab host; the page then polls the run.

    Returns at once (in eager mode, as in tests, the run has already finished). One run per session
    at a time: a second press, from any tab, is refused with ``RunInProgress``.
    """
    row, definition, step = _ready_step(session_id, step_id, need_checks=True)
    run = _claim_run(
        session_id, definition, step, kind=CheckRun.Kind.CHECK, state=RunState.QUEUED, checks_total=len(step.checks)
    )
    log.info("check run %s requested for step %s of lab session %s", run.pk, step.id, session_id)
    _enqueue("run_checks", run.pk, queue=host_queue(row.host))
    return check_run_status(run.pk)


def _time_cut(check, seconds: float):
    """The outcome of a check that the press's total time limit stopped (or never let start)."""
    from xblocks.labs.runner import CheckOutcome  # pylint: disable=import-outside-toplevel

    return CheckOutcome(
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


def run_checks(run_id: int) -> CheckRunStatus | None:
    """Worker side of Check: run a queued press's checks one by one and record the run (the grade's only source).

    Safe twice and at once: only the worker that moves the run queued → running works on it, progress
    is written after each check, and a result that arrives after the reaper ended the run is dropped.
    The checks together get ``CHECK_RUN_TIME_LIMIT`` seconds; what has not finished by then does not pass.
    """
    run = CheckRun.objects.select_related("session").filter(pk=run_id).first()
    if run is None or run.state != RunState.QUEUED:
        return None
    row = run.session
    if row.host and not _here(row.host):
        # Sent to another lab host: leave it queued; the reaper sends it to its host's queue again.
        # (A session with no host never got a sandbox: the run ends below without one.)
        log.warning("check run %s belongs to lab host %r, not this one; left queued", run_id, row.host)
        return None
    now = timezone.now()
    waited = (now - run.created).total_seconds()
    if waited >= int(session_settings.CHECK_QUEUE_TIMEOUT):
        _abandon_run(run_id, learner_message=_busy_message(), detail=f"no worker started it for {waited:.0f} s")
        return check_run_status(run_id)
    if not CheckRun.objects.filter(pk=run_id, state=RunState.QUEUED).update(state=RunState.RUNNING, started_at=now):
        return None  # another worker took it
    from xblocks.labs.conf import labs_settings  # pylint: disable=import-outside-toplevel

    log.info("lab session %s: checks of step %s run on lab host %s", row.pk, run.step_id, labs_settings.LAB_HOST)
    try:
        _execute_checks(run_id, row.pk, run.step_id)
    except Exception as error:  # pylint: disable=broad-except
        log.exception("check run %s of lab session %s crashed", run_id, row.pk)
        _abandon_run(
            run_id,
            learner_message=_("Your checks could not run just now. Please try again in a moment."),
            detail=f"{type(error).__name__}: {error}",
        )
    return check_run_status(run_id)


def _busy_message() -> str:
    return _(
        "Your checks could not start in time because the lab machines are busy. Press Check again; "
        "this attempt was not counted."
    )


def _execute_checks(run_id: int, session_id: int, step_id: str) -> None:
    import dataclasses  # pylint: disable=import-outside-toplevel

    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import (  # pylint: disable=import-outside-toplevel
        SandboxError,
        SandboxHandle,
        SandboxNotFound,
    )

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
    stdin = _command_history(session_id)
    backend = _backend()
    budget = float(session_settings.CHECK_RUN_TIME_LIMIT)
    started = time.monotonic()
    outcomes, cut = [], False
    for index, check in enumerate(step.checks):
        remaining = budget - (time.monotonic() - started)
        if remaining < 0.5:
            outcomes.append(_time_cut(check, budget))
            cut = True
            continue
        try:
            outcome = runner.run_check(
                backend, handle, dataclasses.replace(check, timeout=min(float(check.timeout), remaining)), stdin=stdin
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
    limit = int(session_settings.CHECK_OUTPUT_LIMIT)
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


def _results(run: CheckRun) -> tuple[CheckResult, ...]:
    return tuple(
        CheckResult(
            id=o["id"],
            passed=bool(o["passed"]),
            points=float(o["points"]),
            max_points=int(o.get("max_points", 0)),
            feedback=o.get("feedback", ""),
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


def submit_flag(session_id: int, step_id: str, flag_id: str, answer: str) -> CheckRunStatus:
    """Compare a submitted flag with this learner's rendered value, server-side; counts as an attempt.

    Quick, so it runs in the request, but as a run like a Check press: refused while a check runs.
    """
    from xblocks.labs import runner  # pylint: disable=import-outside-toplevel

    row, definition, step = _ready_step(session_id, step_id, need_checks=False)
    flag = next((f for f in step.flags if f.id == flag_id), None)
    if flag is None:
        raise ActionRefused(_("This step has no such answer field."), f"unknown flag {flag_id!r}")
    if flag.id in grading.step_record(row.progress or {}, step.id)["flags"]:
        raise ActionRefused(_("You already found this flag."))
    run = _claim_run(session_id, definition, step, kind=CheckRun.Kind.FLAG, state=RunState.RUNNING, checks_total=1)
    try:
        passed = runner.check_flag(flag, str(answer or "")[:1000])
        points = float(flag.points) if passed else 0.0
        outcome = {
            "id": flag.id,
            "passed": passed,
            "points": points,
            "max_points": int(flag.points),
            "feedback": _("Correct.") if passed else _("That is not the flag."),
        }
        _graded_result(
            run.pk,
            session_id,
            definition,
            step,
            state=RunState.DONE,
            outcomes=[outcome],
            points=points,
            passed=passed,
            script_hash=_hash(flag.id),
            duration=0.0,
        )
    except Exception as error:
        _abandon_run(run.pk, learner_message=_("Something went wrong. Please try again."), detail=repr(error))
        raise
    return check_run_status(run.pk)


def _update_step(session_id: int, step_id: str, change) -> tuple[LabSession, Any, Any, dict]:
    row, definition, step = _ready_step(session_id, step_id, need_checks=False)
    with transaction.atomic():
        row = _locked(session_id)
        progress = row.progress or {}
        if not grading.step_open(definition, progress, step.id):
            raise ActionRefused(_("Complete the previous steps first."))
        record = change(step, grading.step_record(progress, step.id))
        row.progress = grading.with_step(progress, step.id, record)
        row.best_score = grading.lab_score(definition, row.progress)
        LabSession.objects.filter(pk=session_id).update(progress=row.progress, best_score=row.best_score)
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
    _announce(row, definition)
    return HintReveal(
        step_id=step.id,
        index=int(record["hints"]) - 1,
        text=render_markdown(hint.text),
        cost=hint.cost,
        status=_status(row, definition),
    )


def reveal_solution(session_id: int, step_id: str) -> SolutionReveal:
    """Show the step's solution; the step then earns no points (it still opens the next step once it passes)."""

    def change(step, record):
        if not step.solve:
            raise ActionRefused(_("This step has no solution to show."))
        record["solution"] = True
        return record

    row, definition, step, _record = _update_step(session_id, step_id, change)
    _announce(row, definition)
    return SolutionReveal(step_id=step.id, script=step.solve or "", status=_status(row, definition))


# --------------------------------------------------------------------------- staff


def list_sessions(usage_key: str, *, limit: int = 500) -> list[StaffSessionRow]:
    """Every learner's latest session in one block, for the staff view."""
    from django.db.models import OuterRef, Subquery  # pylint: disable=import-outside-toplevel

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


# --------------------------------------------------------------------------- terminal gateway contract


def terminal_target(session_id: int):
    """The handle of a ready session's environment (the gateway opens its PTY there)."""
    from xblocks.labs.sandbox.base import SandboxHandle  # pylint: disable=import-outside-toplevel

    row = _row(session_id)
    if row.state != S.READY or not row.handle:
        raise SessionNotReady(_("Your lab is not running. Start it first."), f"session {session_id} is {row.state}")
    return SandboxHandle.from_json(row.handle)


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
    from xblocks.core import compat  # pylint: disable=import-outside-toplevel

    return compat.is_course_staff(user, row)


def terminal_token(user, session_id: int, *, mode: str, attached_by=None) -> dict[str, Any]:
    """Mint a gateway token for a ready session (the caller has checked who may ask)."""
    terminal_target(session_id)
    try:
        from xblocks.labs.terminal.api import mint_token  # pylint: disable=import-outside-toplevel
    except ImportError:
        raise SessionNotReady(_("The terminal is not available on this site."), "terminal app not installed") from None
    return mint_token(user=user, session_id=session_id, mode=mode, attached_by=attached_by)


def transcript(session_id: int) -> str | None:
    try:
        from xblocks.labs.terminal.api import transcript as terminal_transcript  # pylint: disable=import-outside-toplevel
    except ImportError:
        return None
    return terminal_transcript(session_id)


# --------------------------------------------------------------------------- reaper and reconciler


def reap_sessions(now: datetime | None = None) -> SweepReport:
    """End sessions past their time limit or idle timeout; take over starts whose worker died.

    Provisioning sessions with no phase change for PROVISION_TIMEOUT seconds are retried (their
    partial environment destroyed) up to PROVISION_MAX_ATTEMPTS, then failed with a message;
    requested and stopping sessions nobody picked up are queued again.
    """
    now = now or timezone.now()
    stopped, failed, retried = [], [], []
    for row in LabSession.objects.filter(state=S.READY).only(
        "pk", "ends_at", "last_activity", "idle_timeout", "ready_at"
    ):
        if row.ends_at and row.ends_at <= now:
            stop_session(row.pk, actor="system:reaper", reason="time limit")
            stopped.append(row.pk)
        elif (
            row.idle_timeout and (row.last_activity or row.ready_at or now) + timedelta(seconds=row.idle_timeout) <= now
        ):
            stop_session(row.pk, actor="system:reaper", reason="idle timeout")
            stopped.append(row.pk)
    stale = now - timedelta(seconds=int(session_settings.PROVISION_TIMEOUT))
    max_attempts = int(session_settings.PROVISION_MAX_ATTEMPTS)
    for row in LabSession.objects.filter(state=S.PROVISIONING, phase_at__lt=stale):
        attempt = row.provision_attempts

        def same_attempt(candidate: LabSession, attempt=attempt) -> bool:
            return candidate.provision_attempts == attempt

        try:
            # On another lab host the partial sandbox is left to that host's reconciler, which
            # destroys every sandbox of the session except the one a ready row records.
            if _here(row.host):
                _destroy_environment(row)
        except Exception:  # pylint: disable=broad-except
            log.exception("reaper: could not clean up the partial environment of session %s", row.pk)
        if attempt < max_attempts:
            if transition(
                row.pk,
                S.REQUESTED,
                actor="system:reaper",
                reason="provisioning stalled; retrying",
                expect={S.PROVISIONING},
                when=same_attempt,
                phase=Phase.QUEUED,
                phase_at=now,
            ):
                if _requeue_start(row.pk, now):
                    retried.append(row.pk)
                else:
                    failed.append(row.pk)
        elif transition(
            row.pk,
            S.FAILED,
            actor="system:reaper",
            reason="provisioning stalled",
            expect={S.PROVISIONING},
            when=same_attempt,
            phase="",
            detail=f"no progress for {session_settings.PROVISION_TIMEOUT} s after {attempt} attempts",
            learner_message=_("Your lab took too long to start. Please press Start lab to try again."),
        ):
            failed.append(row.pk)
    requeue = now - timedelta(seconds=int(session_settings.REQUEST_REQUEUE_AFTER))
    for row in LabSession.objects.filter(state=S.REQUESTED, phase_at__lt=requeue):
        if row.provision_attempts >= max_attempts:
            if transition(
                row.pk,
                S.FAILED,
                actor="system:reaper",
                reason="no worker could start it",
                expect={S.REQUESTED},
                phase="",
                detail=row.detail or "requested too long",
                learner_message=_("No lab environment is available right now. Please try again later."),
            ):
                failed.append(row.pk)
        elif _requeue_start(row.pk, now):
            retried.append(row.pk)
        else:
            failed.append(row.pk)
    stuck = now - timedelta(seconds=int(session_settings.STOPPING_REQUEUE_AFTER))
    for row in LabSession.objects.filter(state=S.STOPPING, phase_at__lt=stuck):
        LabSession.objects.filter(pk=row.pk, state=S.STOPPING).update(phase_at=now)
        _enqueue("teardown_session", row.pk, queue=host_queue(row.host))
    runs_failed, runs_requeued = _reap_check_runs(now)
    report = SweepReport(
        stopped=tuple(stopped),
        failed=tuple(failed),
        retried=tuple(retried),
        runs_failed=tuple(runs_failed),
        runs_requeued=tuple(runs_requeued),
    )
    if stopped or failed or retried or runs_failed or runs_requeued:
        log.info("reaper: %s", report.as_json())
    return report


def _requeue_start(session_id: int, now: datetime) -> bool:
    """Queue a requested session's start again: on its host while that host is alive, else placed anew.

    With no lab host able to take it the session fails with a message (False), instead of waiting for
    a machine that is gone.
    """
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    with transaction.atomic():
        row = _locked(session_id)
        if row.state != S.REQUESTED:
            return True
        alive = {status.name: status for status in hosts.hosts(now) if status.alive and status.accepting}
        host = row.host if row.host in alive else ""
        if not host:
            try:
                host = hosts.place(now)
            except hosts.NoLabHost as error:
                log.error("reaper: session %s cannot be placed again: %s", session_id, error)
                transition(
                    session_id,
                    S.FAILED,
                    actor="system:reaper",
                    reason="no lab host can take it",
                    expect={S.REQUESTED},
                    phase="",
                    detail=str(error)[:10000],
                    learner_message=_("No lab environment is available right now. Please try again later."),
                )
                return False
        LabSession.objects.filter(pk=session_id, state=S.REQUESTED).update(phase_at=now, host=host)
        _enqueue("provision_session", session_id, queue=host_queue(host))
    return True


def _reap_check_runs(now: datetime) -> tuple[list[int], list[int]]:
    """Never leave a check run queued or running for ever.

    A queued run whose task went missing is sent again every CHECK_REQUEUE_AFTER seconds; one no
    worker started within CHECK_QUEUE_TIMEOUT, or one still running CHECK_RUN_GRACE seconds past
    its time limit (its worker died), is ended with a message and the attempt given back.
    """
    from django.db.models import Q  # pylint: disable=import-outside-toplevel

    failed, requeued = [], []
    too_old = now - timedelta(seconds=int(session_settings.CHECK_QUEUE_TIMEOUT))
    resend = now - timedelta(seconds=int(session_settings.CHECK_REQUEUE_AFTER))
    waiting = CheckRun.objects.filter(state=RunState.QUEUED).filter(Q(created__lte=too_old) | Q(queued_at__lt=resend))
    for run in waiting.select_related("session"):
        if run.created <= too_old:
            if _abandon_run(run.pk, learner_message=_busy_message(), detail="no worker started it in time (reaper)"):
                failed.append(run.pk)
        elif CheckRun.objects.filter(pk=run.pk, state=RunState.QUEUED, queued_at=run.queued_at).update(queued_at=now):
            _enqueue("run_checks", run.pk, queue=host_queue(run.session.host))
            requeued.append(run.pk)
    lost = now - timedelta(seconds=int(session_settings.CHECK_RUN_TIME_LIMIT) + int(session_settings.CHECK_RUN_GRACE))
    for run in CheckRun.objects.filter(state=RunState.RUNNING, started_at__lt=lost):
        if _abandon_run(
            run.pk,
            learner_message=_(
                "Your check was interrupted before it finished. Press Check again; this attempt was not counted."
            ),
            detail=f"still running {int((now - run.started_at).total_seconds())} s after it started: worker lost",
        ):
            failed.append(run.pk)
    return failed, requeued


def reconcile_sessions() -> SweepReport:
    """Compare the backend's inventory on this host with the database, both ways, and heal the drift.

    An environment without a live session is destroyed; a ready session whose environment is gone
    is failed with a message telling the learner to start again (their progress is kept).
    """
    from xblocks.labs.conf import labs_settings  # pylint: disable=import-outside-toplevel

    backend = _backend()
    # Rows that changed after this snapshot are left for the next pass: a sandbox made (or a
    # teardown begun) after the inventory was read must not count as missing.
    snapshot = timezone.now()
    inventory = backend.inventory()
    present = {handle.id for handle in inventory}
    destroyed, failed = [], []
    prefix = label_prefix()
    by_id: dict[str, int] = {}
    for handle in inventory:
        # Only sandboxes labelled by this deployment; others on the host belong to someone else.
        if handle.label.startswith(prefix) and handle.label[len(prefix) :].isdigit():
            by_id[handle.id] = int(handle.label[len(prefix) :])
    ours = [handle for handle in inventory if handle.id in by_id]
    wanted_ids = {sid for sid in by_id.values() if sid is not None}
    rows = {row.pk: row for row in LabSession.objects.filter(pk__in=wanted_ids)}
    for handle in ours:
        row = rows.get(by_id[handle.id])
        keep = row is not None and (
            row.state == S.PROVISIONING or (row.state == S.READY and (row.handle or {}).get("id") == handle.id)
        )
        if not keep:
            log.warning("reconciler: destroying %s (%s): no live session owns it", handle.id, handle.label)
            backend.destroy(handle)
            destroyed.append(handle.id)
    host = str(labs_settings.LAB_HOST)
    for row in LabSession.objects.filter(state=S.READY, ready_at__lt=snapshot, host__in=[host, ""]):
        if (
            row.handle
            and row.handle.get("backend") == getattr(backend, "name", row.handle.get("backend"))
            and row.handle.get("id") not in present
        ):
            if transition(
                row.pk,
                S.FAILED,
                actor="system:reconciler",
                reason="environment missing",
                expect={S.READY},
                when=lambda r, h=row.handle: r.handle == h,
                phase="",
                detail=f"sandbox {row.handle.get('id')} not in the {getattr(backend, 'name', '?')} inventory of {host}",
                learner_message=_(
                    "Your lab environment stopped unexpectedly. Start the lab again; your progress is kept."
                ),
            ):
                failed.append(row.pk)
    for row in LabSession.objects.filter(state=S.STOPPING, phase_at__lt=snapshot, host__in=[host, ""]):
        if not row.handle or row.handle.get("id") not in present:
            transition(
                row.pk, S.STOPPED, actor="system:reconciler", reason="environment already gone", expect={S.STOPPING}
            )
    report = SweepReport(failed=tuple(failed), destroyed=tuple(destroyed))
    if failed or destroyed:
        log.info("reconciler: %s", report.as_json())
    return report


# --------------------------------------------------------------------------- lab hosts


def heartbeat(name: str, **report: Any) -> None:
    """A lab host reports itself: capacity, gateway URL, whether it accepts sessions and why not."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    hosts.heartbeat(name, **report)


def lab_host_stopped(name: str) -> None:
    """A lab host's service stops cleanly; placement skips it from now on."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    hosts.stopped(name)


def lab_hosts() -> list[LabHostStatus]:
    """Every registered lab host with its load now (alive ones first)."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    return hosts.hosts()


def gateway_url(host: str) -> str:
    """The terminal gateway base URL lab host ``host`` reported ("" when it reported none)."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    return hosts.gateway_url(host)


def queue_reconciles() -> list[str]:
    """Ask every live lab host to reconcile its sandboxes with the database (one task on each host's queue).

    With no lab host registered, one reconcile goes to the shared lab queue (the one-machine case).
    Returns the queues asked.
    """
    from xblocks.labs import hosts, tasks  # pylint: disable=import-outside-toplevel

    names = hosts.live_host_names()
    targets = [(name, hosts.host_queue(name)) for name in names] or [("", hosts.lab_queue())]
    for name, queue in targets:
        tasks.reconcile_sessions.apply_async(args=[name] if name else [], queue=queue)
    return [queue for _name, queue in targets]


def lab_task_destination(task_name: str, args: list | tuple = (), kwargs: dict | None = None) -> str | None:
    """Where a lab task received by this process must go instead of running here (None: run it here).

    Anywhere but a lab host, every lab task goes back to the lab queues. On a lab host, work on
    another host's sandboxes (a teardown, checks, a reconcile) goes to that host's queue.
    """
    from xblocks.labs.conf import labs_settings  # pylint: disable=import-outside-toplevel

    if not may_run_lab_work():
        return lab_task_queue(task_name, args, kwargs)
    short = task_name.rsplit(".", 1)[-1]
    if short in {"teardown_session", "run_checks", "reconcile_sessions"}:
        target = lab_task_queue(task_name, args, kwargs)
        if target != host_queue("") and target != host_queue(str(labs_settings.LAB_HOST)):
            return target
    return None
