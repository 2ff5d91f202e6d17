"""The committee report: asked by a member, written by the task (eager in tests), PDF and XLSX, suppressed."""

import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

pytestmark = pytest.mark.django_db

START, END = datetime.date(2025, 1, 1), datetime.date(2026, 12, 31)


def _workbook_text(content: bytes) -> str:
    from openpyxl import load_workbook

    book = load_workbook(io.BytesIO(content), read_only=True)
    return "\n".join(
        " | ".join("" if cell is None else str(cell) for cell in row)
        for sheet in book.worksheets
        for row in sheet.iter_rows(values_only=True)
    )


def test_a_member_asks_and_the_task_writes_both_files_with_small_counts_suppressed(
    employers, django_capture_on_commit_callbacks
):
    from xblocks.partnership import api

    with django_capture_on_commit_callbacks(execute=True):
        asked = api.request_report(employers.member, START, END, "en")
    report = api.get_report(employers.member, asked.id)
    assert report.ready and report.progress == 100
    pdf, content_type, name = api.report_file(employers.member, asked.id, "pdf")
    assert pdf.startswith(b"%PDF") and content_type == "application/pdf" and name.endswith(".pdf")
    xlsx, _type, _name = api.report_file(employers.member, asked.id, "xlsx")
    text = _workbook_text(xlsx)
    assert "School A" in text and "< 5" in text and "Amina" not in text
    # the indicators added since: hours, renewals and expiries, the funnel, coverage by month, outcomes by school
    for heading in ("Median hours at school per learner", "Expiring within 90 days", "Share of enrolled"):
        assert heading in text
    from openpyxl import load_workbook

    sheets = load_workbook(io.BytesIO(xlsx), read_only=True).sheetnames
    assert "Offers and placements by school" in sheets and "Offers and placements by domain" in sheets
    # another member of the committee downloads it too; nobody else does
    assert api.report_file(employers.observer, asked.id, "pdf")[0] == pdf
    for who in (employers.staff, employers.coordinator_a, employers.hr, employers.learner("amina_a")):
        with pytest.raises(PermissionDenied):
            api.report_file(who, asked.id, "pdf")
        with pytest.raises(PermissionDenied):
            api.request_report(who, START, END)


def test_a_report_in_arabic_and_a_bad_period(employers, django_capture_on_commit_callbacks):
    from xblocks.partnership import api

    with django_capture_on_commit_callbacks(execute=True):
        asked = api.request_report(employers.member, START, END, "ar")
    assert api.get_report(employers.member, asked.id).ready
    assert api.report_file(employers.member, asked.id, "pdf")[0].startswith(b"%PDF")
    with pytest.raises(ValidationError):
        api.request_report(employers.member, END, START)
    with pytest.raises(PermissionDenied):
        api.report_file(employers.member, asked.id, "docx")


def test_a_member_removed_before_the_task_runs_gets_a_failed_report(employers, django_capture_on_commit_callbacks):
    from xblocks.partnership import api, models

    asked = api.request_report(employers.member, START, END)  # the task is not run: no commit callbacks
    models.CommitteeMember.objects.filter(user=employers.member).delete()
    assert api.write_report(asked.id).status == "failed"
