"""Spreadsheet cell values: the one formula-injection neutraliser of the package, and identifier checks.

OWASP CSV Injection and CWE-1236: a text cell starting with ``=``, ``+``, ``-``, ``@``, tab or carriage
return (and NUL, OWASP ASVS 5.0 1.2.10) may run as a formula when an HR officer opens the file; ``|``
(a DDE call) and ``%`` (read as a formula prefix by some spreadsheet imports) are refused too, since
free text loses nothing by a leading quote. Invisible C0 controls before any of these are looked
through, since some readers drop them. Such a cell gets a leading single quote. Never a tab:
Symfony's serializer prefixed with a tab and became vulnerable once tab joined the list
(CVE-2021-41270). Real numbers stay numeric cells so a negative figure is not mangled; quoting itself
(RFC 4180) is the csv writer's job.

Identifiers (employee ids, certificate numbers, codes) are not neutralised: a quote would stop
``-1+1`` from matching the HR system's user. They are checked instead (``plausible_identifier``):
letters, digits and ``- _ . : / + # @`` only, no formula-capable character (no ``=``, parentheses,
``|``, ``!``, quotes, spaces or controls), so an identifier can at worst read as arithmetic, never
as a function or DDE call. An implausible one is neutralised like text and flagged by the caller.

The roster CSV, the employers' bulk answers, the exports and the hours import all use this module.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal
from typing import Any

DANGEROUS_LEADING = frozenset("=+-@|%\t\r\n\x00")
# Characters XML 1.0 cannot carry: openpyxl raises on them, so an XLSX cell drops them.
_XML_ILLEGAL = {c: None for c in (*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20))}
_SILENT_CONTROLS = "".join(chr(c) for c in (*range(0x01, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)))
# First characters that need a closer look; any other text is already safe (the common case, kept fast).
SUSPECT_FIRST = frozenset(DANGEROUS_LEADING) | frozenset(_SILENT_CONTROLS)


_IDENTIFIER = re.compile(r"[^\W_][\w.:/+#@-]{0,127}\Z")


def looks_like_formula(text: str) -> bool:
    """Whether a spreadsheet could read this text as a formula (its first visible character is risky)."""
    if not text:
        return False
    head = text.lstrip(_SILENT_CONTROLS)
    return bool(head and head[0] in DANGEROUS_LEADING) or (head != text and not head)


def plausible_identifier(value: Any) -> bool:
    """Whether an identifier can go into a spreadsheet as it is: no formula-capable characters.

    Empty is plausible here (a missing key is reported as missing, not as suspicious). ``-1+1`` is
    plausible: the worst a spreadsheet does with it is arithmetic; ``=1+1``, ``@SUM(A1)``,
    ``cmd|' /c calc'!A0`` and anything with spaces or controls are not.
    """
    if value is None or value == "" or isinstance(value, int) and not isinstance(value, bool):
        return True
    text = str(value)
    return bool(_IDENTIFIER.match(text) or (text[0] in "+-" and _IDENTIFIER.match(text[1:])))


def identifier_cell(value: Any) -> Any:
    """An identifier as it should be written: unchanged when plausible, else neutralised as text."""
    return value if plausible_identifier(value) else neutralise_cell(value)


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
    # formula to the front: looks_like_formula looks past them.
    return "'" + text if looks_like_formula(text) else text


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
