"""Fixtures for the partnership tests: certification's world (two schools, coordinators, learners) plus skills."""

from __future__ import annotations

import pytest

from tests.certification.conftest import _english, cert_world, certified, sample_tracks  # noqa: F401

SKILLS_DIR = "course_content/skills"


@pytest.fixture
def skills(db):
    from xblocks.partnership import api  # pylint: disable=import-outside-toplevel

    report = api.load_skills()
    assert not report.errors, report.errors
    return report
