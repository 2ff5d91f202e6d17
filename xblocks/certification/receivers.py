"""Signal receivers that turn other apps' and the platform's events into certification evidence."""

from __future__ import annotations

import datetime
import logging

from xblocks.certification import api

log = logging.getLogger(__name__)


def on_lab_result_recorded(
    sender, user, usage_key, score, max_score, passed, course_key="", completed_at=None, **kwargs
):  # pylint: disable=unused-argument
    """``xblocks.labs.signals.lab_result_recorded``: every graded check run of a lab."""
    if user is None or not getattr(user, "pk", None):
        return
    api.record_lab_result(
        user,
        usage_key=str(usage_key),
        course_key=str(course_key or ""),
        score=float(score),
        max_score=float(max_score),
        passed=bool(passed),
        completed_at=completed_at,
    )


def on_persistent_grade_summary_changed(sender=None, grade=None, **kwargs):  # pylint: disable=unused-argument
    """openedx-events ``PERSISTENT_GRADE_SUMMARY_CHANGED``: ``grade`` is ``PersistentCourseGradeData``
    (``user_id``, ``course.course_key``, ``percent_grade``, ``passed_timestamp``, ``course_edited_timestamp``)."""
    if grade is None:
        return
    try:
        course_key = str(grade.course.course_key)
        passed_at = getattr(grade, "passed_timestamp", None)
        at = getattr(grade, "course_edited_timestamp", None) or passed_at
        if isinstance(at, datetime.datetime) and at.tzinfo is None:
            at = at.replace(tzinfo=datetime.UTC)
        api.on_course_grade_changed(
            int(grade.user_id),
            course_key,
            float(grade.percent_grade or 0),
            passed_at is not None,
            at if isinstance(at, datetime.datetime) else None,
        )
    except (AttributeError, TypeError, ValueError):
        log.exception("could not read a PERSISTENT_GRADE_SUMMARY_CHANGED payload")


def on_course_passing_status_updated(sender=None, course_passing_status=None, **kwargs):  # pylint: disable=unused-argument
    """openedx-events ``COURSE_PASSING_STATUS_UPDATED``: ``course_passing_status`` is ``CoursePassingStatusData``
    (``is_passing``, ``course.course_key``, ``user.id``)."""
    if course_passing_status is None:
        return
    try:
        api.on_course_passing_status(
            int(course_passing_status.user.id),
            str(course_passing_status.course.course_key),
            bool(course_passing_status.is_passing),
        )
    except (AttributeError, TypeError, ValueError):
        log.exception("could not read a COURSE_PASSING_STATUS_UPDATED payload")
