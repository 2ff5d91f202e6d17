"""Column presets: which record fields a target HR import expects, under which headers and formats.

Built-ins follow the reference (``docs/exports.md``): SAP SuccessFactors external learning events
and learning history, Cornerstone Edge Import external training, Workday learning imported records.
A coordinator adjusts one by saving an ``ExportPreset`` row whose columns replace the base's; the
same validation runs on both, and ``compile_preset`` turns a preset into a fast row function.
"""

from __future__ import annotations

import datetime as dt
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from decimal import Decimal
from typing import Any

from xblocks.certification.exports.data import ColumnData, PresetData
from xblocks.certification.exports.records import FIELDS
from xblocks.core.i18n import gettext as _


class PresetError(ValueError):
    """A preset definition that cannot be used; the message names the column."""


def _cornerstone(value: dt.date) -> str:
    # Cornerstone: "DATE HH:MM:SS +/- UTC offset"; a bare date means 23:59:00 UTC to them
    if isinstance(value, dt.datetime):
        value = value.astimezone(dt.UTC) if value.tzinfo else value
        return value.strftime("%Y-%m-%d %H:%M:%S +00:00")
    return value.strftime("%Y-%m-%d 23:59:00 +00:00")


def _epoch_ms(value: dt.date) -> int:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    elif value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return int(value.timestamp() * 1000)


def _iso_datetime(value: dt.date) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.replace(microsecond=0, tzinfo=None).isoformat() + "Z"


def _date(value: dt.date) -> str:
    return (value.date() if isinstance(value, dt.datetime) else value).isoformat()


def _us_date(value: dt.date) -> str:
    return (value.date() if isinstance(value, dt.datetime) else value).strftime("%m/%d/%Y")


def _decimal1(value: Any) -> Decimal:
    return Decimal(value).quantize(Decimal("0.1"))


# Value formats a column may name; each takes a non-empty value.
VALUE_FORMATS: dict[str, Callable[[Any], Any]] = {
    "raw": lambda value: value,
    "date": _date,
    "datetime": _iso_datetime,
    "epoch_ms": _epoch_ms,
    "cornerstone_datetime": _cornerstone,
    "us_date": _us_date,
    "decimal1": _decimal1,
    "text": str,
    "lower": lambda value: str(value).lower(),
}


def _as_date(value: dt.date) -> dt.date:
    return value.date() if isinstance(value, dt.datetime) else value


def _as_utc_datetime(value: dt.date) -> dt.datetime:
    if not isinstance(value, dt.datetime):
        return dt.datetime.combine(value, dt.time())
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.replace(microsecond=0, tzinfo=None)


# For a spreadsheet, date formats give real dates (XLSX date cells) shown with these number formats;
# the text or number a target's import expects is for CSV and JSON. XLSX has no time zones: the
# datetimes are UTC, as the text forms say.
DATE_CELL_FORMATS: dict[str, tuple[Callable[[Any], Any], str]] = {
    "date": (_as_date, "yyyy-mm-dd"),
    "us_date": (_as_date, "mm/dd/yyyy"),
    "datetime": (_as_utc_datetime, "yyyy-mm-dd h:mm:ss"),
    "epoch_ms": (_as_utc_datetime, "yyyy-mm-dd h:mm:ss"),
    "cornerstone_datetime": (_as_utc_datetime, "yyyy-mm-dd h:mm:ss"),
}
_PLACEHOLDER = re.compile(r"\{([a-z_]+)\}")
_MISSING = object()


def _col(header: str, field: str = "", **options: Any) -> ColumnData:
    return ColumnData(header=header, field=field, **options)


BUILTIN: dict[str, PresetData] = {
    preset.slug: preset
    for preset in (
        PresetData(
            slug="kafaat",
            name="Kafaat",
            target="Any HR system (every Kafaat record column)",
            description="All columns of the Kafaat export record, ISO 8601 dates.",
            columns=tuple(
                _col(
                    name,
                    name,
                    format="date"
                    if (name.endswith("_date") or name == "valid_from") and name != "completion_date"
                    else "datetime"
                    if name in {"completion_date", "last_modified"}
                    else "raw",
                )
                for name in FIELDS
            ),
            key=("credential_id",),
        ),
        PresetData(
            slug="successfactors",
            name="SAP SuccessFactors",
            target="SAP SuccessFactors Learning: external learning events (learning history)",
            description="StudentId is the employee id the enrolment carries; completion in epoch milliseconds; "
            "the grade is Pass only while the certificate stands.",
            columns=(
                _col("StudentId", "employee_external_id"),
                _col("Description", "credential_title"),
                _col("CompletionDate", "completion_date", format="epoch_ms"),
                _col("CompletionTimezoneId", "timezone"),
                _col("Grade", "grade"),
                _col("CreditHours", "credit_hours"),
                _col("TotalHours", "total_hours"),
                _col("InstructorName", "instructor"),
                _col("Comments", template="{credential_id} {status} {verification_url}"),
            ),
            key=("StudentId", "Description", "CompletionDate"),
        ),
        PresetData(
            slug="cornerstone",
            name="Cornerstone OnDemand",
            target="Cornerstone Edge Import: external training load",
            description="One Completed row per certificate, keyed by User ID, Start Date/Time, Transcript Status "
            "and Training Title; a suspended or revoked certificate archives that row.",
            columns=(
                _col("User ID", "employee_external_id"),
                _col("Training Title", "credential_title"),
                _col("Start Date/Time", "start_date", format="cornerstone_datetime"),
                # the training was completed whatever became of the certificate: the status stays in the key
                # unchanged, so a later file updates the same record instead of adding a second one
                _col("Transcript Status", constant="Completed"),
                _col("Completion Date/Time", "completion_date", format="cornerstone_datetime"),
                _col(
                    "Archived",
                    "status",
                    value_map={"Active": "false", "Expired": "false", "Suspended": "true", "Revoked": "true"},
                ),
                _col("Training Hours", "total_hours"),
                _col("Credits", "ceu"),
                _col("Provider", "school_org"),
                _col("Training Type", constant="External Training"),
                _col("Comments", template="{credential_id} {status} {verification_url}"),
            ),
            key=("User ID", "Start Date/Time", "Transcript Status", "Training Title"),
        ),
        PresetData(
            slug="workday",
            name="Workday",
            target="Workday Talent: a worker's certifications (Manage Certifications)",
            description="One certification per worker and certificate, keyed by the certificate number: "
            "certification reference, issued and expiration dates, status.",
            columns=(
                _col("Employee ID", "employee_external_id"),
                _col("Certification ID", "credential_id"),
                _col("Certification Reference ID", template="{track_code}-v{track_version}"),
                _col("Certification Name", "credential_title"),
                _col("Issuer", "issuer_org"),
                _col("Certification Number", "credential_id"),
                _col("Issued Date", "issue_date", format="date"),
                _col("Expiration Date", "expiry_date", format="date"),
                _col("Status", "status"),
                _col("Status Date", "last_modified", format="date"),
                _col("Training Hours", "total_hours"),
                _col("School", "school_org"),
                _col("Verification URL", "verification_url"),
            ),
            key=("Employee ID", "Certification ID"),
        ),
    )
}


# Record fields that identify something in the target system: written as they are (a quote would stop
# them matching), checked with ``cells.plausible_identifier`` instead of neutralised.
IDENTIFIER_FIELDS = frozenset(
    {"employee_external_id", "credential_id", "track_code", "track_version", "school_code", "cohort_code"}
)


def identifier_positions(preset: PresetData) -> frozenset[int]:
    """Column positions holding an identifier: a field from ``IDENTIFIER_FIELDS`` or a template of them."""
    positions = set()
    for index, column in enumerate(preset.columns):
        if column.field and column.field in IDENTIFIER_FIELDS and not column.value_map:
            positions.add(index)
        elif column.template and set(_PLACEHOLDER.findall(column.template)) <= IDENTIFIER_FIELDS:
            positions.add(index)
    return frozenset(positions)


def builtin_presets() -> list[PresetData]:
    return list(BUILTIN.values())


def column_from_json(data: Mapping[str, Any], position: int) -> ColumnData:
    """A column from its JSON form, validated; ``PresetError`` names what is wrong."""
    if not isinstance(data, Mapping):
        raise PresetError(_("Column %(n)s is not an object.") % {"n": position})
    unknown = set(data) - {"header", "field", "format", "value_map", "template", "constant"}
    if unknown:
        raise PresetError(
            _("Column %(n)s has unknown keys: %(keys)s.") % {"n": position, "keys": ", ".join(sorted(unknown))}
        )
    header = str(data.get("header") or "").strip()
    if not header:
        raise PresetError(_("Column %(n)s needs a header.") % {"n": position})
    field = str(data.get("field") or "")
    template = str(data.get("template") or "")
    constant = str(data.get("constant") or "")
    fmt = str(data.get("format") or "raw")
    value_map = data.get("value_map") or {}
    if sum(bool(x) for x in (field, template, constant)) != 1:
        raise PresetError(_("Column %(header)s needs exactly one of field, template or constant.") % {"header": header})
    if field and field not in FIELDS:
        raise PresetError(_("Column %(header)s: unknown field %(field)s.") % {"header": header, "field": field})
    for name in _PLACEHOLDER.findall(template):
        if name not in FIELDS:
            raise PresetError(_("Column %(header)s: unknown field %(field)s.") % {"header": header, "field": name})
    if fmt not in VALUE_FORMATS:
        raise PresetError(_("Column %(header)s: unknown format %(format)s.") % {"header": header, "format": fmt})
    if not isinstance(value_map, Mapping) or not all(isinstance(v, str) for v in value_map.values()):
        raise PresetError(_("Column %(header)s: value_map must map text to text.") % {"header": header})
    return ColumnData(
        header=header,
        field=field,
        format=fmt,
        value_map={str(k): v for k, v in value_map.items()},
        template=template,
        constant=constant,
    )


def columns_from_json(items: Iterable[Mapping[str, Any]]) -> tuple[ColumnData, ...]:
    columns = tuple(column_from_json(item, n) for n, item in enumerate(items, start=1))
    if not columns:
        raise PresetError(_("A preset needs at least one column."))
    headers = [c.header for c in columns]
    duplicates = sorted({h for h in headers if headers.count(h) > 1})
    if duplicates:
        raise PresetError(_("Duplicate column headers: %(headers)s.") % {"headers": ", ".join(duplicates)})
    return columns


def _getter(column: ColumnData, typed_dates: bool = False) -> Callable[[Mapping[str, Any]], Any]:
    convert = VALUE_FORMATS[column.format]
    if typed_dates and column.format in DATE_CELL_FORMATS and not column.value_map:
        convert = DATE_CELL_FORMATS[column.format][0]
    mapping = column.value_map
    if column.constant:
        constant = column.constant
        return lambda record: constant
    if column.template:
        template = column.template

        def from_template(record: Mapping[str, Any]) -> str:
            return _PLACEHOLDER.sub(lambda m: _text(record.get(m.group(1))), template)

        return from_template
    name = column.field
    if column.format == "raw" and not mapping:
        return lambda record: record[name]

    seen: dict[Any, Any] = {}

    def convert_field(record: Mapping[str, Any]) -> Any:
        value = record[name]
        if value is None or value == "":
            return ""
        # dates and statuses repeat across a cohort's rows: remember recent conversions (bounded)
        found = seen.get(value, _MISSING)
        if found is _MISSING:
            if len(seen) >= 4096:
                seen.clear()
            found = convert(value)
            found = seen[value] = mapping.get(str(found), found) if mapping else found
        return found

    return convert_field


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, dt.datetime):
        return _iso_datetime(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(value)


def date_cell_formats(preset: PresetData) -> dict[int, str]:
    """Column position -> spreadsheet number format, for the columns ``typed_dates`` turns into dates."""
    return {
        index: DATE_CELL_FORMATS[column.format][1]
        for index, column in enumerate(preset.columns)
        if column.field and column.format in DATE_CELL_FORMATS and not column.value_map
    }


def compile_preset(preset: PresetData, *, typed_dates: bool = False) -> Callable[[Mapping[str, Any]], list[Any]]:
    """A function from a record to the preset's row (values in column order, not yet neutralised).

    Field columns are read with one ``itemgetter``; only columns with a format, a value map, a
    template or a constant get a per-cell step. This runs once per exported row. With
    ``typed_dates`` (XLSX), date columns stay dates and datetimes instead of the target's text.
    """
    names = [column.field or FIELDS[0] for column in preset.columns]
    fetch = operator.itemgetter(*names)
    steps = [
        (index, _getter(column, typed_dates))
        for index, column in enumerate(preset.columns)
        if column.constant or column.template or column.format != "raw" or column.value_map
    ]
    if len(names) == 1:

        def single(record: Mapping[str, Any]) -> list[Any]:
            row = [fetch(record)]
            for index, get in steps:
                row[index] = get(record)
            return row

        return single

    def row_of(record: Mapping[str, Any]) -> list[Any]:
        row = list(fetch(record))
        for index, get in steps:
            row[index] = get(record)
        return row

    return row_of
