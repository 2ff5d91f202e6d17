"""Aggregate reporting through the api: enrolment facts without personal data, in a constant number of queries."""

import dataclasses

import pytest

from tests.certification.helpers import complete_cloud_track
from xblocks.certification import api

pytestmark = pytest.mark.django_db


def test_facts_carry_progress_certificates_and_what_the_track_proves_but_no_names(certified):
    facts = {fact.user_id: fact for fact in api.enrolment_facts()}
    amina = facts[certified.learner("amina_a").pk]
    assert amina.certified_on is not None and amina.certificate_status == "active"
    assert amina.labs_attempted == amina.labs_passed == 2 and amina.last_activity_on is not None
    assert "cloud.reverse-proxy" in amina.proves
    yanis = facts[certified.learner("yanis_a").pk]
    assert (yanis.certified_on, yanis.labs_attempted, yanis.last_activity_on) == (None, 0, None)
    assert not {"username", "email", "full_name"} & {field.name for field in dataclasses.fields(amina)}


def test_facts_are_scoped_to_the_schools_asked_for(certified):
    facts = api.enrolment_facts({certified.cohort_b.school_id})
    assert {fact.user_id for fact in facts} == {certified.learner("lina_b").pk}


def test_facts_cost_the_same_queries_for_three_learners_or_thirty(
    cert_world, django_user_model, django_assert_max_num_queries
):
    with django_assert_max_num_queries(5):
        api.enrolment_facts()
    for n in range(27):
        user = django_user_model.objects.create_user(f"extra_{n}_a", f"x{n}@example.com", "pw")
        cert_world.learners[user.username] = user
        api.enroll(user, cert_world.cohort_a.id)
    complete_cloud_track(cert_world, "extra_3_a")
    with django_assert_max_num_queries(5):
        assert len(api.enrolment_facts()) == 30


def test_projected_completions_use_the_learner_pages_projection(certified):
    ids = [fact.enrollment_id for fact in api.enrolment_facts()]
    projected = api.projected_completions(ids)
    assert set(projected) == set(ids)
    assert projected[certified.enrollments["yanis_a"]] is None  # no progress yet: nothing to extrapolate


def test_an_enrolment_in_a_cohort_without_a_start_date_starts_on_its_enrolment_day(sample_tracks, django_user_model):
    from django.utils import timezone  # pylint: disable=import-outside-toplevel

    api.ensure_school("s", name="S")
    cohort = api.ensure_cohort("s", "security-analyst", "open", name="Open")
    user = django_user_model.objects.create_user("late", "late@example.com", "pw")
    api.enroll(user, cohort.id)
    (fact,) = api.enrolment_facts()
    assert fact.started_on == timezone.localdate()
    assert fact.proves[0].startswith("cybersecurity.")


def test_facts_carry_hours_at_school_and_at_the_company_and_renewals_in_the_same_queries(
    certified, django_assert_max_num_queries
):
    import datetime

    from xblocks.certification import models

    amina = certified.learner("amina_a")
    before = {f.user_id: f for f in api.enrolment_facts()}[amina.pk]
    day = datetime.date(2026, 3, 2)
    for source, minutes in (("school", 90), ("company", 240), ("company", -30), ("elearning", 45)):
        models.HoursEntry.objects.create(
            user=amina, cohort_id=certified.cohort_a.id, source=source, minutes=minutes, date=day
        )
    first = models.Certificate.objects.get(user=amina, period=1)
    renewal = models.Certificate.objects.get(pk=first.pk)
    renewal.pk, renewal.period, renewal.renewed_from = None, 2, first
    renewal.number = f"{first.number}-R"
    renewal.issued_at = first.issued_at + datetime.timedelta(days=365)
    renewal.save()
    with django_assert_max_num_queries(5):
        facts = {f.user_id: f for f in api.enrolment_facts()}
    fact = facts[amina.pk]
    assert fact.school_minutes == before.school_minutes + 90
    assert fact.company_minutes == before.company_minutes + 210  # corrections count
    assert fact.renewed_on == (renewal.issued_at.date(),) and fact.certified_on == before.certified_on
    assert facts[certified.learner("yanis_a").pk].renewed_on == ()
