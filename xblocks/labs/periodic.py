"""Runs Kafaat's periodic jobs (``xblocks.core.periodic.JOBS``) once each when due, never twice at once.

Two ways in: Celery beat sends ``run_periodic_job(name)`` (the plugin settings register the entries),
and deployments without beat run ``kafaat_periodic`` loops. Both go through ``run_job``, which takes the
job's row in ``PeriodicJob`` by moving its ``runs`` counter on from the value it read: of two schedulers
only one wins, and a run whose process died is taken over once its lease has passed. Lab jobs run on
lab hosts; a scheduler elsewhere sends them to the lab queue instead of running them.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import traceback
from collections.abc import Callable, Iterable
from datetime import UTC, datetime, timedelta
from importlib import import_module

from django.conf import settings
from django.db import IntegrityError
from django.utils import timezone

from xblocks.core import periodic as catalog
from xblocks.labs.data import JobRun
from xblocks.labs.models import PeriodicJob

log = logging.getLogger(__name__)

# A job whose interval has nearly passed counts as due: beat's ticks and the start of the previous
# run differ by the queueing delay, and a strict test would skip every other run.
DUE_SLACK = 0.1
EVER = datetime(2000, 1, 1, tzinfo=UTC)


def _overrides() -> dict:
    return getattr(settings, "KAFAAT", None) or {}


def holder_name() -> str:
    """Who holds a job while running it: host, process and thread (for the admin and the logs)."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def next_due(item: catalog.Job, row: PeriodicJob) -> datetime:
    """When the job is next due, given its last start (or, never run, the row's creation for daily jobs)."""
    if item.at is None:
        if row.last_started is None:
            return EVER  # never run: due now
        every = catalog.interval(item, _overrides())
        return row.last_started + timedelta(seconds=every * (1 - DUE_SLACK))
    base = row.last_started or row.created or timezone.now()
    hour, minute = item.at
    candidate = base.replace(hour=hour, minute=minute, second=0, microsecond=0)
    if candidate <= base:
        candidate += timedelta(days=1)
    return candidate


def _row(name: str) -> PeriodicJob:
    try:
        row, _created = PeriodicJob.objects.get_or_create(name=name)
    except IntegrityError:  # another scheduler created it first
        row = PeriodicJob.objects.get(name=name)
    return row


def _claim(item: catalog.Job, now: datetime, holder: str) -> tuple[PeriodicJob | None, str]:
    row = _row(item.name)
    if row.lease_until is not None and row.lease_until > now:
        return None, f"running elsewhere ({row.holder})"
    due = next_due(item, row)
    if due > now:
        return None, f"not due before {due.isoformat()}"
    won = PeriodicJob.objects.filter(pk=row.pk, runs=row.runs).update(
        runs=row.runs + 1,
        holder=holder[:255],
        lease_until=now + timedelta(seconds=item.lease),
        last_started=now,
    )
    if won != 1:
        return None, "taken by another scheduler"
    row.runs += 1
    return row, ""


def _callable(dotted: str) -> Callable:
    module, _, name = dotted.rpartition(".")
    return getattr(import_module(module), name)


def _finish(row: PeriodicJob, holder: str, *, ok: bool, error: str, seconds: float) -> None:
    PeriodicJob.objects.filter(pk=row.pk, runs=row.runs, holder=holder[:255]).update(
        holder="",
        lease_until=None,
        last_finished=timezone.now(),
        last_ok=ok,
        last_error=error[:10000],
        last_duration=round(seconds, 3),
    )


def _send_to_lab_hosts(item: catalog.Job, came_from: str | None) -> JobRun:
    from xblocks.labs import hosts, tasks  # pylint: disable=import-outside-toplevel

    queue = hosts.lab_queue()
    if came_from == queue:
        log.error(
            "periodic job %s dropped: this worker consumes %s but is not a lab host (set KAFAAT_LAB_HOST_ROLE=1 "
            "on lab hosts only)",
            item.name,
            queue,
        )
        return JobRun(name=item.name, ran=False, ok=False, reason=f"dropped: not a lab host, consuming {queue}")
    tasks.run_periodic_job.apply_async(args=[item.name], queue=queue)
    return JobRun(name=item.name, ran=False, reason=f"sent to {queue}")


def run_job(name: str, *, now: datetime | None = None, came_from: str | None = None) -> JobRun:
    """Run the periodic job ``name`` here if it is due and free; lab jobs off lab hosts go to the lab queue.

    ``came_from`` is the queue the request arrived on (a worker), used to refuse a loop. Errors of the
    job itself are recorded on its row (``last_error``) and logged, never raised.
    """
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    try:
        item = catalog.job(name)
    except KeyError as error:
        log.error("%s", error.args[0])
        return JobRun(name=name, ran=False, ok=False, reason=str(error.args[0]))
    if item.lab and not hosts.lab_host_role():
        return _send_to_lab_hosts(item, came_from)
    holder = holder_name()
    row, reason = _claim(item, now or timezone.now(), holder)
    if row is None:
        log.debug("periodic job %s not run: %s", name, reason)
        return JobRun(name=name, ran=False, reason=reason)
    started = time.monotonic()
    try:
        result = _callable(item.task)()
    except Exception as error:  # one failing job must not stop the others
        seconds = time.monotonic() - started
        log.exception("periodic job %s failed after %.1f s", name, seconds)
        detail = f"{type(error).__name__}: {error}\n{traceback.format_exc(limit=8)}"
        _finish(row, holder, ok=False, error=detail, seconds=seconds)
        return JobRun(name=name, ran=True, ok=False, reason=f"{type(error).__name__}: {error}", seconds=seconds)
    seconds = time.monotonic() - started
    _finish(row, holder, ok=True, error="", seconds=seconds)
    log.info("periodic job %s done in %.2f s", name, seconds)
    return JobRun(name=name, ran=True, seconds=round(seconds, 3), result=_jsonable(result))


def _jsonable(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    return str(value)


def selected(names: Iterable[str] = (), *, lab: bool | None = None) -> list[catalog.Job]:
    """The jobs a loop runs: the named ones (all when none), optionally only lab or only non-lab jobs."""
    wanted = set(names)
    unknown = wanted - {item.name for item in catalog.JOBS}
    if unknown:
        raise KeyError(f"unknown periodic job(s): {', '.join(sorted(unknown))}")
    return [item for item in catalog.JOBS if (not wanted or item.name in wanted) and (lab is None or item.lab == lab)]


class Loop:
    """Runs the selected jobs whenever they are due, until ``stop()``; what ``kafaat_periodic`` runs.

    Lab jobs seen from a process without the lab-host role are sent to the lab queue when due (at
    most once per ``resend`` seconds while nobody has started them yet); the others run here, one
    after the other.
    """

    def __init__(self, jobs: list[catalog.Job], *, tick: float = 5.0, resend: float = 60.0):
        self.jobs = jobs
        self.tick = tick
        self.resend = resend
        self._stop = threading.Event()
        self._sent: dict[str, float] = {}

    def stop(self) -> None:
        self._stop.set()

    def once(self, now: datetime | None = None) -> list[JobRun]:
        """One pass over the jobs: what each did (run, sent, or why not)."""
        from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

        lab_host = hosts.lab_host_role()
        rows = {row.name: row for row in PeriodicJob.objects.filter(name__in=[item.name for item in self.jobs])}
        outcomes = []
        for item in self.jobs:
            now_item = now or timezone.now()
            row = rows.get(item.name)
            if row is not None and (row.lease_until is not None and row.lease_until > now_item):
                continue
            if row is not None and next_due(item, row) > now_item:
                continue
            if item.lab and not lab_host:
                last = self._sent.get(item.name, 0.0)
                if time.monotonic() - last < self.resend:
                    continue
                self._sent[item.name] = time.monotonic()
            outcomes.append(run_job(item.name, now=now))
        return outcomes

    def run(self) -> None:
        log.info("periodic loop: %s", ", ".join(item.name for item in self.jobs))
        while not self._stop.is_set():
            try:
                self.once()
            except Exception:  # the database may be away for a moment
                log.exception("periodic loop: a pass failed; trying again in %.0f s", self.tick)
            self._stop.wait(self.tick)
