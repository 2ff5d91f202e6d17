"""The skills catalogue: bundled files load, reload as a no-op, bad files are refused whole, tracks name real skills."""

import json

import pytest

from xblocks.partnership import api, models
from xblocks.partnership.data import Domain


def _write(folder, name, data):
    (folder / name).write_text(json.dumps(data), encoding="utf-8")


def test_the_bundled_catalogue_covers_the_six_domains_in_three_languages(skills):
    loaded = api.list_skills()
    assert {skill.domain for skill in loaded} == set(Domain)
    assert all(skill.name_en and skill.name_fr and skill.name_ar for skill in loaded)
    hardening = next(skill for skill in loaded if skill.id == "cybersecurity.linux-hardening")
    assert (hardening.framework, hardening.code) == ("e-CF", "E.8")
    assert hardening.name("ar") == "تقوية أمان خوادم لينكس"


def test_loading_the_catalogue_again_changes_nothing(skills):
    again = api.load_skills()
    assert not (again.created or again.updated or again.retired or again.errors)
    assert len(again.unchanged) == models.Skill.objects.count()


def test_a_skill_gone_from_the_files_is_retired_not_deleted(tmp_path, db):
    _write(
        tmp_path,
        "data.json",
        {
            "domain": "data",
            "skills": [{"id": "data.sql", "name": {"en": "SQL"}}, {"id": "data.bi", "name": {"en": "BI"}}],
        },
    )
    api.load_skills(tmp_path)
    _write(tmp_path, "data.json", {"domain": "data", "skills": [{"id": "data.sql", "name": {"en": "SQL"}}]})
    report = api.load_skills(tmp_path)
    assert report.retired == ["data.bi"]
    assert [skill.id for skill in api.list_skills()] == ["data.sql"]
    assert models.Skill.objects.filter(pk="data.bi", retired=True).exists()


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"domain": "blockchain", "skills": [{"id": "blockchain.x", "name": {"en": "X"}}]}, "'domain' must be one of"),
        ({"domain": "data", "skills": [{"id": "cloud.sql", "name": {"en": "SQL"}}]}, "must read data.<name>"),
        ({"domain": "data", "skills": [{"id": "data.sql", "name": {"fr": "SQL"}}]}, "English name"),
        ({"domain": "data", "skills": []}, "non-empty list"),
        (
            {"domain": "data", "skills": [{"id": "data.sql", "name": {"en": "SQL"}, "reference": {"framework": "X"}}]},
            "reference.framework",
        ),
    ],
)
def test_an_invalid_file_is_refused_by_name_and_nothing_is_loaded(tmp_path, db, data, message):
    _write(tmp_path, "a-good.json", {"domain": "ai", "skills": [{"id": "ai.ml", "name": {"en": "ML"}}]})
    _write(tmp_path, "bad.json", data)
    report = api.load_skills(tmp_path)
    assert len(report.errors) == 1 and report.errors[0].startswith("bad.json") and message in report.errors[0]
    assert not models.Skill.objects.exists()


def test_the_sample_tracks_prove_only_catalogue_skills(skills, sample_tracks):
    assert api.track_skills()["security-analyst"] == (
        "cybersecurity.linux-hardening",
        "cybersecurity.access-control",
        "cybersecurity.log-triage",
    )
    assert api.unknown_track_skills() == {}


def test_a_track_proving_an_unknown_skill_is_reported(db, skills, sample_tracks, tmp_path):
    from xblocks.certification import tracks  # pylint: disable=import-outside-toplevel

    data = json.loads((tracks.default_directory() / "security-analyst.json").read_text())
    data["proves"] = ["cybersecurity.log-triage", "cybersecurity.quantum-hacking"]
    tracks.load_track(data)
    assert api.unknown_track_skills() == {"security-analyst": ("cybersecurity.quantum-hacking",)}


def test_the_load_command_reports_and_warns(skills, sample_tracks, capsys):
    from django.core.management import call_command  # pylint: disable=import-outside-toplevel

    call_command("kafaat_load_skills", "--dry-run")
    assert "unchanged: 19 skills" in capsys.readouterr().out
