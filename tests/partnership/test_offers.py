"""Offers, the talent pool and invitations: only consenting, contactable learners; the learner alone answers."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

pytestmark = pytest.mark.django_db

SOON = timezone.localdate() + datetime.timedelta(days=30)
LATER = timezone.localdate() + datetime.timedelta(days=90)


def _offer(world, **overrides):
    from xblocks.partnership import api

    fields = {
        "title": "Cloud intern",
        "kind": "internship",
        "skills": ["cloud.reverse-proxy"],
        "starts_on": LATER,
        "apply_by": SOON,
        "places": 2,
    }
    fields.update(overrides)
    return api.create_offer(world.hr, **fields)


def test_only_an_employer_representative_publishes_and_only_for_their_employer(employers):
    from xblocks.partnership import api

    offer = _offer(employers)
    assert offer.employer_id == employers.insurer_id and offer.skills == ("cloud.reverse-proxy",)
    for who in (employers.staff, employers.member, employers.coordinator_a, employers.learner("amina_a")):
        with pytest.raises(PermissionDenied):
            api.create_offer(who, title="x", kind="hire", skills=[], starts_on=LATER, apply_by=SOON)
    with pytest.raises(ValidationError):
        _offer(employers, skills=["no.such-skill"])
    with pytest.raises(ValidationError):
        _offer(employers, cohort_kinds=["evening"])


def test_the_pool_holds_only_learners_who_agreed_to_be_contacted_shown_by_certificates(employers):
    from xblocks.partnership import api

    offer = _offer(employers)
    pool = api.talent_pool(employers.hr, offer.id)
    names = [candidate.name for candidate in pool]
    # lina_b shares with the insurer but never agreed to be contacted; amina_a (certified) comes first
    assert names == ["Amina_A", "Yanis_A"]
    amina = pool[0]
    assert amina.certificates and amina.matched == ("cloud.reverse-proxy",)
    assert pool[1].certificates == () and pool[1].skills == ()
    # another employer, the committee, a coordinator and the learner never see the pool
    for who in (
        employers.banker,
        employers.member,
        employers.coordinator_a,
        employers.staff,
        employers.learner("amina_a"),
    ):
        with pytest.raises(PermissionDenied):
            api.talent_pool(who, offer.id)


def test_targeting_by_school_and_cohort_kind(employers):
    from xblocks.partnership import api

    school_b = employers.cohort_b.school_id
    assert api.talent_pool(employers.hr, _offer(employers, school_ids=[school_b]).id) == []
    assert api.talent_pool(employers.hr, _offer(employers, cohort_kinds=["work_study"]).id) == []
    assert len(api.talent_pool(employers.hr, _offer(employers, cohort_kinds=["initial"]).id)) == 2


def test_shortlist_invite_and_answer(employers):
    from xblocks.partnership import api

    offer = _offer(employers)
    amina = employers.enrollments["amina_a"]
    assert api.shortlist(employers.hr, offer.id, amina) == "shortlisted"
    # a shortlist is the employer's working list: the learner does not see it yet
    assert api.learner_invitations(employers.learner("amina_a")) == []
    assert api.invite(employers.hr, offer.id, amina) == "invited"
    invitations = api.learner_invitations(employers.learner("amina_a"))
    assert [(i.offer.title, i.status) for i in invitations] == [("Cloud intern", "invited")]
    # nobody but the learner answers
    for who in (employers.hr, employers.learner("yanis_a"), employers.staff):
        with pytest.raises(PermissionDenied):
            api.answer_invitation(who, invitations[0].id, True)
    assert api.answer_invitation(employers.learner("amina_a"), invitations[0].id, True) == "accepted"
    assert api.get_offer(employers.hr, offer.id).accepted == 1
    assert api.offer_counts()["accepted"] == 1


def test_a_learner_outside_the_pool_cannot_be_shortlisted_and_withdrawal_removes_them(employers):
    from xblocks.certification import api as cert_api
    from xblocks.partnership import api

    offer = _offer(employers)
    with pytest.raises(PermissionDenied):  # shares, but may not be contacted
        api.shortlist(employers.hr, offer.id, employers.enrollments["lina_b"])
    with pytest.raises(PermissionDenied):  # another employer's offer
        api.shortlist(employers.banker, offer.id, employers.enrollments["amina_a"])
    # withdrawing the consent to share withdraws the consent to be contacted
    cert_api.set_own_consent(employers.learner("yanis_a"), employers.enrollments["yanis_a"], "insurer", False)
    assert [c.name for c in api.talent_pool(employers.hr, offer.id)] == ["Amina_A"]
    with pytest.raises(PermissionDenied):
        api.invite(employers.hr, offer.id, employers.enrollments["yanis_a"])


def test_a_learner_sets_contact_consent_on_their_own_enrolment_only(employers):
    from xblocks.certification import api as cert_api
    from xblocks.partnership import api

    lina = employers.learner("lina_b")
    with pytest.raises(PermissionDenied):
        api.set_contact_consent(lina, employers.enrollments["amina_a"], "insurer", False)
    api.set_contact_consent(lina, employers.enrollments["lina_b"], "bank", True)
    rows = cert_api.learner_offer_consents(lina)[employers.enrollments["lina_b"]]
    assert {(e.slug, shared, contact) for e, shared, contact in rows} == {
        ("insurer", True, False),
        ("bank", True, True),  # agreeing to be contacted shares the records too
    }
    api.set_contact_consent(lina, employers.enrollments["lina_b"], "bank", False)
    rows = cert_api.learner_offer_consents(lina)[employers.enrollments["lina_b"]]
    assert ("bank", True, False) in {(e.slug, shared, contact) for e, shared, contact in rows}


def test_targeting_by_cohort(employers):
    from xblocks.partnership import api

    assert api.talent_pool(employers.hr, _offer(employers, cohort_ids=[employers.cohort_b.id]).id) == []
    offer = _offer(employers, cohort_ids=[employers.cohort_a.id])
    assert offer.cohort_ids == (employers.cohort_a.id,)
    assert [c.name for c in api.talent_pool(employers.hr, offer.id)] == ["Amina_A", "Yanis_A"]
    with pytest.raises(ValidationError):
        _offer(employers, cohort_ids=[987654])
