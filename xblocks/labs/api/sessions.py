"""Starting and ending a learner's lab: placement, the live-lab cap, provisioning, stop, teardown and reset."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from xblocks.core.i18n import gettext as _
from xblocks.core.i18n import ngettext
from xblocks.labs import grading, hosts, leases, runner, tasks
from xblocks.labs.api import pool
from xblocks.labs.api.hosts import host_queue
from xblocks.labs.api.status import (
    _carried_progress,
    _hash,
    _latest_row,
    _live_row,
    _parsed,
    _rendered,
    _status,
    definition_source,
    learner_seed,
    session_status,
)
from xblocks.labs.conf import labs_settings
from xblocks.labs.data import (
    LIVE_STATES,
    ActionRefused,
    LiveLabLimit,
    Phase,
    SessionState,
    SessionStatus,
)
from xblocks.labs.definition import generate_params
from xblocks.labs.lifecycle import live_key, transition, transition_new
from xblocks.labs.models import LabSession, SessionEvent
from xblocks.labs.sandbox.base import BackendUnavailable, SandboxHandle, get_backend
from xblocks.labs.sandbox.conf import sandbox_settings

log = logging.getLogger(__name__)

S = SessionState


def _placements() -> list[str]:
    """Lab hosts for a new session, best first ([""] for the shared lab queue); refuses when none can take it."""

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
    cap = int(labs_settings.MAX_LIVE_LABS_PER_LEARNER)
    warm = pool.servable(definition, _carried_progress(previous, definition))
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
                row = _create_session(
                    user, usage_key, course_key, definition, source, previous, seed, now, host, slot, warm
                )
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


def _create_session(
    user, usage_key, course_key, definition, source, previous, seed, now, host, slot, warm=False
) -> LabSession:
    """Insert the requested session placed on ``host`` and queue its start there, in one transaction.

    With ``warm`` (``pool.servable``), a ready sandbox of the warm pool on ``host`` is claimed for it
    instead, and the session is ready when this returns.
    """

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
            result_at=previous.result_at if previous else None,
        )
        SessionEvent.objects.create(
            session=row, from_state="", to_state=S.REQUESTED, actor=f"user:{user.pk}", reason="start"
        )
        # The row is written first (on SQLite a write must come before reads in a transaction that
        # writes), then the host's row is locked and its sessions counted, this one included.
        if host and not hosts.within_capacity(host):
            raise _HostFull(host)
        handle = pool.claim(row, host, now) if warm else None
        if handle is not None:
            row = _ready_from_pool(row, handle)
        else:
            tasks.enqueue(tasks.provision_session, row.pk, queue=host_queue(host))
        if warm:
            pool.want_more(handle.host if handle is not None else host)
    return row


def _ready_changes(handle: SandboxHandle, time_limit: int, now) -> dict:
    """What a session's row records when its environment is ready, however it was made."""
    return {
        "handle": handle.as_json(),
        "host": handle.host,
        "phase": Phase.READY,
        "phase_at": now,
        "ready_at": now,
        "ends_at": now + timedelta(seconds=time_limit),
        "last_activity": now,
    }


def _ready_from_pool(row: LabSession, handle: SandboxHandle) -> LabSession:
    """Move a just-created session to ready on the pool sandbox it claimed (same transaction): both
    moves and their events written at once (``transition_new``)."""
    now = timezone.now()
    claimed = {
        "provision_attempts": row.provision_attempts + 1,
        "phase_at": now,
        "started_at": now,
        "host": handle.host,
    }
    ready = transition_new(
        row,
        [
            (S.PROVISIONING, "warm pool sandbox claimed", claimed),
            (S.READY, "environment ready", _ready_changes(handle, row.time_limit, now)),
        ],
        actor="system:pool",
    )
    if ready is None:  # cannot happen inside the creating transaction; fail closed
        raise RuntimeError(f"lab session {row.pk} could not be moved to ready on its pool sandbox")
    return ready


def _backend(name: str | None = None):
    """The backend named ``name`` (a handle's ``backend``: the one that made that sandbox), else the
    configured one, which only new sandboxes use: switching it never strands a live session."""
    return get_backend(name)


def _backends_for(*handles: SandboxHandle | None) -> list:
    """The configured backend and those of ``handles``, each once."""
    found = {}
    for backend in (_backend(), *(_backend(h.backend) for h in handles if h is not None)):
        found.setdefault(backend.name, backend)
    return list(found.values())


def provision_session(session_id: int) -> SessionStatus | None:
    """Worker side of Start: create the environment through the runner, recording each phase.

    Safe twice and concurrently: only the worker that moves the row requested → provisioning works on
    it; a result that arrives after the reaper took over (or after a stop) is destroyed, not recorded.
    """

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
        host=str(sandbox_settings.LAB_HOST),
        learner_message="",
        detail="",
        held_until=leases.lease_until(now),
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

    holding = LabSession.objects.filter(pk=session_id, state=S.PROVISIONING, provision_attempts=attempt)
    try:
        backend = _backend()
        lab = _rendered(moved)
        reached = grading.reached_steps(lab, moved.progress or {})
        with leases.held(holding):
            handle = runner.provision(backend, lab, label=moved.label, on_phase=on_phase, reached=reached)
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
    except Exception as error:
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
        **_ready_changes(handle, moved.time_limit, now),
    )
    if ready is None:
        # Stopped or taken over while we worked: what we made belongs to nobody.
        log.info("lab session %s moved on during provisioning; destroying %s", session_id, handle.id)
        backend.destroy(handle)
    return session_status(session_id)


def stop_session(session_id: int, *, actor: str, reason: str = "stop") -> SessionStatus:
    """Mark a live session stopping and queue the teardown of its environment (idempotent)."""
    moved = transition(
        session_id, S.STOPPING, actor=actor, reason=reason, expect=set(LIVE_STATES), phase="", phase_at=timezone.now()
    )
    if moved is not None:
        tasks.enqueue(tasks.teardown_session, session_id, queue=host_queue(moved.host))
    return session_status(session_id)


def _destroy_environment(row: LabSession) -> None:

    recorded = SandboxHandle.from_json(row.handle) if row.handle else None
    if recorded is not None:
        _backend(recorded.backend).destroy(recorded)
    # A start interrupted before it recorded a handle may have left a sandbox under this label.
    for backend in _backends_for(recorded):
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
