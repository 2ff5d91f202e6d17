"""The periodic jobs of every Kafaat app, as data: Celery beat entries and the ``kafaat_periodic`` loop read it.

Model-free and import-light, because Open edX reads it from plugin settings, before apps load.
Each job is one Celery task (a dotted name) run on an interval or a daily time; ``lab`` jobs belong on
lab hosts (the lab queue), the others on ordinary LMS workers. Either way a run goes through
``xblocks.labs.tasks.run_periodic_job``, which holds a lease in the database so that a job never runs
twice at once, even with a beat and several loops scheduling it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from xblocks.core import routing

RUN_TASK = "xblocks.labs.tasks.run_periodic_job"
# edx-platform configures Celery from Django settings without a namespace, so beat reads the
# pre-4.0 name; projects that use ``namespace="CELERY"`` (the demo) read CELERY_BEAT_SCHEDULE.
BEAT_SETTING = "CELERYBEAT_SCHEDULE"


@dataclass(frozen=True)
class Job:
    """One periodic job: its task, when it runs, and where."""

    name: str
    task: str
    every: int = 0  # seconds between runs (0 when ``at`` is set)
    every_setting: str = ""  # KAFAAT setting holding ``every`` (read when the schedule is built)
    at: tuple[int, int] | None = None  # (hour, minute) every day, UTC
    lab: bool = False  # lab work: runs on a lab host (the lab queue)
    lease: int = 15 * 60  # seconds a run may hold the job before another scheduler may start it again
    description: str = ""


JOBS: tuple[Job, ...] = (
    Job(
        "kafaat-labs-reap-sessions",
        "xblocks.labs.tasks.reap_sessions",
        every=10,
        every_setting="REAP_INTERVAL",
        lab=True,
        lease=5 * 60,
        description="time limits, idle timeouts, stalled starts, lost messages",
    ),
    Job(
        "kafaat-labs-reconcile-sessions",
        "xblocks.labs.tasks.reconcile_lab_hosts",
        every=300,
        every_setting="RECONCILE_INTERVAL",
        lab=True,
        lease=5 * 60,
        description="asks every live lab host to compare its sandboxes with the database",
    ),
    Job(
        "kafaat-labs-fill-pools",
        "xblocks.labs.tasks.fill_pools",
        every=10,
        every_setting="WARM_POOL_INTERVAL",
        lab=True,
        lease=5 * 60,
        description="asks every live lab host to top its warm pool up to recent demand (off unless WARM_POOL_SIZE)",
    ),
    Job(
        "kafaat-outbox-deliver",
        "xblocks.labs.tasks.deliver_outbox",
        every=30,
        every_setting="OUTBOX_INTERVAL",
        lease=5 * 60,
        description="delivers outbox messages (lab results to certification) that are due: retries, lost tasks",
    ),
    Job(
        "kafaat-certification-heal-lab-evidence",
        "xblocks.certification.tasks.heal_lab_evidence",
        every=3600,
        every_setting="LAB_HEAL_INTERVAL",
        lease=30 * 60,
        description="re-derives lab evidence from recorded lab results, so a lost message heals",
    ),
    Job(
        "kafaat-terminal-purge-transcripts",
        "xblocks.labs.terminal.tasks.purge_transcripts",
        at=(3, 17),
        description="deletes terminal transcripts past their retention",
    ),
    Job(
        "kafaat-certification-renewals",
        "xblocks.certification.tasks.process_renewals",
        at=(2, 10),
        description="renews certificates whose renewal requirements are met",
    ),
    Job(
        "kafaat-certification-expiry",
        "xblocks.certification.tasks.expire_certificates",
        at=(2, 20),
        description="expires certificates past their validity",
    ),
    Job(
        "kafaat-certification-reminders",
        "xblocks.certification.tasks.send_expiry_reminders",
        at=(2, 30),
        description="sends due expiry reminders",
    ),
    Job(
        "kafaat-exports-send-due",
        "xblocks.certification.exports.tasks.send_due_deliveries",
        every=60,
        description="retries HR deliveries whose backoff has elapsed",
    ),
    Job(
        "kafaat-exports-scheduled",
        "xblocks.certification.exports.tasks.run_scheduled_deliveries",
        every=300,
        description="queues the hourly and daily HR deliveries that are due",
    ),
    Job(
        "kafaat-exports-purge",
        "xblocks.certification.exports.tasks.purge_exports",
        at=(3, 17),
        description="deletes export files past their retention",
    ),
    Job(
        "kafaat-partnership-projections",
        "xblocks.partnership.tasks.refresh_projections",
        at=(2, 40),
        lease=60 * 60,
        description="stores every pipeline learner's projected completion for the committee's coverage",
    ),
)


def job(name: str) -> Job:
    """The job called ``name``; KeyError names the unknown job."""
    for candidate in JOBS:
        if candidate.name == name:
            return candidate
    raise KeyError(f"no Kafaat periodic job named {name!r}")


def _override(name: str, overrides: Mapping[str, Any] | None) -> Any:
    env = os.environ.get(f"KAFAAT_{name}")
    if env is not None:
        return env
    if overrides and name in overrides:
        return overrides[name]
    return None


def interval(item: Job, overrides: Mapping[str, Any] | None = None) -> int:
    """Seconds between runs of an interval job (``KAFAAT_<SETTING>``, then ``overrides``, then the default)."""
    value = _override(item.every_setting, overrides) if item.every_setting else None
    seconds = int(value) if value not in (None, "") else int(item.every)
    if seconds < 1:
        raise ValueError(f"{item.every_setting or item.name}: an interval must be at least 1 second, not {seconds}")
    return seconds


def schedule(item: Job, overrides: Mapping[str, Any] | None = None):
    """The Celery schedule object of a job (a ``timedelta`` interval or a daily ``crontab``)."""
    if item.at is not None:
        from celery.schedules import crontab  # pylint: disable=import-outside-toplevel

        return crontab(hour=item.at[0], minute=item.at[1])
    return timedelta(seconds=interval(item, overrides))


def beat_schedule(overrides: Mapping[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """Celery beat entries for every job: each runs ``run_periodic_job(name)``, lab jobs on the lab queue."""
    entries: dict[str, dict[str, Any]] = {}
    for item in JOBS:
        entry: dict[str, Any] = {"task": RUN_TASK, "schedule": schedule(item, overrides), "args": [item.name]}
        if item.lab:
            entry["options"] = {"queue": routing.lab_queue(overrides)}
        entries[item.name] = entry
    return entries


def add_to_settings(settings: Any) -> None:
    """Plugin-settings step: add the beat entries to the host project's schedule, keeping its own.

    Only ``KAFAAT`` as it stands at this point is consulted (intervals and the lab queue); Open edX's
    derived settings are never evaluated here.
    """
    overrides = getattr(settings, "KAFAAT", None)
    overrides = overrides if isinstance(overrides, Mapping) else None
    existing = getattr(settings, BEAT_SETTING, None)
    merged = dict(existing) if isinstance(existing, Mapping) else {}
    for name, entry in beat_schedule(overrides).items():
        merged.setdefault(name, entry)  # an operator's own entry of the same name wins
    setattr(settings, BEAT_SETTING, merged)
