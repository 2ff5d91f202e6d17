"""Needs imported from an XLSX workbook: the same dry run, per-row report and all-or-nothing as CSV;
the workbook's XML goes through the safe parser."""

import datetime
import io
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from xblocks.partnership import api, models

pytestmark = pytest.mark.django_db

LATER = timezone.localdate() + datetime.timedelta(days=200)
XLSX_TYPE = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


def _workbook(rows) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    out = io.BytesIO()
    book.save(out)
    return out.getvalue()


GOOD = [
    ["employer", "skills", "count", "by_date", "role_kind", "note"],
    ["insurer", "cybersecurity.log-triage;cybersecurity.linux-hardening", 6, LATER, "hire", "SOC analysts"],
    ["insurer", "cloud.reverse-proxy", 10, LATER.isoformat(), "work-study", None],
]


def test_a_dry_run_of_a_workbook_reports_every_row_and_writes_nothing(partners):
    report = api.import_needs(partners.member, _workbook(GOOD), dry_run=True)
    assert report.ok and report.total_rows == 2 and report.rows == ((2, "ok"), (3, "ok"))
    assert not models.Need.objects.exists()


def test_a_workbook_is_recorded_with_date_cells_read_as_dates(partners):
    report = api.import_needs(partners.member, _workbook(GOOD), dry_run=False)
    assert report.imported == 2
    assert [(n.count, n.by_date, n.role_kind) for n in api.list_needs()] == [
        (6, LATER, "hire"),
        (10, LATER, "work_study"),
    ]


def test_one_bad_row_of_a_workbook_refuses_it_all_with_the_row_named(partners):
    rows = [*GOOD, ["nobody", "cloud.reverse-proxy", "many", "soon", "hire", "=HYPERLINK(1)"]]
    report = api.import_needs(partners.member, _workbook(rows), dry_run=False)
    assert report.imported == 0 and not models.Need.objects.exists()
    assert {(p.row, p.column) for p in report.problems} == {(4, "employer"), (4, "count"), (4, "by_date")}
    assert dict(report.rows)[2] == "ok"


def test_a_workbook_without_a_required_column_is_named(partners):
    report = api.import_needs(partners.member, _workbook([["employer", "skills"], ["insurer", "x"]]))
    assert {p.column for p in report.problems} == {"count", "by_date", "role_kind"}


def _zip(parts: dict[str, bytes]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, data in parts.items():
            archive.writestr(name, data)
    return out.getvalue()


def test_a_workbook_with_an_entity_bomb_or_garbage_is_refused_not_parsed(partners):
    bomb = (
        b'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]>'
        b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
        b'<row r="1"><c r="A1" t="inlineStr"><is><t>&b;</t></is></c></row></sheetData></worksheet>'
    )
    report = api.import_needs(partners.member, _zip({"xl/worksheets/sheet1.xml": bomb}))
    assert not report.ok and "refused" in report.problems[0].reason
    report = api.import_needs(partners.member, b"PK\x03\x04 not really a zip")
    assert not report.ok and "XLSX" in report.problems[0].reason
    assert not models.Need.objects.exists()


def test_the_needs_page_takes_a_workbook(partners, client):
    client.force_login(partners.member)
    upload = SimpleUploadedFile("needs.xlsx", _workbook(GOOD), content_type=XLSX_TYPE)
    html = client.post("/kafaat/partnership/needs/", {"file": upload, "commit": "1"}).content.decode()
    assert "2 rows read, 2 recorded." in html
    assert models.Need.objects.count() == 2


def test_the_import_command_takes_a_workbook(partners, tmp_path, capsys):
    from django.core.management import call_command

    path = tmp_path / "needs.xlsx"
    path.write_bytes(_workbook(GOOD))
    call_command("kafaat_import_needs", str(path), "--as", "member")
    assert "2,,ok" in capsys.readouterr().out
    assert not models.Need.objects.exists()
    call_command("kafaat_import_needs", str(path), "--as", "member", "--commit")
    assert models.Need.objects.count() == 2
