"""What each preset means to its target, read back from real files: start before completion, a status
change that replaces a row instead of adding one, a revoked certificate that is never a pass; the
Excel CSV that Excel and LibreOffice decode; identifiers kept matchable and checked."""

from __future__ import annotations

import csv
import datetime as dt
import io

import openpyxl
import pytest

from xblocks.certification import api as cert_api
from xblocks.certification.exports import api

pytestmark = [pytest.mark.mariadb]


def _export(user, fmt="csv", **kwargs) -> bytes:
    out = io.BytesIO()
    api.write_export(user, out, format=fmt, employer="acme", **kwargs)
    return out.getvalue()


def _csv(data: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def _revoke(world, username, status="revoked"):
    cert_api.set_certificate_status(world.certificates[username].pk, status, reason="audit", actor=world.staff)


def _cornerstone_time(text: str) -> dt.datetime:
    return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S %z")


# -- Cornerstone -------------------------------------------------------------------------------


def test_cornerstone_start_is_the_enrolment_and_never_after_the_completion(world):
    rows = _csv(_export(world.staff, preset="cornerstone"))
    assert rows
    for row in rows:
        start, completed = _cornerstone_time(row["Start Date/Time"]), _cornerstone_time(row["Completion Date/Time"])
        assert start <= completed, row
        assert not row["Start Date/Time"].endswith("23:59:00 +00:00")


@pytest.mark.parametrize("change", ["revoked", "suspended"])
def test_cornerstone_status_change_updates_the_completed_row_instead_of_adding_one(world, change):
    key = ("User ID", "Start Date/Time", "Transcript Status", "Training Title")
    before = {r["Comments"].split()[0]: r for r in _csv(_export(world.staff, preset="cornerstone"))}
    _revoke(world, "alice", change)
    after_rows = _csv(_export(world.staff, preset="cornerstone"))
    after = {r["Comments"].split()[0]: r for r in after_rows}
    number = world.number("alice")
    # one row per certificate, with the same Edge Import key: the load updates that record
    assert len(after_rows) == len(before)
    assert [after[number][k] for k in key] == [before[number][k] for k in key]
    assert after[number]["Transcript Status"] == "Completed"
    assert "Withdrawn" not in {r["Transcript Status"] for r in after_rows}
    # the record leaves the learner's completed transcript
    assert (before[number]["Archived"], after[number]["Archived"]) == ("false", "true")
    # and comes back on reinstatement (suspension only: revocation is final)
    if change == "suspended":
        _revoke(world, "alice", "active")
        again = {r["Comments"].split()[0]: r for r in _csv(_export(world.staff, preset="cornerstone"))}
        assert again[number]["Archived"] == "false"
        assert [again[number][k] for k in key] == [before[number][k] for k in key]


# -- Workday -----------------------------------------------------------------------------------


def test_workday_rows_are_certification_records_and_revoked_is_a_status_not_a_failure(world):
    _revoke(world, "alice")
    _revoke(world, "dave", "suspended")
    rows = {r["Certification ID"]: r for r in _csv(_export(world.staff, preset="workday"))}
    alice, dave = rows[world.number("alice")], rows[world.number("dave")]
    for row in rows.values():
        assert row["Certification Reference ID"] == "cloud-ops-v1"
        assert row["Issued Date"] and row["Expiration Date"] == "2028-06-30"
        assert row["Certification Number"] == row["Certification ID"]
        assert "fail" not in {v.lower() for v in row.values()}
    assert (alice["Status"], dave["Status"]) == ("Revoked", "Suspended")
    assert alice["Status Date"] >= alice["Issued Date"]
    assert {r["Status"] for k, r in rows.items() if k not in (world.number("alice"), world.number("dave"))} == {
        "Active"
    }


# -- SuccessFactors ----------------------------------------------------------------------------


@pytest.mark.parametrize(("change", "grade"), [("revoked", "Revoked"), ("suspended", "Suspended")])
def test_successfactors_grade_is_not_a_pass_once_revoked_or_suspended(world, change, grade):
    _revoke(world, "alice", change)
    rows = _csv(_export(world.staff, preset="successfactors"))
    by_student = {r["StudentId"]: r for r in rows}
    assert by_student["E-1001"]["Grade"] == grade
    assert by_student["E-2001"]["Grade"] == "Pass"


# -- identifiers -------------------------------------------------------------------------------


def _learner_with_employee_id(world, django_user_model, add_certificate, employee_id, n):
    user = django_user_model.objects.create_user(f"hr{n}", f"hr{n}@example.com", "pw", first_name="Khadija")
    enrollment_id = cert_api.enroll(user, world.cohort_a.id, employee_id=employee_id)
    cert_api.set_consent(enrollment_id, "acme", True)
    return add_certificate(user, enrollment_id, number=f"KF-2026-{90 + n:05d}")


def test_an_employee_id_that_looks_like_arithmetic_is_exported_as_it_is(world, django_user_model, add_certificate):
    _learner_with_employee_id(world, django_user_model, add_certificate, "-1+1", 1)
    for preset, column in (("successfactors", "StudentId"), ("cornerstone", "User ID"), ("workday", "Employee ID")):
        assert "-1+1" in {r[column] for r in _csv(_export(world.staff, preset=preset))}
        sheet = openpyxl.load_workbook(io.BytesIO(_export(world.staff, "xlsx", preset=preset))).active
        header = [c.value for c in sheet[1]]
        values = [row[header.index(column)] for row in sheet.iter_rows(min_row=2)]
        cell = next(c for c in values if c.value == "-1+1")
        assert cell.data_type == "s"  # text, never a formula
    report = api.validate_export(world.staff, preset="workday", employer="acme")
    assert not [p for p in report.problems if "spreadsheet" in p.reason]


def test_an_implausible_employee_id_is_neutralised_and_flagged(world, django_user_model, add_certificate):
    cert = _learner_with_employee_id(world, django_user_model, add_certificate, "=cmd|' /C calc'!A0", 2)
    rows = _csv(_export(world.staff, preset="workday"))
    assert "'=cmd|' /C calc'!A0" in {r["Employee ID"] for r in rows}
    report = api.validate_export(world.staff, preset="workday", employer="acme")
    flagged = [(p.certificate_number, p.header) for p in report.problems if "spreadsheet" in p.reason]
    assert flagged == [(cert.number, "Employee ID")]


# -- CSV for Excel -----------------------------------------------------------------------------


def test_csv_for_excel_has_a_bom_the_region_delimiter_crlf_and_decodes_arabic(world, settings):
    from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel

    alice = get_user_model().objects.get(username="alice")
    alice.first_name, alice.last_name = "خديجة", "العلوي"
    alice.save()
    data = _export(world.staff, "csv-excel", preset="kafaat")
    assert data.startswith(b"\xef\xbb\xbf")
    text = data[3:].decode("utf-8")
    assert "\r\n" in text and "\n" not in text.replace("\r\n", "")
    rows = list(csv.DictReader(io.StringIO(text, newline=""), delimiter=";"))
    names = {r["full_name"] for r in rows}
    assert "خديجة العلوي" in names
    row = next(r for r in rows if r["full_name"] == "خديجة العلوي")
    assert row["total_hours"] == "12,50"  # decimal comma where the list separator is ";"
    assert row["issue_date"].count("-") == 2 and "T" not in row["completion_date"]
    # formula text is still neutralised for the people who open it
    assert all(not v.startswith(("=", "+", "-", "@")) for r in rows for v in r.values() if v)
    # the comma variant for English-speaking regions
    settings.KAFAAT = {**settings.KAFAAT, "EXPORT_EXCEL_CSV_DELIMITER": ","}
    rows = list(csv.DictReader(io.StringIO(_export(world.staff, "csv-excel")[3:].decode(), newline="")))
    assert next(r for r in rows if r["full_name"] == "خديجة العلوي")["total_hours"] == "12.50"


def test_plain_csv_for_hr_imports_stays_utf8_without_a_bom_and_comma_separated(world):
    data = _export(world.staff, preset="kafaat")
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.split(b"\r\n", 1)[0].split(b",")[0] == b"employee_external_id"
