"""File formats of an export, each written row by row to a binary stream in constant memory.

CSV goes through ``csv.writer`` on the stream, XLSX through openpyxl's write-only mode (rows go to a
temporary file, the zip is assembled at the end), JSON Lines and the xAPI statement array are written
one object at a time, and the Open Badges bundle is a zip whose members are added one by one (its
index is spooled to a temporary file, not kept in memory). Every text cell of CSV and XLSX passes
through ``cells``; the JSON formats carry values as typed JSON.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import tempfile
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import IO, Any

from xblocks.certification.exports.conf import exports_settings
from xblocks.certification.exports.data import ExportFormat, PresetData
from xblocks.certification.exports.presets import compile_preset, date_cell_formats, identifier_positions
from xblocks.certification.exports.records import RecordBuilder
from xblocks.core.cells import SUSPECT_FIRST, csv_cell, plausible_identifier, xlsx_cell

Progress = Callable[[int], None]
# The number formats openpyxl gives a date and a datetime by itself.
_OPENPYXL_DATE_FORMATS = frozenset({"yyyy-mm-dd", "yyyy-mm-dd h:mm:ss"})
_NUMBERS = (int, float, Decimal)  # exact types only: bool is an int subclass and goes through csv_cell


@dataclass(frozen=True)
class FormatInfo:
    content_type: str
    extension: str
    uses_preset: bool


FORMATS: dict[str, FormatInfo] = {
    ExportFormat.CSV: FormatInfo("text/csv; charset=utf-8", "csv", True),
    ExportFormat.CSV_EXCEL: FormatInfo("text/csv; charset=utf-8", "csv", True),
    ExportFormat.XLSX: FormatInfo("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "xlsx", True),
    ExportFormat.JSONL: FormatInfo("application/x-ndjson", "jsonl", True),
    ExportFormat.OB_BUNDLE: FormatInfo("application/zip", "zip", False),
    ExportFormat.XAPI: FormatInfo("application/json", "json", False),
}


class CountingWriter(io.RawIOBase):
    """A binary stream that counts the bytes passed on to another stream."""

    def __init__(self, target: IO[bytes]):
        super().__init__()
        self.target = target
        self.count = 0

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:  # type: ignore[override]
        written = self.target.write(data)
        size = len(data) if written is None else written
        self.count += size
        return size

    def flush(self) -> None:
        self.target.flush()


def json_value(value: Any) -> Any:
    """JSON's view of a record value: dates as ISO 8601 text, decimals as numbers."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.UTC).replace(tzinfo=None)
        return value.isoformat() + "Z"
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    return value


def _json_default(value: Any) -> Any:
    converted = json_value(value)
    if converted is value:
        raise TypeError(f"not JSON serialisable: {type(value).__name__}")
    return converted


def dumps(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_json_default, sort_keys=False)


def preset_rows(
    certificates: Iterable[Any], preset: PresetData, builder: RecordBuilder | None = None, *, typed_dates: bool = False
) -> Iterator[list[Any]]:
    """The preset's row for each certificate, values typed but not yet neutralised."""
    builder = builder or RecordBuilder()
    row_of = compile_preset(preset, typed_dates=typed_dates)
    build = builder.build
    for cert in certificates:
        yield row_of(build(cert))


def write_csv(certificates: Iterable[Any], out: IO[bytes], *, preset: PresetData, progress: Progress) -> int:
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)
    try:
        # QUOTE_MINIMAL plus the neutraliser covers RFC 4180 §2.6-2.7: quotes are doubled, fields
        # holding commas, quotes or line breaks are wrapped
        writer = csv.writer(text, lineterminator="\r\n")
        writer.writerow([csv_cell(h) for h in preset.headers])
        rows = 0
        suspect = SUSPECT_FIRST
        identifiers = sorted(identifier_positions(preset))
        for row in preset_rows(certificates, preset):
            # plain text that cannot start a formula skips the call: this loop is the export's hot path
            cells = [
                v if ((t := type(v)) is str and (not v or v[0] not in suspect)) or t in _NUMBERS else csv_cell(v)
                for v in row
            ]
            # identifiers go out as they are when plausible (a quote would stop them matching in HR);
            # only one the neutraliser changed needs a look
            for index in identifiers:
                if cells[index] is not row[index] and plausible_identifier(row[index]):
                    cells[index] = row[index]
            writer.writerow(cells)
            rows += 1
            progress(rows)
        text.flush()
    finally:
        text.detach()
    return rows


def write_csv_excel(certificates: Iterable[Any], out: IO[bytes], *, preset: PresetData, progress: Progress) -> int:
    """CSV for people: what Excel and LibreOffice open right with a double click.

    A UTF-8 byte-order mark (without it both read the file in the legacy code page, and Arabic or
    accented names turn to mojibake), the region's list separator (``EXPORT_EXCEL_CSV_DELIMITER``)
    with the matching decimal mark, CRLF line ends, dates as ``yyyy-mm-dd`` (``hh:mm:ss`` in UTC)
    which both recognise as dates. Every text cell is neutralised, identifiers too: this file is
    read, not imported (use ``csv`` for an HR import).
    """
    delimiter = str(exports_settings.EXPORT_EXCEL_CSV_DELIMITER or ";")[:1]
    decimal_comma = delimiter == ";"
    out.write(b"\xef\xbb\xbf")
    text = io.TextIOWrapper(out, encoding="utf-8", newline="", write_through=False)

    def cell(value: Any) -> Any:
        if isinstance(value, dt.datetime):
            if value.tzinfo is not None:
                value = value.astimezone(dt.UTC).replace(tzinfo=None)
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, dt.date):
            return value.isoformat()
        if isinstance(value, (float, Decimal)) and decimal_comma:
            return str(value).replace(".", ",")
        return csv_cell(value)

    try:
        writer = csv.writer(text, delimiter=delimiter, lineterminator="\r\n")
        writer.writerow([csv_cell(h) for h in preset.headers])
        rows = 0
        for row in preset_rows(certificates, preset, typed_dates=True):
            writer.writerow([cell(v) for v in row])
            rows += 1
            progress(rows)
        text.flush()
    finally:
        text.detach()
    return rows


def write_xlsx(certificates: Iterable[Any], out: IO[bytes], *, preset: PresetData, progress: Progress) -> int:
    from openpyxl import Workbook  # pylint: disable=import-outside-toplevel
    from openpyxl.cell import WriteOnlyCell  # pylint: disable=import-outside-toplevel

    workbook = Workbook(write_only=True)
    sheet = workbook.create_sheet(title=preset.name[:31] or "Export")
    sheet.append([xlsx_cell(h) for h in preset.headers])
    rows = 0
    # date columns come as dates (not the target's text), shown with the preset's number format
    custom_formats = {i: f for i, f in date_cell_formats(preset).items() if f not in _OPENPYXL_DATE_FORMATS}
    identifiers = identifier_positions(preset)
    suspect = SUSPECT_FIRST
    for row in preset_rows(certificates, preset, typed_dates=True):
        cells = []
        for index, value in enumerate(row):
            if (
                (t := type(value)) is str
                and (not value or value[0] not in suspect and value.isprintable())
                or (t in _NUMBERS)
            ):
                # safe printable text as it is (openpyxl only stores "=..." as a formula; a control
                # character anywhere takes the slow path, which drops what XML cannot carry)
                cells.append(float(value) if t is Decimal else value)
                continue
            # a text cell never becomes a formula (openpyxl only makes "=..." one, which no plausible
            # identifier starts with), so a plausible identifier is written as it is
            if index not in identifiers or not plausible_identifier(value):
                value = xlsx_cell(value)
            if isinstance(value, (dt.datetime, dt.date)) and index in custom_formats:
                # openpyxl gives a bare date or datetime its ISO number format itself (cheaper than a
                # styled cell); only another format (mm/dd/yyyy) needs one
                cell = WriteOnlyCell(sheet, value=value)
                cell.number_format = custom_formats[index]
                cells.append(cell)
            else:
                cells.append(value)
        sheet.append(cells)
        rows += 1
        progress(rows)
    workbook.save(out)
    return rows


def write_jsonl(certificates: Iterable[Any], out: IO[bytes], *, preset: PresetData, progress: Progress) -> int:
    headers = preset.headers
    rows = 0
    for row in preset_rows(certificates, preset):
        out.write(dumps(dict(zip(headers, row, strict=True))).encode() + b"\n")
        rows += 1
        progress(rows)
    return rows


def write_ob_bundle(
    certificates: Iterable[Any],
    out: IO[bytes],
    *,
    credential_of: Callable[[Any], dict],
    progress: Progress,
) -> int:
    """A zip of Open Badges 3.0 credentials, one JSON file each, plus ``index.jsonl``."""
    rows = 0
    with tempfile.TemporaryFile() as index, zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as bundle:
        for cert in certificates:
            name = f"credentials/{safe_name(cert.number)}.json"
            credential = credential_of(cert)
            with bundle.open(name, "w") as member:
                member.write(json.dumps(credential, ensure_ascii=False, indent=2, default=_json_default).encode())
            index.write(
                dumps(
                    {"number": cert.number, "file": name, "status": cert.status, "credential_id": credential.get("id")}
                ).encode()
                + b"\n"
            )
            rows += 1
            progress(rows)
        index.seek(0)
        with bundle.open("index.jsonl", "w") as member:
            while chunk := index.read(1 << 16):
                member.write(chunk)
    return rows


def write_xapi(
    certificates: Iterable[Any],
    out: IO[bytes],
    *,
    statements_of: Callable[[Any], Iterable[dict]],
    progress: Progress,
) -> int:
    """A JSON array of xAPI statements (the body an LRS accepts on POST /statements)."""
    out.write(b"[")
    first = True
    rows = 0
    for cert in certificates:
        for statement in statements_of(cert):
            out.write((b"\n" if first else b",\n") + dumps(statement).encode())
            first = False
        rows += 1
        progress(rows)
    out.write(b"\n]\n")
    return rows


def safe_name(number: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "_" for c in number).lstrip(".") or "certificate"


def write_sheets(sheets: Iterable[tuple[str, list[Any], Iterable[Iterable[Any]]]], out: IO[bytes]) -> int:
    """A workbook of plain tables (``(title, headers, rows)`` per sheet) with the exports' cell rules:
    write-only, every text cell neutralised (``xlsx_cell``), numbers and dates typed. Returns the rows written.

    Lent to other apps' reports (the committee's) through the exports api.
    """
    from openpyxl import Workbook  # pylint: disable=import-outside-toplevel

    workbook = Workbook(write_only=True)
    rows = 0
    for title, headers, body in sheets:
        name = "".join(" " if char in "[]:*?/\\" else char for char in str(title))[:31].strip() or "Sheet"
        sheet = workbook.create_sheet(title=name)
        sheet.append([xlsx_cell(h) for h in headers])
        for row in body:
            sheet.append([value if type(value) in (int, float) else xlsx_cell(value) for value in row])
            rows += 1
    workbook.save(out)
    return rows
