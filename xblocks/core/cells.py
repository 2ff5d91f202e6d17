"""Spreadsheet cell values: the formula-injection neutraliser every CSV and XLSX cell passes through.

OWASP CSV Injection and CWE-1236: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return (and NUL, OWASP ASVS 5.0 1.2.10) may run as a formula when an HR officer opens the file.
Such a cell gets a leading single quote. Never a tab: Symfony's serializer prefixed with a tab and
became vulnerable once tab joined the list (CVE-2021-41270). Real numbers stay numeric cells so a
negative figure is not mangled; quoting itself (RFC 4180) is the csv writer's job.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

DANGEROUS_LEADING = frozenset("=+-@\t\r\x00")
# Characters XML 1.0 cannot carry: openpyxl raises on them, so an XLSX cell drops them.
_XML_ILLEGAL = {c: None for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))}
_SILENT_CONTROLS = "".join(chr(c) for c in (*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)))
# First characters that need a closer look; any other text is already safe (the common case, kept fast).
SUSPECT_FIRST = frozenset(DANGEROUS_LEADING) | frozenset(_SILENT_CONTROLS)


def neutralise_cell(value: Any) -> Any:
    """The value safe to put in a spreadsheet cell: numbers and dates unchanged, risky text prefixed."""
    if type(value) is str and (not value or value[0] not in SUSPECT_FIRST):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float, Decimal, dt.date)):
        return value
    text = value if isinstance(value, str) else str(value)
    # Other C0 controls before the payload are dropped by some readers, which would bring the
    # formula to the front: look past them.
    head = text.lstrip(_SILENT_CONTROLS)
    if head and head[0] in DANGEROUS_LEADING or (head != text and not head):
        return "'" + text
    return text


def csv_cell(value: Any) -> Any:
    """A neutralised value as the csv module should write it (dates as ISO 8601 text)."""
    if type(value) is str and (not value or value[0] not in SUSPECT_FIRST):
        return value
    value = neutralise_cell(value)
    if isinstance(value, dt.datetime):
        return value.isoformat().replace("+00:00", "Z")
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def xlsx_cell(value: Any) -> Any:
    """A neutralised value for an openpyxl write-only row: text never becomes a formula.

    openpyxl stores any string of two or more characters starting with ``=`` as a formula; after
    neutralising, no text starts with ``=`` any more. Timezone-aware datetimes are written in UTC
    without tzinfo because the XLSX format has no time zones (the preset names the zone).
    """
    if isinstance(value, str):
        # drop what XML cannot carry first, so the check sees the text the reader will see
        return neutralise_cell(value.translate(_XML_ILLEGAL))
    value = neutralise_cell(value)
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.UTC).replace(tzinfo=None)
    if isinstance(value, Decimal):
        return float(value)
    return value
