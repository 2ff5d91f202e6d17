"""Celery tasks of the exports app: one api call each, JSON arguments, safe to run twice.

Deliveries, schedules and purges are periodic jobs: ``xblocks.core.periodic`` schedules them. The api
and the handlers queue a task through ``enqueue``, naming the task object.
"""

from __future__ import annotations

from celery import shared_task
from django.db import transaction

from xblocks.certification.exports import api


@shared_task(acks_late=True)
def run_export(export_id: int) -> None:
    """Write the file of a queued export; see api.run_export."""
    api.run_export(export_id)


@shared_task(acks_late=True)
def deliver_endpoint(endpoint_id: int, trigger: str = "manual") -> None:
    """Collect an endpoint's new records and send what is due; see api.deliver_endpoint."""
    api.deliver_endpoint(endpoint_id, trigger=trigger)


@shared_task(acks_late=True)
def send_due_deliveries() -> None:
    """Retry every receipt whose backoff has elapsed; see api.send_due."""
    api.send_due()


@shared_task
def run_scheduled_deliveries() -> None:
    """Queue a delivery for each endpoint whose hourly or daily schedule is due."""
    for endpoint_id in api.scheduled_endpoint_ids():
        deliver_endpoint.delay(endpoint_id, "schedule")  # already in a worker, outside any transaction


@shared_task
def purge_exports() -> None:
    """Delete export files past their retention; see api.purge_exports."""
    api.purge_exports()


def enqueue(task, *args) -> None:
    """Queue ``task`` (one of this module's task objects) once the current transaction commits, so it sees the rows."""
    transaction.on_commit(lambda: task.delay(*args))
