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


@pytest.fixture
def partners(cert_world, skills, django_user_model):  # noqa: F811  (cert_world: the imported fixture)
    """``cert_world`` plus a committee member speaking for the insurer, one speaking for nobody, and a learner."""
    from xblocks.certification import api as cert_api  # pylint: disable=import-outside-toplevel
    from xblocks.partnership import models  # pylint: disable=import-outside-toplevel

    insurer = next(e for e in cert_api.list_employers() if e.slug == "insurer")
    cert_api.ensure_employer("bank", "Bank")
    member = django_user_model.objects.create_user("member", "m@example.com", "pw")
    models.CommitteeMember.objects.create(user=member, employer_id=insurer.id)
    observer = django_user_model.objects.create_user("observer", "o@example.com", "pw")
    models.CommitteeMember.objects.create(user=observer)
    cert_world.member = member
    cert_world.observer = observer
    cert_world.insurer_id = insurer.id
    return cert_world
