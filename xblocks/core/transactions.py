"""Transactions that a database may end to break a deadlock, run again.

InnoDB (MariaDB, MySQL) detects a deadlock between concurrent transactions and rolls one of them back
with error 1213, "try restarting transaction"; a lock wait past ``innodb_lock_wait_timeout`` ends with
1205. Both leave nothing done, so a short transaction that is safe to run again (it reads what it
decides from inside itself) is retried instead of failing a learner's request.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from django.db import OperationalError, transaction

log = logging.getLogger(__name__)

RETRIED_CODES = {1213, 1205}  # ER_LOCK_DEADLOCK, ER_LOCK_WAIT_TIMEOUT
T = TypeVar("T")


def _retryable(error: OperationalError) -> bool:
    code = error.args[0] if error.args else None
    return code in RETRIED_CODES


def atomic_with_retries(work: Callable[[], T], *, attempts: int = 4, what: str = "transaction") -> T:
    """Run ``work`` in one transaction; run it again (up to ``attempts`` times) when the database
    rolled it back to break a deadlock or a lock wait. Inside an outer transaction it runs once: the
    outer one is the unit a retry would have to repeat."""
    if transaction.get_connection().in_atomic_block:
        with transaction.atomic():
            return work()
    for attempt in range(1, attempts + 1):
        try:
            with transaction.atomic():
                return work()
        except OperationalError as error:
            if not _retryable(error) or attempt == attempts:
                raise
            log.warning("%s rolled back by the database (%s); attempt %s of %s", what, error.args, attempt, attempts)
            time.sleep(random.uniform(0.005, 0.05) * attempt)  # noqa: S311  jitter, not security
    raise AssertionError("unreachable")
