"""Track files: the samples load and reference real labs, reloading is a no-op, changes make a new frozen version."""

from __future__ import annotations

import copy
import hashlib
import json
import pathlib

import pytest
from django.core.exceptions import ValidationError
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.certification.helpers import CHECKOUT, PENDING_LABS, TRACKS_DIR, loadable_tracks, missing_labs
from xblocks.certification import api, models, rules, tracks
from xblocks.labs.catalog import known_lab_keys

pytestmark = pytest.mark.django_db

SAMPLES = sorted(TRACKS_DIR.glob("*.json"))
COURSE = CHECKOUT / "course_content"
LAB_IDS = set(known_lab_keys([COURSE]))


@pytest.mark.parametrize("path", SAMPLES, ids=[p.stem for p in SAMPLES])
def test_sample_tracks_parse_and_reference_labs_of_the_sample_course(path):
    """Every lab a track names is a lab of the sample course, or one of the domain labs still to come.

    Chosen over an expected failure: the test passes while those labs are written elsewhere, lists them,
    and still fails at once on any other unknown key (a typo). See PENDING_LABS.
    """
    data = json.loads(path.read_text(encoding="utf-8"))
    specs = [rules.RequirementSpec.from_json(item) for item in data["requirements"]]
    lab_keys = {leaf.key for spec in specs for leaf in spec.leaves() if leaf.kind in ("lab_passed", "block_score")}
    assert lab_keys
    missing = missing_labs(data)
    assert missing <= PENDING_LABS, (
        f"{path.name} names labs no lab of course_content has: {sorted(missing - PENDING_LABS)}"
        f" (labs still to come, allowed: {sorted(missing & PENDING_LABS)})"
    )


def test_loading_twice_creates_nothing_new(sample_tracks):
    assert sorted(sample_tracks.created) == loadable_tracks()
    assert {"cloud-devops-practitioner v1", "security-analyst v1"} <= set(sample_tracks.created)
    again = tracks.load_directory(TRACKS_DIR)
    assert again.created == [] and len(again.unchanged) == len(loadable_tracks())


def test_a_changed_requirement_makes_a_new_version_and_enrolled_learners_keep_theirs(cert_world, tmp_path):
    data = json.loads((TRACKS_DIR / "cloud-devops-practitioner.json").read_text(encoding="utf-8"))
    changed = copy.deepcopy(data)
    changed["requirements"][2]["threshold"] = 30
    (tmp_path / "cloud.json").write_text(json.dumps(changed), encoding="utf-8")
    report = tracks.load_directory(tmp_path, lab_paths=[COURSE])
    assert report.created == ["cloud-devops-practitioner v2"]
    assert api.get_track("cloud-devops-practitioner").total_hours_required == 30.0
    old = api.learner_progress(cert_world.learner("yanis_a"))[0]
    assert old.track_version == 1
    assert any(r.required == 20 for r in old.evaluation.flat())
    newcomer = cert_world.learner("amina_a").__class__.objects.create_user("newcomer")
    api.enroll(newcomer, cert_world.cohort_a.id)
    assert api.learner_progress(newcomer)[0].track_version == 2


def test_a_title_change_alone_keeps_the_version(sample_tracks, tmp_path):
    data = json.loads((TRACKS_DIR / "security-analyst.json").read_text(encoding="utf-8"))
    data["title"] = "Security analyst (renamed)"
    (tmp_path / "sec.json").write_text(json.dumps(data), encoding="utf-8")
    assert tracks.load_directory(tmp_path, lab_paths=[COURSE]).unchanged == ["security-analyst v1"]
    assert models.Track.objects.get(slug="security-analyst").title == "Security analyst (renamed)"


def test_published_requirements_cannot_be_edited_or_deleted(sample_tracks):
    requirement = models.Requirement.objects.first()
    requirement.threshold = 0
    with pytest.raises(ValidationError):
        requirement.save()
    with pytest.raises(ValidationError):
        requirement.delete()
    version = requirement.version
    version.title = "changed"
    with pytest.raises(ValidationError):
        version.save()


def test_invalid_files_are_reported_and_valid_ones_still_load(db, tmp_path, capsys):
    (tmp_path / "a_bad.json").write_text('{"slug": "x", "title": "X", "requirements": [{"kind": "magic"}]}')
    (tmp_path / "b_broken.json").write_text("{not json")
    (tmp_path / "c_good.json").write_text(
        json.dumps({"slug": "tiny", "title": "Tiny", "requirements": [{"kind": "hours", "threshold": 1}]})
    )
    report = tracks.load_directory(tmp_path, lab_paths=[COURSE])
    assert report.created == ["tiny v1"]
    assert [e.split(":")[0] for e in report.errors] == ["a_bad.json", "b_broken.json"]
    with pytest.raises(CommandError):
        call_command("kafaat_load_tracks", str(tmp_path))


def test_dry_run_writes_nothing(db):
    report = tracks.load_directory(TRACKS_DIR, dry_run=True)
    assert sorted(report.created) == loadable_tracks()
    assert not models.Track.objects.exists()


def test_every_track_file_in_course_content_is_valid():
    for path in (CHECKOUT / "course_content").glob("tracks/*.json"):
        tracks._validate(json.loads(path.read_text(encoding="utf-8")), path.name)


def test_track_files_sit_where_the_loader_looks():
    assert pathlib.Path(tracks.default_directory()) == TRACKS_DIR


def test_a_track_naming_an_unknown_lab_is_refused_with_the_key_named(tmp_path):
    data = json.loads((TRACKS_DIR / "cloud-devops-practitioner.json").read_text(encoding="utf-8"))
    data["requirements"][0]["children"][1]["children"][0]["key"] = "devops_make_hook"  # one letter short
    (tmp_path / "cloud.json").write_text(json.dumps(data), encoding="utf-8")
    report = tracks.load_directory(tmp_path, lab_paths=[COURSE])
    assert not report.created and len(report.errors) == 1
    assert "'devops_make_hook' matches no known lab" in report.errors[0]
    assert not models.Track.objects.filter(slug="cloud-devops-practitioner").exists()


def test_a_renewal_requirement_naming_an_unknown_lab_is_refused_too(tmp_path):
    data = json.loads((TRACKS_DIR / "cloud-devops-practitioner.json").read_text(encoding="utf-8"))
    data["renewal"]["requirements"][1]["key"] = "no_such_lab"
    (tmp_path / "cloud.json").write_text(json.dumps(data), encoding="utf-8")
    assert "'no_such_lab'" in tracks.load_directory(tmp_path, lab_paths=[COURSE]).errors[0]


def test_the_command_line_refuses_an_unknown_lab_and_exits_non_zero(tmp_path, capsys):
    from xblocks.cli import main  # pylint: disable=import-outside-toplevel

    text = (TRACKS_DIR / "cloud-devops-practitioner.json").read_text(encoding="utf-8")
    tracks_dir = tmp_path / "tracks"
    tracks_dir.mkdir()
    (tracks_dir / "cloud.json").write_text(text.replace('"devops_make_hooks"', '"make_hooks_typo"'), "utf-8")
    assert main(["cert", "tracks", "load", str(tracks_dir), "--labs", str(COURSE)]) == 1
    assert "lab key 'make_hooks_typo' matches no known lab" in capsys.readouterr().out


def test_labs_are_known_by_their_lab_key_from_inline_olx(tmp_path):
    (tmp_path / "unit.xml").write_text(
        '<vertical><kafaat_lab url_name="b7e1" lab_key="linux_basics" display_name="L">'
        '<step id="s" title="S"><instructions>x</instructions><check id="c">true</check></step>'
        "</kafaat_lab></vertical>",
        encoding="utf-8",
    )
    assert set(known_lab_keys([tmp_path])) == {"linux_basics"}


def test_a_track_file_names_the_catalogue_skills_it_proves(sample_tracks):
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    assert api.get_track("cloud-devops-practitioner").proves == (
        "cloud.reverse-proxy",
        "cloud.linux-operations",
        "devops.build-automation",
        "devops.version-control",
    )


@pytest.mark.parametrize("proves", ["cloud.x", ["Cloud X"], [1]])
def test_proves_must_be_a_list_of_skill_ids(sample_tracks, proves):
    from xblocks.certification import tracks  # pylint: disable=import-outside-toplevel

    data = json.loads((TRACKS_DIR / "cloud-devops-practitioner.json").read_text())
    data["proves"] = proves
    with pytest.raises(ValueError, match="'proves' must be a list of skill ids"):
        tracks.load_track(data)


def test_a_file_without_proves_keeps_the_hash_it_had_before_proves_existed():
    from xblocks.certification import tracks  # pylint: disable=import-outside-toplevel

    data = json.loads((TRACKS_DIR / "cloud-devops-practitioner.json").read_text())
    without = {key: value for key, value in data.items() if key != "proves"}
    legacy = json.dumps({key: without.get(key) for key in tracks.VERSIONED_FIELDS}, sort_keys=True, ensure_ascii=False)
    assert tracks.content_hash(without) == hashlib.sha256(legacy.encode("utf-8")).hexdigest()
    assert tracks.content_hash(data) != tracks.content_hash(without)
