"""Signal handlers that turn other apps' and the platform's events into certification evidence (see ``connect``)."""

from __future__ import annotations

import datetime
import logging

from xblocks.certification import api, signals
from xblocks.core import compat
from xblocks.labs.signals import lab_result_recorded

log = logging.getLogger(__name__)


def on_lab_result_recorded(
    sender,
    user,
    usage_key,
    score,
    max_score,
    passed,
    course_key="",
    completed_at=None,
    lab_key="",
    recorded_at=None,
    **kwargs,
):
    """``xblocks.labs.signals.lab_result_recorded``: a learner's lab result changed (delivered by the outbox).

    Runs in the outbox's worker, not in the learner's request: the evidence, then the learner's
    evaluation (and any certificate now earned), in the delivery's transaction. An error (a locked
    database) is raised, so the outbox tries again later; both steps are idempotent, so a repeated
    message changes nothing, and a delivery never leaves evidence without its evaluation.
    """
    if user is None or not getattr(user, "pk", None):
        return
    api.record_lab_result(
        user,
        usage_key=str(usage_key),
        lab_key=str(lab_key or ""),
        course_key=str(course_key or ""),
        score=float(score),
        max_score=float(max_score),
        passed=bool(passed),
        completed_at=completed_at,
        recorded_at=recorded_at,
        evaluate_later=False,
    )
    api.evaluate_and_issue(user.pk)


def _event_time(metadata) -> datetime.datetime | None:
    """When the platform says the event happened (``EventsMetadata.time``, aware UTC), or None."""
    at = getattr(metadata, "time", None)
    if not isinstance(at, datetime.datetime):
        return None
    return at if at.tzinfo is not None else at.replace(tzinfo=datetime.UTC)


def on_persistent_grade_summary_changed(sender=None, grade=None, metadata=None, **kwargs):
    """openedx-events ``PERSISTENT_GRADE_SUMMARY_CHANGED``: ``grade`` is ``PersistentCourseGradeData``.

    The evidence is dated by the event (``metadata.time``): ``course_edited_timestamp`` is when the
    course was last published, which says nothing about when the learner earned the grade.
    """
    if grade is None:
        return
    try:
        api.receive_course_grade(
            int(grade.user_id),
            str(grade.course.course_key),
            float(grade.percent_grade or 0),
            getattr(grade, "passed_timestamp", None) is not None,
            _event_time(metadata),
        )
    except (AttributeError, TypeError, ValueError):
        log.exception("could not read a PERSISTENT_GRADE_SUMMARY_CHANGED payload")


def on_course_passing_status_updated(sender=None, course_passing_status=None, metadata=None, **kwargs):
    """openedx-events ``COURSE_PASSING_STATUS_UPDATED`` (``CoursePassingStatusData``) and
    ``CCX_COURSE_PASSING_STATUS_UPDATED`` (``CcxCoursePassingStatusData``, whose course is a CCX: the
    evidence is the CCX's own, under its ``ccx-v1:`` key, since a coach may change what the CCX asks)."""
    if course_passing_status is None:
        return
    try:
        course = course_passing_status.course
        key = getattr(course, "ccx_course_key", None) or course.course_key
        api.receive_course_passing_status(
            int(course_passing_status.user.id),
            str(key),
            bool(course_passing_status.is_passing),
            _event_time(metadata),
        )
    except (AttributeError, TypeError, ValueError):
        log.exception("could not read a course passing status payload")


def on_course_grade_received(sender, user_id, course_key, percent, passed, at=None, **kwargs):
    """A platform course grade delivered by the outbox: course-grade evidence (idempotent; raises to be retried)."""
    api.on_course_grade_changed(int(user_id), str(course_key), float(percent), bool(passed), at)


def on_course_passing_status_received(sender, user_id, course_key, is_passing, at=None, **kwargs):
    """A platform passing status delivered by the outbox: completion evidence (idempotent; raises to be retried)."""
    api.on_course_passing_status(int(user_id), str(course_key), bool(is_passing), at)


def connect() -> None:
    """Connect every handler of this app (``CertificationConfig.ready``)."""
    lab_result_recorded.connect(on_lab_result_recorded, dispatch_uid="kafaat_certification_lab_result")
    signals.course_grade_received.connect(on_course_grade_received, dispatch_uid="kafaat_certification_grade")
    signals.course_passing_status_received.connect(
        on_course_passing_status_received, dispatch_uid="kafaat_certification_passing"
    )
    compat.connect_platform_learning_events(on_persistent_grade_summary_changed, on_course_passing_status_updated)
