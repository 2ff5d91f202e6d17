"""The sweeps: the reaper (time limits, idle timeouts, stalled starts and runs) and the reconciler."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from xblocks.core.i18n import gettext as _
from xblocks.labs import hosts, tasks
from xblocks.labs.api import pool
from xblocks.labs.api.checks import _abandon_run, _busy_message
from xblocks.labs.api.hosts import _here, host_queue
from xblocks.labs.api.sessions import _backend, _destroy_environment, stop_session
from xblocks.labs.api.status import (
    _locked,
)
from xblocks.labs.conf import labs_settings
from xblocks.labs.data import (
    Phase,
    RunState,
    SessionState,
    SweepReport,
)
from xblocks.labs.lifecycle import transition
from xblocks.labs.models import CheckRun, LabSession, label_prefix
from xblocks.labs.sandbox.base import SandboxError
from xblocks.labs.sandbox.conf import sandbox_settings

log = logging.getLogger(__name__)

S = SessionState


def reap_sessions(now: datetime | None = None) -> SweepReport:
    """End sessions past their time limit or idle timeout; take over starts whose worker died.

    Provisioning sessions with no phase change for PROVISION_TIMEOUT seconds, or whose worker
    process stopped renewing its lease (``leases``: it died), are retried (their partial environment
    destroyed) up to PROVISION_MAX_ATTEMPTS, then failed with a message;
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
    stale = now - timedelta(seconds=int(labs_settings.PROVISION_TIMEOUT))
    max_attempts = int(labs_settings.PROVISION_MAX_ATTEMPTS)
    # Stalled (no phase change for PROVISION_TIMEOUT), or its worker process died (lease run out).
    for row in LabSession.objects.filter(Q(phase_at__lt=stale) | Q(held_until__lt=now), state=S.PROVISIONING):
        attempt = row.provision_attempts
        lost = row.held_until is not None and row.held_until < now and not (row.phase_at and row.phase_at < stale)

        def same_attempt(candidate: LabSession, attempt=attempt) -> bool:
            return candidate.provision_attempts == attempt

        try:
            # On another lab host the partial sandbox is left to that host's reconciler, which
            # destroys every sandbox of the session except the one a ready row records.
            if _here(row.host):
                _destroy_environment(row)
        except Exception:
            log.exception("reaper: could not clean up the partial environment of session %s", row.pk)
        if attempt < max_attempts:
            if transition(
                row.pk,
                S.REQUESTED,
                actor="system:reaper",
                reason="worker lost; retrying" if lost else "provisioning stalled; retrying",
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
            reason="worker lost" if lost else "provisioning stalled",
            expect={S.PROVISIONING},
            when=same_attempt,
            phase="",
            detail=(
                f"the worker process making it stopped renewing its lease at {row.held_until:%H:%M:%S}"
                if lost
                else f"no progress for {labs_settings.PROVISION_TIMEOUT} s"
            )
            + f" after {attempt} attempts",
            learner_message=(
                _("The machine preparing your lab stopped. Please press Start lab to try again.")
                if lost
                else _("Your lab took too long to start. Please press Start lab to try again.")
            ),
        ):
            failed.append(row.pk)
    requeue = now - timedelta(seconds=int(labs_settings.REQUEST_REQUEUE_AFTER))
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
    stuck = now - timedelta(seconds=int(labs_settings.STOPPING_REQUEUE_AFTER))
    for row in LabSession.objects.filter(state=S.STOPPING, phase_at__lt=stuck):
        LabSession.objects.filter(pk=row.pk, state=S.STOPPING).update(phase_at=now)
        tasks.enqueue(tasks.teardown_session, row.pk, queue=host_queue(row.host))
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

    with transaction.atomic():
        row = _locked(session_id)
        if row.state != S.REQUESTED:
            return True
        # The host this reaper runs on is alive whatever its last heartbeat says: under load (a
        # database that stayed locked) a heartbeat can be late, and failing the class's starts
        # for it would be worse than the wait.
        statuses = {status.name: status for status in hosts.hosts(now)}
        own = statuses.get(row.host)
        host = row.host if own is not None and own.accepting and (own.alive or _here(row.host)) else ""
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
        tasks.enqueue(tasks.provision_session, session_id, queue=host_queue(host))
    return True


def _reap_check_runs(now: datetime) -> tuple[list[int], list[int]]:
    """Never leave a check run queued or running for ever.

    A queued run whose task went missing is sent again every CHECK_REQUEUE_AFTER seconds; one no
    worker started within CHECK_QUEUE_TIMEOUT, one whose worker process stopped renewing its lease
    (it died), or one still running CHECK_RUN_GRACE seconds past its time limit, is ended with a
    message and the attempt given back.
    """

    failed, requeued = [], []
    too_old = now - timedelta(seconds=int(labs_settings.CHECK_QUEUE_TIMEOUT))
    resend = now - timedelta(seconds=int(labs_settings.CHECK_REQUEUE_AFTER))
    waiting = CheckRun.objects.filter(state=RunState.QUEUED).filter(Q(created__lte=too_old) | Q(queued_at__lt=resend))
    for run in waiting.select_related("session"):
        if run.created <= too_old:
            if _abandon_run(run.pk, learner_message=_busy_message(), detail="no worker started it in time (reaper)"):
                failed.append(run.pk)
        elif CheckRun.objects.filter(pk=run.pk, state=RunState.QUEUED, queued_at=run.queued_at).update(queued_at=now):
            tasks.enqueue(tasks.run_checks, run.pk, queue=host_queue(run.session.host))
            requeued.append(run.pk)
    lost = now - timedelta(seconds=int(labs_settings.CHECK_RUN_TIME_LIMIT) + int(labs_settings.CHECK_RUN_GRACE))
    # Past its time limit and grace, or its worker process died (its lease ran out).
    for run in CheckRun.objects.filter(Q(started_at__lt=lost) | Q(held_until__lt=now), state=RunState.RUNNING):
        if run.started_at and run.started_at < lost:
            detail = f"still running {int((now - run.started_at).total_seconds())} s after it started: worker lost"
        else:
            detail = f"the worker process running it stopped renewing its lease at {run.held_until:%H:%M:%S}"
        if _abandon_run(
            run.pk,
            learner_message=_(
                "Your check was interrupted before it finished. Press Check again; this attempt was not counted."
            ),
            detail=detail,
        ):
            failed.append(run.pk)
    return failed, requeued


def reconcile_sessions() -> SweepReport:
    """Compare the backend's inventory on this host with the database, both ways, and heal the drift.

    An environment without a live session is destroyed; a ready session whose environment is gone
    is failed with a message telling the learner to start again (their progress is kept).
    """

    host = str(sandbox_settings.LAB_HOST)
    # Rows that changed after this snapshot are left for the next pass: a sandbox made (or a
    # teardown begun) after the inventory was read must not count as missing.
    snapshot = timezone.now()
    # Every backend with something to reconcile: the configured one (new sandboxes) and each one a
    # live session's handle names (made before the setting changed); one that cannot answer is skipped.
    names = {_backend().name}
    for handle in LabSession.objects.filter(state__in=[S.READY, S.STOPPING], host__in=[host, ""]).values_list(
        "handle", flat=True
    ):
        if handle and handle.get("backend"):
            names.add(str(handle["backend"]))
    inventory, asked = [], set()
    for name in sorted(names):
        try:
            backend = _backend(name)
            inventory += backend.inventory()
        except SandboxError as error:
            log.warning("reconciler: backend %s cannot list its sandboxes: %s", name, error)
            continue
        asked.update({name, backend.name})
    present = {(handle.backend, handle.id) for handle in inventory}
    destroyed, failed = list(pool.reap_pool(inventory)), []
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
            _backend(handle.backend).destroy(handle)
            destroyed.append(handle.id)

    def missing(recorded: dict) -> bool:
        return recorded.get("backend") in asked and (recorded.get("backend"), recorded.get("id")) not in present

    for row in LabSession.objects.filter(state=S.READY, ready_at__lt=snapshot, host__in=[host, ""]):
        if row.handle and missing(row.handle):
            if transition(
                row.pk,
                S.FAILED,
                actor="system:reconciler",
                reason="environment missing",
                expect={S.READY},
                when=lambda r, h=row.handle: r.handle == h,
                phase="",
                detail=f"sandbox {row.handle.get('id')} not in the {row.handle.get('backend')} inventory of {host}",
                learner_message=_(
                    "Your lab environment stopped unexpectedly. Start the lab again; your progress is kept."
                ),
            ):
                failed.append(row.pk)
    for row in LabSession.objects.filter(state=S.STOPPING, phase_at__lt=snapshot, host__in=[host, ""]):
        if not row.handle or missing(row.handle):
            transition(
                row.pk, S.STOPPED, actor="system:reconciler", reason="environment already gone", expect={S.STOPPING}
            )
    report = SweepReport(failed=tuple(failed), destroyed=tuple(destroyed))
    if failed or destroyed:
        log.info("reconciler: %s", report.as_json())
    return report
