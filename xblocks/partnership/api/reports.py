"""The committee report for a period: asked for on the reports page, written by a task, downloaded as PDF or XLSX.

Only committee members ask for and download reports (``kafaat.see_committee_reports``,
``kafaat.change_committee_reports``). The task computes the dashboard *as the member who asked*, so
the figures carry exactly the dashboard's suppression, and records its progress on the row; the page
polls it. The period filters cohorts by their start, like the dashboard's ``from`` and ``to``.
"""

from __future__ import annotations

import datetime
import logging

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Q
from django.utils import timezone, translation

from xblocks.core.i18n import gettext as _
from xblocks.partnership import models, permissions, report
from xblocks.partnership.api.dashboard import dashboard
from xblocks.partnership.data import ReportData

log = logging.getLogger(__name__)
Status = models.Report.Status
LANGUAGES = ("en", "fr", "ar")
STALE = datetime.timedelta(minutes=30)
FORMATS = {
    "pdf": ("application/pdf", "pdf"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx"),
}


def _data(row: models.Report) -> ReportData:
    return ReportData(
        row.pk,
        row.start,
        row.end,
        row.language,
        row.status,
        row.progress,
        row.created_at,
        row.status == Status.DONE,
        row.error,
    )


def request_report(actor, start: datetime.date, end: datetime.date, language: str = "en") -> ReportData:
    """Record a committee member's request and queue the task that writes it (checked now, not in the worker)."""
    permissions.require(actor, permissions.CHANGE_REPORTS)
    if start > end:
        raise ValidationError("the period ends before it starts")
    if (end - start).days > 366 * 10:
        raise ValidationError("a period of at most ten years")
    row = models.Report.objects.create(
        requested_by=actor, start=start, end=end, language=language if language in LANGUAGES else "en"
    )
    from xblocks.partnership import tasks  # pylint: disable=import-outside-toplevel  (tasks import the api)

    transaction.on_commit(lambda: tasks.write_report.delay(row.pk))
    return _data(row)


def list_reports(viewer) -> list[ReportData]:
    """The committee's reports, newest first (every member sees the committee's reports: aggregates only)."""
    permissions.require(viewer, permissions.SEE_REPORTS)
    return [_data(row) for row in models.Report.objects.defer("pdf", "xlsx").order_by("-created_at", "-pk")[:50]]


def get_report(viewer, report_id) -> ReportData:
    permissions.require(viewer, permissions.SEE_REPORTS)
    try:
        return _data(models.Report.objects.defer("pdf", "xlsx").get(pk=int(report_id)))
    except (TypeError, ValueError, models.Report.DoesNotExist):
        raise PermissionDenied("no such report") from None


def report_file(viewer, report_id, fmt: str) -> tuple[bytes, str, str]:
    """``(content, content type, file name)`` of a ready report; PermissionDenied otherwise."""
    permissions.require(viewer, permissions.SEE_REPORTS)
    if fmt not in FORMATS:
        raise PermissionDenied("no such format")
    try:
        row = models.Report.objects.get(pk=int(report_id), status=Status.DONE)
    except (TypeError, ValueError, models.Report.DoesNotExist):
        raise PermissionDenied("no such report") from None
    content_type, extension = FORMATS[fmt]
    name = f"committee-report-{row.start.isoformat()}-{row.end.isoformat()}.{extension}"
    return bytes(getattr(row, fmt)), content_type, name


def write_report(report_id: int) -> ReportData:
    """Write a queued report's files, recording progress; safe to run twice (a finished report stays as it is)."""
    now = timezone.now()
    abandoned = Q(status=Status.RUNNING, created_at__lt=now - STALE)
    claimed = models.Report.objects.filter(Q(status=Status.PENDING) | abandoned, pk=report_id).update(
        status=Status.RUNNING, progress=5
    )
    row = models.Report.objects.select_related("requested_by").get(pk=report_id)
    if not claimed:
        return _data(row)

    def progress(percent: int) -> None:
        models.Report.objects.filter(pk=report_id).update(progress=percent)

    try:
        with translation.override(row.language):
            # as the member who asked: the dashboard's scope and suppression, checked again now
            board = dashboard(row.requested_by, group_by="school", start=row.start, end=row.end)
            progress(20)
            title = _("Monitoring committee report")
            period = _("Cohorts starting from %(start)s to %(end)s") % {
                "start": row.start.isoformat(),
                "end": row.end.isoformat(),
            }
            pdf = report.render_pdf(
                board,
                title=title,
                period=period,
                language=row.language,
                progress=lambda p: progress(20 + p // 2),
            )
            progress(75)
            xlsx = report.render_xlsx(board, title=title, period=period)
    except PermissionDenied:
        models.Report.objects.filter(pk=report_id).update(
            status=Status.FAILED,
            error="the member who asked may no longer see the dashboard",
            finished_at=timezone.now(),
        )
        return _data(models.Report.objects.get(pk=report_id))
    except Exception as error:  # a report that cannot be written says so instead of spinning forever
        log.exception("committee report %s failed", report_id)
        models.Report.objects.filter(pk=report_id).update(
            status=Status.FAILED, error=type(error).__name__, finished_at=timezone.now()
        )
        return _data(models.Report.objects.get(pk=report_id))
    models.Report.objects.filter(pk=report_id).update(
        status=Status.DONE, progress=100, pdf=pdf, xlsx=xlsx, finished_at=timezone.now()
    )
    return _data(models.Report.objects.get(pk=report_id))
