"""The ``kafaat_export`` command and ``kafaat cert export``: files, progress display, scope."""

from __future__ import annotations

import csv
import io
import json

import pytest
from django.core.management import CommandError, call_command

from xblocks import cli

pytestmark = [pytest.mark.mariadb]


def test_the_management_command_writes_a_preset_file_with_progress(world, tmp_path):
    target = tmp_path / "sf.csv"
    err = io.StringIO()
    call_command(
        "kafaat_export",
        "--format",
        "csv",
        "--preset",
        "successfactors",
        "--employer",
        "acme",
        "--user",
        "coord_a",
        "--out",
        str(target),
        stderr=err,
    )
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    assert sorted(row["StudentId"] for row in rows) == ["", "E-1001"]
    assert "100% 2/2 records" in err.getvalue()
    assert not (tmp_path / "sf.csv.part").exists()


def test_the_command_refuses_another_schools_cohort_and_leaves_no_file(world, tmp_path):
    target = tmp_path / "x.csv"
    with pytest.raises(CommandError):
        call_command(
            "kafaat_export",
            "--format",
            "csv",
            "--employer",
            "acme",
            "--user",
            "coord_b",
            "--cohort",
            str(world.cohort_a.id),
            "--out",
            str(target),
            stderr=io.StringIO(),
        )
    assert not target.exists() and not (tmp_path / "x.csv.part").exists()


def test_kafaat_cert_export_runs_the_same_export(world, tmp_path, capsys):
    target = tmp_path / "all.jsonl"
    status = cli.main(
        [
            "cert",
            "export",
            "--format",
            "jsonl",
            "--employer",
            "acme",
            "--user",
            "platform",
            "--cohort",
            str(world.cohort_b.id),
            "--out",
            str(target),
        ]
    )
    assert status == 0
    lines = [json.loads(line) for line in target.read_text().splitlines()]
    assert [line["credential_id"] for line in lines] == [world.number("dave")]
    assert "1 records" in capsys.readouterr().err


def test_kafaat_cert_export_of_a_non_consenting_only_cohort_is_empty(world, tmp_path):
    from xblocks.certification import api as cert_api

    for name in ("alice", "erin"):
        cert_api.set_consent(world.enrollments[name], "acme", False)
    target = tmp_path / "none.csv"
    assert (
        cli.main(
            [
                "cert",
                "export",
                "--format",
                "csv",
                "--employer",
                "acme",
                "--user",
                "coord_a",
                "--quiet",
                "--out",
                str(target),
            ]
        )
        == 0
    )
    assert list(csv.reader(io.StringIO(target.read_text())))[1:] == []


def test_an_unknown_user_is_an_error(world, tmp_path):
    assert cli.main(["cert", "export", "--format", "csv", "--user", "nobody", "--out", str(tmp_path / "x")]) == 2


def test_a_dry_run_counts_records_and_names_empty_key_cells_without_writing(world, tmp_path, capsys):
    target = tmp_path / "never.csv"
    status = cli.main(
        ["cert", "export", "--format", "csv", "--preset", "cornerstone", "--employer", "acme", "--user", "coord_a",
         "--dry-run", "--out", str(target)]
    )  # fmt: skip
    err = capsys.readouterr().err
    assert status == 1  # erin has no employee id: Cornerstone's User ID key would be empty
    assert f"{world.number('erin')}: User ID: empty key column" in err
    assert "2 records for preset cornerstone, 1 problem(s)" in err
    assert not target.exists()


def test_kafaat_cert_deliver_and_resend_drive_an_endpoint(world, tmp_path, settings, capsys):
    from xblocks.certification.exports import api

    settings.KAFAAT = {**settings.KAFAAT, "DELIVERY_FILE_DROP_ROOT": str(tmp_path)}
    endpoint = api.create_endpoint(world.coordinator_a, name="Drop", url="acme", employer="acme", kind="file-drop")
    assert cli.main(["cert", "deliver", str(endpoint.id)]) == 0
    assert "queued 2, sent 2, delivered 2" in capsys.readouterr().out
    assert len(list((tmp_path / "acme").glob("*.json"))) == 2
    assert cli.main(["cert", "resend", str(endpoint.id), "--all"]) == 0
    assert "2 record(s) queued again" in capsys.readouterr().out
    assert cli.main(["cert", "deliver"]) == 0
    assert "delivered: 2" in capsys.readouterr().out
