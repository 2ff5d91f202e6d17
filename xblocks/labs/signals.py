"""Signals the labs app sends; the certification app listens (so labs never imports certification).

``lab_result_recorded`` announces a learner's current result in a lab block each time a graded check
or flag run, a hint or a solution changes it. It travels through the outbox (``xblocks.core.outbox``,
topic ``labs.lab_result_recorded``): written in the transaction that records the result, sent later
by a worker, again after a receiver raised, so a receiver must be idempotent and may raise to be
retried. Keyword arguments: ``user`` (Django user), ``course_key`` (str, '' outside a course),
``usage_key`` (str), ``lab_key`` (str: the lab's stable key from its OLX, '' when it has none and the
usage key's block id stands in), ``score`` (float, points earned), ``max_score`` (float), ``passed``
(bool: every step passed), ``completed_at`` (aware datetime or None), ``recorded_at`` (aware datetime:
when this result was recorded; with ``completed_at`` it orders results, the latest one winning).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.dispatch import Signal

from xblocks.core import outbox
from xblocks.labs.data import LabResult

LAB_RESULT_TOPIC = "labs.lab_result_recorded"


def _lab_result_kwargs(payload: Mapping[str, Any]) -> dict[str, Any] | None:
    """The signal's arguments from a stored ``LabResult``; None when the learner no longer exists."""
    from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel

    result = LabResult.from_json(dict(payload))
    user = get_user_model().objects.filter(pk=result.user_id).first()
    if user is None:
        return None
    return {
        "user": user,
        "course_key": result.course_key,
        "usage_key": result.usage_key,
        "lab_key": result.lab_key,
        "score": result.score,
        "max_score": result.max_score,
        "passed": result.passed,
        "completed_at": result.completed_at,
        "recorded_at": result.recorded_at,
    }


lab_result_recorded = outbox.topic(LAB_RESULT_TOPIC, Signal(), _lab_result_kwargs)
