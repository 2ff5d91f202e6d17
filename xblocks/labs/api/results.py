"""Learners' current lab results: what the outbox announces to certification, and what its healing re-reads."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

from xblocks.labs import grading
from xblocks.labs.api.outbox import publish
from xblocks.labs.api.status import _latest_row, _rendered
from xblocks.labs.data import LabResult
from xblocks.labs.models import LabSession
from xblocks.labs.signals import LAB_RESULT_TOPIC


def _lab_result(row: LabSession, definition) -> LabResult:
    return LabResult(
        user_id=row.user_id,
        course_key=row.course_key or "",
        usage_key=row.usage_key,
        lab_key=definition.lab_key or "",
        score=float(row.best_score),
        max_score=float(definition.max_score),
        passed=grading.lab_completed(definition, row.progress or {}),
        completed_at=row.completed_at,
        recorded_at=row.result_at or row.completed_at or row.created,
    )


def _publish_result(row: LabSession, definition) -> None:
    """Inside the transaction that changed the learner's result: the outbox message for certification."""
    publish(LAB_RESULT_TOPIC, f"{row.user_id}:{row.usage_key}", _lab_result(row, definition).as_json())


def lab_results(since: datetime | None = None) -> Iterator[LabResult]:
    """Every learner's current result in every lab block whose result changed since ``since`` (all when None).

    One result per learner and block, read from their latest session (which carries the progress of
    the ones before), so a receiver that missed a message can catch up from it.
    """
    changed = LabSession.objects.filter(result_at__isnull=False)
    if since is not None:
        changed = changed.filter(result_at__gte=since)
    pairs = changed.values_list("user_id", "usage_key").distinct().order_by("user_id", "usage_key")
    for user_id, usage_key in pairs.iterator():
        row = _latest_row(user_id, usage_key)
        if row is not None:
            yield _lab_result(row, _rendered(row))
