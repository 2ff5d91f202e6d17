"""Needs: recorded by who speaks for the employer, imported from CSV with a dry run, a per-row report, all or none."""

import csv
import datetime
import io

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from xblocks.partnership import api, models

pytestmark = pytest.mark.django_db

LATER = (timezone.localdate() + datetime.timedelta(days=200)).isoformat()
HEADER = "employer,skills,count,by_date,role_kind,note\n"
GOOD = (
    HEADER
    + f"insurer,cybersecurity.log-triage;cybersecurity.linux-hardening,6,{LATER},hire,SOC analysts\n"
    + f"insurer,cloud.reverse-proxy,10,{LATER},work-study,\n"
)


def test_a_dry_run_reports_every_row_and_writes_nothing(partners):
    report = api.import_needs(partners.member, GOOD, dry_run=True)
    assert report.ok and report.total_rows == 2 and report.imported == 0
    assert report.rows == ((2, "ok"), (3, "ok"))
    assert not models.Need.objects.exists()


def test_a_good_file_is_recorded_and_read_back(partners):
    report = api.import_needs(partners.member, GOOD, dry_run=False)
    assert report.imported == 2
    needs = api.list_needs()
    assert [(n.employer_name, n.skills, n.count, n.role_kind) for n in needs] == [
        ("Insurer", ("cybersecurity.linux-hardening", "cybersecurity.log-triage"), 6, "hire"),
        ("Insurer", ("cloud.reverse-proxy",), 10, "work_study"),
    ]


def test_importing_the_same_file_twice_records_it_once(partners):
    api.import_needs(partners.member, GOOD, dry_run=False)
    again = api.import_needs(partners.member, GOOD, dry_run=False)
    assert again.imported == 0 and {p.reason for p in again.problems} == {"This need was already recorded."}
    assert models.Need.objects.count() == 2


def test_one_bad_row_refuses_the_whole_file_with_a_clear_reason_per_row(partners):
    bad = (
        GOOD
        + "nobody,cloud.reverse-proxy,2,2020-01-01,job,\n"
        + f"bank,cloud.teleport,x,{LATER},hire,\n"
        + f"insurer,cloud.reverse-proxy,10,{LATER},work_study,\n"
    )
    report = api.import_needs(partners.member, bad, dry_run=False)
    assert report.imported == 0 and not models.Need.objects.exists()
    problems = {(p.row, p.column): p.reason for p in report.problems}
    assert problems[(4, "employer")] == "Unknown employer."
    assert problems[(4, "by_date")] == "The date is in the past."
    assert problems[(4, "role_kind")] == "Role kind must be internship, work_study or hire."
    assert problems[(5, "employer")] == "You may not record needs for this employer."
    assert problems[(5, "skills")] == "Unknown skill: cloud.teleport."
    assert problems[(5, "count")] == "Count must be a whole number."
    assert problems[(6, "")] == "Duplicate of row 3."
    assert dict(report.rows)[2] == "ok"


def test_a_missing_column_is_named(partners):
    report = api.import_needs(partners.member, "employer,skills,count\ninsurer,data.sql,1\n")
    assert [(p.row, p.column) for p in report.problems] == [(1, "by_date"), (1, "role_kind")]


def test_a_formula_in_a_note_is_kept_harmless_and_the_report_is_neutralised(partners):
    raw = HEADER + f'insurer,data.sql,1,{LATER},internship,"=HYPERLINK(""http://x"")"\n'
    api.import_needs(partners.member, raw, dry_run=False)
    assert models.Need.objects.get().note.startswith("'=")
    hostile = HEADER + "=cmd|calc,data.sql,1,2030-01-01,hire,\n"
    report = api.import_needs(partners.member, hostile)
    rows = list(csv.reader(io.StringIO(api.needs_report_csv(report))))
    assert rows[0] == ["line", "column", "outcome"]
    assert all(not cell.startswith("=") for row in rows for cell in row)


@pytest.mark.parametrize("who", ["observer", "coord_a", "amina_a"])
def test_who_speaks_for_no_employer_may_not_import(partners, who):
    user = {"observer": partners.observer, "coord_a": partners.coordinator_a, "amina_a": partners.learner("amina_a")}[
        who
    ]
    with pytest.raises(PermissionDenied):
        api.import_needs(user, GOOD)


def test_platform_staff_may_import_for_any_employer(partners):
    raw = GOOD + f"bank,data.sql,3,{LATER},internship,\n"
    assert api.import_needs(partners.staff, raw, dry_run=False).imported == 3


def test_record_need_checks_the_employer_and_the_skills(partners):
    from django.core.exceptions import ValidationError  # pylint: disable=import-outside-toplevel

    by = datetime.date.fromisoformat(LATER)
    need = api.record_need(
        partners.member, employer_slug="insurer", skills=["data.sql"], count=2, by_date=by, role_kind="hire"
    )
    assert need.employer_name == "Insurer"
    with pytest.raises(PermissionDenied):
        api.record_need(
            partners.member, employer_slug="bank", skills=["data.sql"], count=2, by_date=by, role_kind="hire"
        )
    with pytest.raises(ValidationError):
        api.record_need(
            partners.member, employer_slug="insurer", skills=["data.nope"], count=2, by_date=by, role_kind="hire"
        )


def test_the_import_command_dry_runs_then_commits(partners, tmp_path, capsys):
    path = tmp_path / "needs.csv"
    path.write_text(GOOD, encoding="utf-8")
    call_command("kafaat_import_needs", str(path), "--as", "member")
    assert "would import 2 need(s)" in capsys.readouterr().out
    assert not models.Need.objects.exists()
    call_command("kafaat_import_needs", str(path), "--as", "member", "--commit")
    assert models.Need.objects.count() == 2
    with pytest.raises(CommandError, match="may not record needs"):
        call_command("kafaat_import_needs", str(path), "--as", "observer")


def test_a_committee_member_given_is_staff_by_mistake_gains_nothing_here(partners):
    from xblocks.partnership import permissions  # pylint: disable=import-outside-toplevel

    partners.observer.is_staff = True
    partners.observer.save()
    assert not permissions.allowed(partners.observer, permissions.CHANGE_NEEDS)
    assert permissions.dashboard_scope(partners.observer) == (None, 5)


@pytest.mark.parametrize(
    ("who", "see", "add"),
    [("staff", 200, 200), ("coord_a", 200, 403), ("member", 302, 302), ("observer", 302, 302), ("amina_a", 302, 302)],
)
def test_the_needs_admin_follows_the_named_permissions(partners, client, who, see, add):
    user = {
        "staff": partners.staff,
        "member": partners.member,
        "observer": partners.observer,
        "coord_a": partners.coordinator_a,
        "amina_a": partners.learner("amina_a"),
    }[who]
    # Coordinators hold is_staff to reach the admin; committee members and learners never do (a committee
    # member with is_staff would be platform staff to certification), so the admin sends them to sign in.
    client.force_login(user)
    assert client.get("/admin/kafaat_partnership/need/").status_code == see
    assert client.get("/admin/kafaat_partnership/need/add/").status_code == add
