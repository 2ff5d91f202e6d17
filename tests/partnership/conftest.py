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


@pytest.fixture
def employers(certified, partners, django_user_model):  # noqa: F811
    """``partners`` with certificates (amina_a, lina_b), an insurer's representative and a bank's, and consents:
    amina_a shares with the insurer and may be contacted; lina_b shares with the insurer but may not be
    contacted; yanis_a (no certificate) may be contacted by the insurer."""
    from xblocks.certification import api as cert_api  # pylint: disable=import-outside-toplevel
    from xblocks.partnership import models  # pylint: disable=import-outside-toplevel

    world = partners
    bank = next(e for e in cert_api.list_employers() if e.slug == "bank")
    hr = django_user_model.objects.create_user("hr_insurer", "hr@example.com", "pw")
    models.EmployerRepresentative.objects.create(user=hr, employer_id=world.insurer_id)
    banker = django_user_model.objects.create_user("hr_bank", "bank@example.com", "pw")
    models.EmployerRepresentative.objects.create(user=banker, employer_id=bank.id)
    cert_api.set_own_contact_consent(world.learner("amina_a"), world.enrollments["amina_a"], "insurer", True)
    cert_api.set_own_contact_consent(world.learner("yanis_a"), world.enrollments["yanis_a"], "insurer", True)
    cert_api.set_own_consent(world.learner("lina_b"), world.enrollments["lina_b"], "insurer", True)
    world.hr = hr
    world.banker = banker
    world.bank_id = bank.id
    return world
