"""Signals the certification app sends; the credentials and exports apps listen (and certification, for the platform's).

``certificate_issued``: ``certificate_id`` (int), ``number`` (str).
``certificate_status_changed``: ``certificate_id`` (int), ``number`` (str), ``status`` (str: active,
suspended, revoked, expired), ``previous`` (str), ``reason`` (str).

Both travel through the outbox (``xblocks.core.outbox``): written in the transaction that issues or
changes the certificate, delivered afterwards by a worker, and again after a receiver raised (one
message per issue and per status change). A receiver must therefore be idempotent, may see a later
change before an earlier one that had to be retried, and raises to have the message tried again.

``course_grade_received`` and ``course_passing_status_received`` hold the platform's openedx-events
(grade summary, passing status) in the outbox: the platform's receivers only write the message, in the
platform's transaction, and certification records the evidence when it is delivered. Arguments:
``user_id`` (int), ``course_key`` (str), ``percent`` (float) and ``passed`` (bool), or ``is_passing``
(bool); ``at`` (aware datetime or None: when the platform says the event happened).
"""

from __future__ import annotations

import datetime
from collections.abc import Mapping
from typing import Any

from django.dispatch import Signal

from xblocks.core import outbox

CERTIFICATE_ISSUED_TOPIC = "certification.certificate_issued"
CERTIFICATE_STATUS_TOPIC = "certification.certificate_status_changed"
COURSE_GRADE_TOPIC = "certification.course_grade_received"
COURSE_PASSING_TOPIC = "certification.course_passing_status_received"


def _dated(payload: Mapping[str, Any]) -> dict[str, Any]:
    """The stored payload with its ``at`` (ISO 8601 or None) as a datetime again."""
    kwargs = dict(payload)
    kwargs["at"] = datetime.datetime.fromisoformat(kwargs["at"]) if kwargs.get("at") else None
    return kwargs


certificate_issued = outbox.topic(CERTIFICATE_ISSUED_TOPIC, Signal())
certificate_status_changed = outbox.topic(CERTIFICATE_STATUS_TOPIC, Signal())
course_grade_received = outbox.topic(COURSE_GRADE_TOPIC, Signal(), _dated)
course_passing_status_received = outbox.topic(COURSE_PASSING_TOPIC, Signal(), _dated)
