"""Needs imported from CSV or XLSX: every row checked, a per-row report, and never a half-imported file.

Columns (header row required, any order): ``employer`` (slug), ``skills`` (catalogue ids separated by
``;``, ``,`` or spaces), ``count``, ``by_date`` (YYYY-MM-DD), ``role_kind`` (internship, work_study,
hire); optional ``note``. In dry-run nothing is written; otherwise any bad row refuses the whole file
and the good rows are written in one transaction. Cells go through ``xblocks.core.cells`` on the way
in (the note is kept neutralised) and on the way out (the report as CSV).

An XLSX file is read from its first sheet, row 1 the header, with the same columns: its parts are
unzipped with a cap on every part's size and parsed by the safe parser (``xblocks.core.xml``), never by
a general spreadsheet library, because a workbook is untrusted XML in a zip. A date cell (a serial
number) in ``by_date`` is read as that date.
"""

from __future__ import annotations

import csv
import datetime
import io
import re
import uuid
import zipfile

from django.db import transaction
from django.utils import timezone

from xblocks.certification import api as cert_api
from xblocks.core import xml
from xblocks.core.cells import csv_cell, neutralise_cell
from xblocks.core.i18n import gettext as _
from xblocks.partnership import models, permissions
from xblocks.partnership.conf import partnership_settings
from xblocks.partnership.data import ImportProblem, ImportReport, RoleKind

REQUIRED = ("employer", "skills", "count", "by_date", "role_kind")
OPTIONAL = ("note",)
MAX_COUNT = 10_000
MAX_NOTE = 2000
_SEPARATORS = re.compile(r"[;,\s]+")


def _role_kind(text: str) -> str | None:
    value = text.strip().lower().replace("-", "_").replace(" ", "_")
    return value if value in set(RoleKind) else None


def _check_row(number: int, row: dict, context: dict) -> tuple[list[ImportProblem], dict | None]:
    problems: list[ImportProblem] = []
    if None in row:
        problems.append(ImportProblem(number, "", _("The row has more cells than the header.")))
    slug = (row.get("employer") or "").strip()
    employer = context["employers"].get(slug)
    if employer is None:
        problems.append(ImportProblem(number, "employer", _("Unknown employer.")))
    elif context["allowed"] is not None and employer not in context["allowed"]:
        problems.append(ImportProblem(number, "employer", _("You may not record needs for this employer.")))
    skill_ids = [item for item in _SEPARATORS.split((row.get("skills") or "").strip()) if item]
    unknown = [item for item in skill_ids if item not in context["skills"]]
    if not skill_ids:
        problems.append(ImportProblem(number, "skills", _("Name at least one skill.")))
    elif unknown:
        problems.append(
            ImportProblem(number, "skills", _("Unknown skill: %(skills)s.") % {"skills": ", ".join(unknown[:5])})
        )
    try:
        count = int((row.get("count") or "").strip())
    except ValueError:
        count = None
        problems.append(ImportProblem(number, "count", _("Count must be a whole number.")))
    else:
        if not 1 <= count <= MAX_COUNT:
            problems.append(
                ImportProblem(number, "count", _("Count must be between 1 and %(max)d.") % {"max": MAX_COUNT})
            )
    try:
        by_date = datetime.date.fromisoformat((row.get("by_date") or "").strip())
    except ValueError:
        by_date = None
        problems.append(ImportProblem(number, "by_date", _("Date must be YYYY-MM-DD.")))
    else:
        if by_date < context["today"]:
            problems.append(ImportProblem(number, "by_date", _("The date is in the past.")))
    role_kind = _role_kind(row.get("role_kind") or "")
    if role_kind is None:
        problems.append(ImportProblem(number, "role_kind", _("Role kind must be internship, work_study or hire.")))
    note = (row.get("note") or "").strip()
    if len(note) > MAX_NOTE:
        problems.append(
            ImportProblem(number, "note", _("The note is longer than %(max)d characters.") % {"max": MAX_NOTE})
        )
    if problems:
        return problems, None
    return [], {
        "employer_id": employer,
        "skills": tuple(sorted(set(skill_ids))),
        "count": count,
        "by_date": by_date,
        "role_kind": role_kind,
        "note": neutralise_cell(note),
    }


def _key(values: dict) -> tuple:
    return (values["employer_id"], values["skills"], values["count"], values["by_date"], values["role_kind"])


def _existing_keys(employer_ids: set[int]) -> set[tuple]:
    skills: dict[int, list[str]] = {}
    for need_id, skill_id in models.Need.skills.through.objects.filter(need__employer_id__in=employer_ids).values_list(
        "need_id", "skill_id"
    ):
        skills.setdefault(need_id, []).append(skill_id)
    return {
        (employer_id, tuple(sorted(skills.get(pk, []))), count, by_date, role_kind)
        for pk, employer_id, count, by_date, role_kind in models.Need.objects.filter(
            employer_id__in=employer_ids
        ).values_list("pk", "employer_id", "count", "by_date", "role_kind")
    }


def _refused(dry_run: bool, reason: str, row: int = 0, column: str = "") -> ImportReport:
    return ImportReport(0, 0, dry_run, (ImportProblem(row, column, reason),))


def import_needs_csv(actor, raw: bytes | str, *, dry_run: bool = True) -> ImportReport:
    """Check (and unless ``dry_run``, record) the needs in a CSV file; PermissionDenied if ``actor`` may record none."""
    permissions.require(actor, permissions.CHANGE_NEEDS)
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    if len(raw) > partnership_settings.PARTNERSHIP_MAX_IMPORT_BYTES:
        return _refused(dry_run, _("The file is too large."))
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        return _refused(dry_run, _("The file is not UTF-8 text (byte %(position)d).") % {"position": error.start})
    reader = csv.DictReader(io.StringIO(text, newline=""))
    header = [name.strip().lower() for name in (reader.fieldnames or [])]
    reader.fieldnames = header
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        return ImportReport(0, 0, dry_run, tuple(ImportProblem(1, name, _("Missing column.")) for name in missing))
    try:
        rows = list(enumerate(reader, start=2))
    except csv.Error as error:
        return _refused(dry_run, _("The file is not valid CSV: %(error)s") % {"error": error})
    return _import_rows(actor, rows, dry_run=dry_run)


XLSX_MAX_PART_BYTES = 16 * 1024 * 1024  # one unzipped part (a sheet, the shared strings)
XLSX_MAX_ROWS = 10_000
_MAIN = "{http://schemas.openxmlformats.org/spreadsheetml/2006/main}"
_CELL_REF = re.compile(r"^([A-Z]{1,3})(\d+)$")


def is_xlsx(raw: bytes) -> bool:
    """Whether ``raw`` looks like an XLSX file (a zip) rather than CSV text."""
    return raw[:4] == b"PK\x03\x04"


def _column_index(letters: str) -> int:
    index = 0
    for letter in letters:
        index = index * 26 + ord(letter) - 64
    return index - 1


def _text(node) -> str:
    return "".join(t.text or "" for t in node.iter(f"{_MAIN}t"))


def _part(archive: zipfile.ZipFile, name: str) -> bytes | None:
    try:
        info = archive.getinfo(name)
    except KeyError:
        return None
    if info.file_size > XLSX_MAX_PART_BYTES:
        raise ValueError(_("The workbook is too large once unpacked."))
    with archive.open(info) as handle:
        data = handle.read(XLSX_MAX_PART_BYTES + 1)
    if len(data) > XLSX_MAX_PART_BYTES:  # the zip's declared size lied
        raise ValueError(_("The workbook is too large once unpacked."))
    return data


def _first_sheet_name(archive: zipfile.ZipFile) -> str:
    """The first sheet's part, from the workbook and its relationships (sheet1.xml when they say nothing)."""
    workbook, rels = _part(archive, "xl/workbook.xml"), _part(archive, "xl/_rels/workbook.xml.rels")
    if workbook is None or rels is None:
        return "xl/worksheets/sheet1.xml"
    sheet = xml.parse(workbook, XLSX_MAX_PART_BYTES).find(f"{_MAIN}sheets/{_MAIN}sheet")
    if sheet is None:
        return "xl/worksheets/sheet1.xml"
    rel_id = sheet.get("{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id")
    for rel in xml.parse(rels, XLSX_MAX_PART_BYTES):
        if rel.get("Id") == rel_id:
            target = rel.get("Target", "").lstrip("/")
            return target if target.startswith("xl/") else f"xl/{target}"
    return "xl/worksheets/sheet1.xml"


def read_xlsx(raw: bytes) -> list[list[str]]:
    """The first sheet's rows as lists of text cells (numbers as written, empty cells ""); ValueError if unreadable."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(raw))
    except zipfile.BadZipFile:
        raise ValueError(_("The file is not a valid XLSX workbook.")) from None
    with archive:
        try:
            shared_part = _part(archive, "xl/sharedStrings.xml")
            shared = (
                [_text(item) for item in xml.parse(shared_part, XLSX_MAX_PART_BYTES).iter(f"{_MAIN}si")]
                if shared_part
                else []
            )
            sheet = _part(archive, _first_sheet_name(archive))
            if sheet is None:
                raise ValueError(_("The file is not a valid XLSX workbook."))
            root = xml.parse(sheet, XLSX_MAX_PART_BYTES)
        except xml.UnsafeXMLError as error:
            raise ValueError(_("The workbook's XML was refused: %(error)s") % {"error": error}) from None
    rows: list[list[str]] = []
    for row in root.iter(f"{_MAIN}row"):
        if len(rows) >= XLSX_MAX_ROWS + 1:
            raise ValueError(_("The workbook has more than %(max)d rows.") % {"max": XLSX_MAX_ROWS})
        number = int(row.get("r") or len(rows) + 1)
        while len(rows) < number - 1:  # rows the sheet leaves out are empty
            rows.append([])
        cells: list[str] = []
        for position, cell in enumerate(row.iter(f"{_MAIN}c")):
            match = _CELL_REF.match(cell.get("r") or "")
            index = _column_index(match.group(1)) if match else position
            if index > 100:
                continue
            kind, value = cell.get("t", "n"), cell.find(f"{_MAIN}v")
            if kind == "inlineStr":
                text = _text(cell)
            elif value is None or value.text is None:
                text = ""
            elif kind == "s":
                try:
                    text = shared[int(value.text)]
                except (ValueError, IndexError):
                    text = ""
            else:
                text = value.text
                if kind == "n" and text.endswith(".0"):
                    text = text[:-2]
            cells.extend([""] * (index + 1 - len(cells)))
            cells[index] = text
        rows.append(cells)
    return rows


def _excel_date(text: str) -> str:
    """A ``by_date`` cell: a serial day number (1900 date system) becomes YYYY-MM-DD; text stays as it is."""
    try:
        serial = float(text)
    except ValueError:
        return text
    if not 1 <= serial < 2_958_466:
        return text
    return (datetime.date(1899, 12, 30) + datetime.timedelta(days=int(serial))).isoformat()


def import_needs_xlsx(actor, raw: bytes, *, dry_run: bool = True) -> ImportReport:
    """The same checks, report and all-or-nothing writing as ``import_needs_csv``, from an XLSX workbook."""
    permissions.require(actor, permissions.CHANGE_NEEDS)
    if len(raw) > partnership_settings.PARTNERSHIP_MAX_IMPORT_BYTES:
        return _refused(dry_run, _("The file is too large."))
    try:
        table = read_xlsx(raw)
    except ValueError as error:
        return _refused(dry_run, str(error))
    header = [cell.strip().lower() for cell in (table[0] if table else [])]
    missing = [name for name in REQUIRED if name not in header]
    if missing:
        return ImportReport(0, 0, dry_run, tuple(ImportProblem(1, name, _("Missing column.")) for name in missing))
    rows = []
    for number, cells in enumerate(table[1:], start=2):
        if not any(cell.strip() for cell in cells):
            continue  # an empty row of a spreadsheet is not a need
        row: dict = {name: (cells[i] if i < len(cells) else "") for i, name in enumerate(header) if name}
        if len(cells) > len(header) and any(cell.strip() for cell in cells[len(header) :]):
            row[None] = cells[len(header) :]
        row["by_date"] = _excel_date(row.get("by_date") or "")
        rows.append((number, row))
    return _import_rows(actor, rows, dry_run=dry_run)


def _import_rows(actor, rows: list[tuple[int, dict]], *, dry_run: bool) -> ImportReport:
    employers = {employer.slug: employer.id for employer in cert_api.list_employers()}
    context = {
        "employers": employers,
        "allowed": permissions.employer_ids_changeable(actor),
        "skills": set(models.Skill.objects.filter(retired=False).values_list("id", flat=True)),
        "today": timezone.localdate(),
    }
    existing = _existing_keys(set(employers.values()))
    problems: list[ImportProblem] = []
    outcomes: list[tuple[int, str]] = []
    valid: list[dict] = []
    seen: dict[tuple, int] = {}
    for number, row in rows:
        row_problems, values = _check_row(number, row, context)
        if values is not None:
            key = _key(values)
            if key in seen:
                row_problems = [ImportProblem(number, "", _("Duplicate of row %(row)d.") % {"row": seen[key]})]
            elif key in existing:
                row_problems = [ImportProblem(number, "", _("This need was already recorded."))]
            else:
                seen[key] = number
                valid.append(values)
        problems.extend(row_problems)
        outcomes.append((number, row_problems[0].reason if row_problems else "ok"))
    imported = 0
    if not dry_run and not problems and valid:
        batch = uuid.uuid4().hex
        with transaction.atomic():
            for values in valid:
                need = models.Need.objects.create(
                    employer_id=values["employer_id"],
                    count=values["count"],
                    by_date=values["by_date"],
                    role_kind=values["role_kind"],
                    note=values["note"],
                    created_by=actor,
                    import_batch=batch,
                )
                need.skills.set(values["skills"])
        imported = len(valid)
    return ImportReport(len(rows), imported, dry_run, tuple(problems), tuple(outcomes))


def report_csv(report: ImportReport) -> str:
    """The per-row report as CSV (line, column, outcome), every cell neutralised."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["line", "column", "outcome"])
    by_row: dict[int, list[ImportProblem]] = {}
    for problem in report.problems:
        by_row.setdefault(problem.row, []).append(problem)
    for problem in by_row.get(0, []) + by_row.get(1, []):
        writer.writerow([csv_cell(problem.row), csv_cell(problem.column), csv_cell(problem.reason)])
    for line, _outcome in report.rows:
        for problem in by_row.get(line, []) or [ImportProblem(line, "", "ok")]:
            writer.writerow([csv_cell(line), csv_cell(problem.column), csv_cell(problem.reason)])
    return out.getvalue()
