"""Lab hosts: which process may run lab work, the registry hosts heartbeat into, and placement of new sessions.

A lab host is a machine (or privileged container) that can make sandboxes; it runs a Celery worker on
the shared lab queue and on its own queue, plus the terminal gateway (``kafaat_lab_host run``). Each
new session is placed on the live host with the most room; every later operation of the session goes
to that host's queue. With no host registered at all (one machine, a plain worker with the lab-host
role) new sessions go to the shared queue and whichever lab host is free takes them.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.db.models import Count
from django.utils import timezone

from xblocks.core import routing
from xblocks.labs.conf import labs_settings
from xblocks.labs.data import LIVE_STATES, LabHostStatus
from xblocks.labs.models import LabHost, LabSession

log = logging.getLogger(__name__)


class NoLabHost(Exception):
    """Lab hosts are registered but none is alive, accepting and below its capacity."""


def lab_host_role() -> bool:
    """Whether this process may run lab work (``LAB_HOST_ROLE``): lab hosts only, never LMS web processes."""
    return bool(labs_settings.LAB_HOST_ROLE)


def lab_queue() -> str:
    """The queue every lab host consumes (new sessions when no host is registered, reaping)."""
    return str(labs_settings.LAB_QUEUE or routing.DEFAULT_LAB_QUEUE)


def host_queue(host: str) -> str:
    """The queue of one lab host's own work; the shared lab queue when the host is not known yet."""
    return f"{lab_queue()}.{host}" if host else lab_queue()


def _alive_since(now: datetime) -> datetime:
    return now - timedelta(seconds=int(labs_settings.LAB_HOST_DEAD_AFTER))


def heartbeat(
    name: str,
    *,
    capacity: int,
    gateway_url: str = "",
    accepting: bool = True,
    detail: str = "",
    sandboxes: int = 0,
    version: str = "",
    started_at: datetime | None = None,
    now: datetime | None = None,
) -> None:
    """Record that lab host ``name`` is up, what it takes and why it may refuse (one row per host)."""
    if not name:
        raise ValueError("a lab host needs a name (KAFAAT_LAB_HOST)")
    now = now or timezone.now()
    LabHost.objects.update_or_create(
        name=name,
        defaults={
            "queue": host_queue(name),
            "gateway_url": gateway_url or "",
            "capacity": max(0, int(capacity)),
            "sandboxes": max(0, int(sandboxes)),
            "accepting": bool(accepting),
            "detail": (detail or "")[:10000],
            "version": version[:32],
            "started_at": started_at,
            "last_seen": now,
            "stopped_at": None,
        },
    )


def stopped(name: str) -> None:
    """A lab host's service is stopping cleanly: it takes no new sessions from now on."""
    LabHost.objects.filter(name=name).update(accepting=False, stopped_at=timezone.now(), detail="stopped")


def _live_counts(names: list[str]) -> dict[str, int]:
    rows = (
        LabSession.objects.filter(state__in=list(LIVE_STATES), host__in=names)
        .values("host")
        .annotate(count=Count("pk"))
        .order_by()
    )
    return {row["host"]: int(row["count"]) for row in rows}


def _status(row: LabHost, live: int, since: datetime) -> LabHostStatus:
    return LabHostStatus(
        name=row.name,
        queue=row.queue,
        gateway_url=row.gateway_url,
        capacity=row.capacity,
        live_sessions=live,
        sandboxes=row.sandboxes,
        accepting=row.accepting,
        alive=row.stopped_at is None and row.last_seen >= since,
        detail=row.detail,
        last_seen=row.last_seen,
        started_at=row.started_at,
    )


def hosts(now: datetime | None = None) -> list[LabHostStatus]:
    """Every registered lab host with its load now, alive ones first, then by name."""
    since = _alive_since(now or timezone.now())
    rows = list(LabHost.objects.all())
    counts = _live_counts([row.name for row in rows])
    statuses = [_status(row, counts.get(row.name, 0), since) for row in rows]
    return sorted(statuses, key=lambda status: (not status.alive, status.name))


def choices(now: datetime | None = None) -> list[str]:
    """Lab hosts a new session may go to, best first: alive, accepting, below capacity, least loaded.

    ``[""]`` when no lab host is registered at all (the shared lab queue then serves); raises
    ``NoLabHost`` when hosts are registered but none can take a session.
    """
    statuses = hosts(now)
    if not statuses:
        return [""]
    candidates = sorted(
        (status for status in statuses if status.available > 0),
        key=lambda status: (status.live_sessions / max(1, status.capacity), -status.available, status.name),
    )
    if candidates:
        return [candidate.name for candidate in candidates]
    summary = "; ".join(
        f"{s.name}: {'alive' if s.alive else 'dead'}, {'accepting' if s.accepting else 'refusing'}, "
        f"{s.live_sessions}/{s.capacity}{(' (' + s.detail[:200] + ')') if s.detail else ''}"
        for s in statuses
    )
    raise NoLabHost(f"no lab host can take a session: {summary}")


def within_capacity(name: str) -> bool:
    """Inside the transaction that placed a session on ``name``: is the host still within its capacity?

    Locks the host's row first, so concurrent placements on one host are counted one after the other
    (on MariaDB; SQLite serialises writers anyway). The count includes the caller's own new session.
    """
    row = LabHost.objects.select_for_update().filter(name=name).first()
    if row is None:
        return False
    return _live_counts([name]).get(name, 0) <= row.capacity


def place(now: datetime | None = None) -> str:
    """The best lab host for a session now, without holding it ("" for the shared queue)."""
    return choices(now)[0]


def gateway_url(host: str) -> str:
    """The terminal gateway base URL a lab host reported (``""`` when unknown)."""
    if not host:
        return ""
    return LabHost.objects.filter(name=host).values_list("gateway_url", flat=True).first() or ""


def live_host_names(now: datetime | None = None) -> list[str]:
    """Names of the lab hosts heard from recently (the reconciler asks each of them)."""
    since = _alive_since(now or timezone.now())
    return list(
        LabHost.objects.filter(stopped_at=None, last_seen__gte=since).order_by("name").values_list("name", flat=True)
    )
