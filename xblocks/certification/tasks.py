"""Celery tasks of the certification app: thin, idempotent, JSON arguments, one api call each.

The nightly ones are periodic jobs: ``xblocks.core.periodic`` schedules them. The api queues a task
through ``enqueue``, naming the task object; the api and this module import each other, and neither
uses the other at import time.
"""

from __future__ import annotations

import datetime

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from xblocks.certification import api
from xblocks.certification.conf import cert_settings


@shared_task(acks_late=True)
def evaluate_learner(user_id: int) -> list[str]:
    """Re-evaluate a learner after new evidence and issue what is now earned; see api.evaluate_and_issue."""
    return api.evaluate_and_issue(int(user_id))


@shared_task(acks_late=True)
def heal_lab_evidence(days: float | None = None) -> int:
    """Repair lab evidence from the labs' recorded results of the last ``days`` (default: the heal window)."""
    return api.heal_lab_evidence(since(days))


def since(days: float | None) -> datetime.datetime:
    """The start of a healing window: ``days`` ago, or ``CERT_LAB_HEAL_WINDOW`` seconds ago."""
    seconds = float(days) * 86400 if days is not None else float(cert_settings.CERT_LAB_HEAL_WINDOW)
    return timezone.now() - datetime.timedelta(seconds=seconds)


@shared_task(acks_late=True)
def expire_certificates() -> int:
    """Expire certificates past their validity; see api.expire_certificates."""
    return api.expire_certificates()


@shared_task(acks_late=True)
def send_expiry_reminders() -> int:
    """Send due expiry reminders, each once; see api.send_expiry_reminders."""
    return api.send_expiry_reminders()


@shared_task(acks_late=True)
def process_renewals() -> list[str]:
    """Renew certificates whose window is open and whose renewal requirements are met; see api.process_renewals."""
    return api.process_renewals()


def enqueue(task, *args) -> None:
    """Queue ``task`` (one of this module's task objects) once the current transaction commits, so it sees the rows."""
    transaction.on_commit(lambda: task.delay(*args))
