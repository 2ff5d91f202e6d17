"""The role tracks of the partnership: one per role it trains for, each complete, and each loads.

A track loads as soon as the labs it names are in the sample course (the loader refuses unknown keys);
``load_track`` is called directly here so every track is proven to load as rows today, whatever labs the
course has yet.
"""

from __future__ import annotations

import json

import pytest

from tests.certification.helpers import COURSE_KEY, PENDING_LABS, TRACKS_DIR, missing_labs, track_lab_keys
from xblocks.certification import models, rules, tracks
from xblocks.core.skills import known_skill_ids

ROLES = {
    "security-analyst": "cybersecurity",
    "data-analyst": "data",
    "ai-practitioner": "ai",
    "software-test-engineer": "software-testing",
    "cloud-devops-practitioner": "cloud",
}


def _track(slug: str) -> dict:
    return json.loads((TRACKS_DIR / f"{slug}.json").read_text(encoding="utf-8"))


def _leaves(data: dict, part: str = "requirements") -> list[rules.RequirementSpec]:
    specs = [rules.RequirementSpec.from_json(item) for item in data.get(part) or []]
    return [leaf for spec in specs for leaf in spec.leaves()]


@pytest.mark.parametrize("slug", ROLES)
def test_each_role_track_requires_labs_a_grade_hours_by_category_and_a_sign_off(slug):
    data = _track(slug)
    tracks._validate(data, slug)
    kinds = {leaf.kind for leaf in _leaves(data)}
    assert {"course_grade", "hours", "attestation"} <= kinds or slug == "security-analyst"
    assert kinds & {"lab_passed", "block_score"} and "attestation" in kinds and "hours" in kinds
    assert any(leaf.kind == "hours" and leaf.category for leaf in _leaves(data))
    grades = [leaf for leaf in _leaves(data) if leaf.kind == "course_grade"]
    assert all(leaf.key == COURSE_KEY for leaf in grades)
    assert data["renewal"]["mode"] in ("rolling_hours", "requirements")


@pytest.mark.parametrize("slug", ROLES)
def test_each_role_track_proves_skills_of_the_catalogue_in_its_domain(slug):
    known = known_skill_ids()
    assert known is not None
    proves = _track(slug)["proves"]
    assert proves and set(proves) <= set(known), set(proves) - set(known)
    assert ROLES[slug] in {known[skill] for skill in proves}


@pytest.mark.django_db
@pytest.mark.parametrize("slug", ROLES)
def test_each_role_track_loads_as_a_versioned_track(slug):
    label, created = tracks.load_track(_track(slug), f"{slug}.json")
    assert created and label == f"{slug} v1"
    track = models.Track.objects.get(slug=slug)
    assert track.versions.count() == 1


def test_the_labs_the_role_tracks_name_are_in_the_course_or_still_to_come():
    """Which labs the tracks wait for, named: this message is what to read when a track does not load."""
    waiting = {slug: sorted(missing_labs(_track(slug))) for slug in ROLES}
    unexpected = {slug: sorted(set(keys) - PENDING_LABS) for slug, keys in waiting.items() if set(keys) - PENDING_LABS}
    assert not unexpected, f"unknown lab keys: {unexpected}"
    named = set().union(*(track_lab_keys(_track(slug)) for slug in ROLES))
    assert {"data_claims_pandas", "ai_fraud_notebook", "testing_mutants"} <= named
