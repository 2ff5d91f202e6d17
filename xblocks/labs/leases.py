"""Leases on work a worker process holds: a start being provisioned, a check run being run.

A process that holds a row keeps moving its ``held_until`` forward from a small thread; a process
that dies (SIGKILL, out of memory, a pool child lost) stops doing so, and the reaper takes the row
over once the lease has run out: a start is retried or failed with a message, a check run is ended
and its attempt given back. So a dead process holds a learner's work for at most
``WORKER_LOST_TIMEOUT`` seconds (half of it the lease, the rest the reaper's interval), however long
the work itself is allowed to take.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta

from django.db import close_old_connections, connection
from django.db.models import QuerySet
from django.utils import timezone

from xblocks.labs.conf import labs_settings

log = logging.getLogger(__name__)


def lease_seconds() -> float:
    """How long one renewal holds a row: half the bound, so the reaper has the other half to act."""
    return max(1.0, float(labs_settings.WORKER_LOST_TIMEOUT) / 2)


def lease_until(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(seconds=lease_seconds())


@contextlib.contextmanager
def held(rows: QuerySet) -> Iterator[None]:
    """Renew ``held_until`` of ``rows`` (a queryset naming the row in the state it is held in) until the block ends.

    The queryset carries the state (and attempt) it was claimed in, so a row that moved on (recorded,
    taken over by the reaper) is no longer renewed. Renewals that fail (a locked SQLite database) are
    logged and tried again at the next tick; only a process that stops renewing for a whole lease
    loses the row.
    """
    stop = threading.Event()
    every = lease_seconds() / 3

    def renew() -> None:
        try:
            while not stop.wait(every):
                try:
                    if not rows.update(held_until=lease_until()):
                        return  # moved on: nothing left to hold
                except Exception:
                    log.warning("could not renew the lease of %s; trying again", rows.model.__name__, exc_info=True)
        finally:
            close_old_connections()
            connection.close()

    thread = threading.Thread(target=renew, name="kafaat-lease", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=5)
