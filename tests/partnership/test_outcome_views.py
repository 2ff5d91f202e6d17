"""Every new page, API call and admin page for every role: anonymous, learner, coordinator, employer,
committee member (and platform staff). "May see" is the GET, "may change" the POST; each abuse is a case."""

import datetime

import pytest
from django.utils import timezone

pytestmark = pytest.mark.django_db

BASE = "/kafaat/partnership"
SOON = timezone.localdate() + datetime.timedelta(days=30)
LATER = timezone.localdate() + datetime.timedelta(days=90)
ROLES = ("anonymous", "learner", "coordinator", "employer", "member", "staff")


@pytest.fixture
def world(employers, django_capture_on_commit_callbacks):
    from xblocks.partnership import api

    world = employers
    world.offer = api.create_offer(
        world.hr,
        title="Cloud intern",
        kind="internship",
        skills=["cloud.reverse-proxy"],
        starts_on=LATER,
        apply_by=SOON,
        places=2,
    )
    with django_capture_on_commit_callbacks(execute=True):
        world.report = api.request_report(world.member, datetime.date(2025, 1, 1), datetime.date(2026, 12, 31))
    return world


def _login(client, world, who):
    users = {
        "learner": world.learner("amina_a"),
        "coordinator": world.coordinator_a,
        "employer": world.hr,
        "member": world.member,
        "staff": world.staff,
    }
    if who != "anonymous":
        client.force_login(users[who])
    return client


GET_MATRIX = {
    # url (formatted with the world): statuses for ROLES in order
    "/offers/": (302, 403, 200, 200, 200, 200),
    "/offers/{offer}/pool/": (302, 403, 403, 200, 403, 403),
    "/invitations/": (302, 200, 200, 200, 200, 200),  # everyone signed in sees their own (often none)
    "/placements/": (302, 403, 200, 200, 403, 200),
    "/projects/": (302, 403, 200, 403, 403, 200),
    "/reports/": (302, 403, 403, 403, 200, 403),
    "/reports/{report}/status/": (401, 403, 403, 403, 200, 403),
    "/reports/{report}/pdf/": (302, 403, 403, 403, 200, 403),
    "/reports/{report}/xlsx/": (302, 403, 403, 403, 200, 403),
}


@pytest.mark.parametrize("path", list(GET_MATRIX))
@pytest.mark.parametrize("index", range(len(ROLES)), ids=ROLES)
def test_who_may_see_each_page(client, world, path, index):
    who = ROLES[index]
    url = BASE + path.format(offer=world.offer.id, report=world.report.id)
    response = _login(client, world, who).get(url)
    assert response.status_code == GET_MATRIX[path][index], (who, url)
    if response.status_code == 302:
        assert "login" in response["Location"]


def test_the_pool_page_lists_consenting_learners_by_certificate_and_another_employer_is_refused(client, world):
    html = _login(client, world, "employer").get(f"{BASE}/offers/{world.offer.id}/pool/").content.decode()
    assert "Amina_A" in html and "Yanis_A" in html and "Lina_B" not in html
    assert "E-amina_a" not in html  # the employee id is not what the learner agreed to show here
    client.force_login(world.banker)
    assert client.get(f"{BASE}/offers/{world.offer.id}/pool/").status_code == 403


def _post_offer(client):
    return client.post(
        f"{BASE}/offers/",
        {
            "title": "Data intern",
            "kind": "internship",
            "skills": ["cloud.reverse-proxy"],
            "starts_on": LATER.isoformat(),
            "apply_by": SOON.isoformat(),
            "places": "1",
        },
    )


@pytest.mark.parametrize(("index", "status"), list(enumerate((302, 403, 403, 200, 403, 403))), ids=ROLES)
def test_who_may_publish_an_offer(client, world, index, status):
    from xblocks.partnership import models

    response = _post_offer(_login(client, world, ROLES[index]))
    assert response.status_code == status
    assert models.Offer.objects.count() == (2 if status == 200 else 1)


@pytest.mark.parametrize(("index", "status"), list(enumerate((302, 403, 403, 200, 403, 403))), ids=ROLES)
def test_who_may_shortlist_and_invite(client, world, index, status):
    from xblocks.partnership import models

    url = f"{BASE}/offers/{world.offer.id}/pool/"
    amina = world.enrollments["amina_a"]
    response = _login(client, world, ROLES[index]).post(url, {"action": "invite", "enrollment": amina})
    assert response.status_code == status
    assert models.Invitation.objects.filter(status="invited").count() == (1 if status == 200 else 0)


def test_an_employer_cannot_shortlist_a_learner_who_did_not_agree_to_be_contacted(client, world):
    client.force_login(world.hr)
    url = f"{BASE}/offers/{world.offer.id}/pool/"
    assert client.post(url, {"action": "shortlist", "enrollment": world.enrollments["lina_b"]}).status_code == 403
    assert client.post(url, {"action": "shortlist", "enrollment": "not-a-number"}).status_code == 403


def test_the_learner_answers_their_invitation_on_their_page_and_nobody_else_can(client, world):
    from xblocks.partnership import api

    api.invite(world.hr, world.offer.id, world.enrollments["amina_a"])
    invitation = api.learner_invitations(world.learner("amina_a"))[0]
    answer = {"action": "answer", "invitation": invitation.id, "answer": "accept"}
    for intruder in (world.learner("yanis_a"), world.hr, world.member, world.staff):
        client.force_login(intruder)
        assert client.post(f"{BASE}/invitations/", answer).status_code == 403
    client.force_login(world.learner("amina_a"))
    html = client.get(f"{BASE}/invitations/").content.decode()
    assert "Cloud intern" in html and "invited, waiting for an answer" in html
    html = client.post(f"{BASE}/invitations/", answer).content.decode()
    assert "You accepted the invitation." in html
    assert api.learner_invitations(world.learner("amina_a"))[0].status == "accepted"
    client.logout()
    assert client.post(f"{BASE}/invitations/", answer).status_code == 302


def test_the_learner_allows_and_stops_an_employer_contacting_them(client, world):
    from xblocks.certification import api as cert_api

    lina = world.learner("lina_b")
    client.force_login(lina)
    form = {"action": "contact", "enrollment": world.enrollments["lina_b"], "employer": "insurer", "value": "1"}
    assert client.post(f"{BASE}/invitations/", form).status_code == 200
    rows = cert_api.learner_offer_consents(lina)[world.enrollments["lina_b"]]
    assert ("insurer", True, True) in {(e.slug, s, c) for e, s, c in rows}
    # someone else's enrolment
    assert client.post(f"{BASE}/invitations/", {**form, "enrollment": world.enrollments["amina_a"]}).status_code == 403


def _placement(enrollment, **extra):
    return {
        "enrollment": enrollment,
        "kind": "hire",
        "employer": "insurer",
        "contract_type": "CDI",
        "started_on": "2026-07-01",
        "consent": "1",
        **extra,
    }


@pytest.mark.parametrize(("index", "status"), list(enumerate((302, 403, 200, 200, 403, 200))), ids=ROLES)
def test_who_may_record_a_placement(client, world, index, status):
    from xblocks.partnership import models

    response = _login(client, world, ROLES[index]).post(f"{BASE}/placements/", _placement(world.enrollments["amina_a"]))
    assert response.status_code == status
    assert models.Placement.objects.count() == (1 if status == 200 else 0)


def test_placement_abuse_cases(client, world):
    from xblocks.partnership import api, models

    client.force_login(world.coordinator_b)  # amina_a is at school A
    assert client.post(f"{BASE}/placements/", _placement(world.enrollments["amina_a"])).status_code == 403
    client.force_login(world.banker)  # amina_a never shared with the bank
    assert client.post(f"{BASE}/placements/", _placement(world.enrollments["amina_a"])).status_code == 403
    client.force_login(world.coordinator_a)  # the learner's consent is required
    response = client.post(f"{BASE}/placements/", _placement(world.enrollments["amina_a"], consent=""))
    assert response.status_code == 400
    assert not models.Placement.objects.exists()
    # an employer always records as itself, whatever the form says
    client.force_login(world.hr)
    form = _placement(world.enrollments["amina_a"], employer="bank")
    assert client.post(f"{BASE}/placements/", form).status_code == 200
    assert models.Placement.objects.get().employer_id == world.insurer_id
    # the employer sees its own placements, the coordinator their school's, the other coordinator none
    assert [p.learner for p in api.list_placements(world.hr)] == ["Amina_A"]
    assert [p.learner for p in api.list_placements(world.coordinator_a)] == ["Amina_A"]
    assert api.list_placements(world.coordinator_b) == []
    assert api.list_placements(world.banker) == []


def test_a_placement_recorded_on_the_page_feeds_the_dashboard(client, world):
    client.force_login(world.coordinator_a)
    assert client.post(f"{BASE}/placements/", _placement(world.enrollments["amina_a"])).status_code == 200
    html = client.get(f"{BASE}/dashboard/").content.decode()
    # School A: amina_a certified and hired: integration 100 %
    assert "100%" in html or "100 %" in html


@pytest.mark.parametrize(("index", "status"), list(enumerate((302, 403, 200, 403, 403, 200))), ids=ROLES)
def test_who_may_start_a_project(client, world, index, status):
    from xblocks.partnership import models

    form = {
        "action": "create",
        "title": "Claims pipeline",
        "kind": "capstone",
        "school": world.cohort_a.school_id,
        "domain": "data",
        "enrollment": [world.enrollments["amina_a"]],
    }
    response = _login(client, world, ROLES[index]).post(f"{BASE}/projects/", form)
    assert response.status_code == status
    assert models.Project.objects.count() == (1 if status == 200 else 0)


@pytest.mark.parametrize(("index", "status"), list(enumerate((302, 403, 403, 403, 200, 403))), ids=ROLES)
def test_who_may_ask_for_a_report(client, world, index, status):
    from xblocks.partnership import models

    response = _login(client, world, ROLES[index]).post(f"{BASE}/reports/", {"from": "2025-01-01", "to": "2026-12-31"})
    assert response.status_code == status
    assert models.Report.objects.count() == (2 if status == 200 else 1)


def test_the_dashboard_counts_offers_and_projects_for_the_committee(client, world):
    client.force_login(world.member)
    html = client.get(f"{BASE}/dashboard/").content.decode()
    assert "Offers published" in html and "Places offered" in html and "Learners signed off" in html


ADMIN = "/admin/kafaat_partnership"
ADMIN_MATRIX = {
    # changelists: (staff, coordinator with is_staff); everyone else holds no is_staff and is sent to sign in
    "offer": (200, 403),
    "invitation": (200, 403),
    "project": (200, 200),
    "report": (403, 403),
    "employerrepresentative": (200, 403),
    "placement": (200, 200),
}


@pytest.mark.parametrize("model", list(ADMIN_MATRIX))
def test_the_admin_pages_follow_the_named_permissions(client, world, model):
    staff, coordinator = ADMIN_MATRIX[model]
    client.force_login(world.staff)
    assert client.get(f"{ADMIN}/{model}/").status_code == staff
    client.force_login(world.coordinator_a)
    assert client.get(f"{ADMIN}/{model}/").status_code == coordinator
    for who in (world.hr, world.member, world.learner("amina_a")):
        client.force_login(who)
        assert client.get(f"{ADMIN}/{model}/").status_code == 302
    client.logout()
    assert client.get(f"{ADMIN}/{model}/").status_code == 302


@pytest.mark.parametrize(("index", "status"), list(enumerate((302, 403, 403, 200, 403, 403))), ids=ROLES)
def test_who_may_close_an_offer(client, world, index, status):
    from xblocks.partnership import api, models

    form = {"action": "close", "offer": world.offer.id}
    assert _login(client, world, ROLES[index]).post(f"{BASE}/offers/", form).status_code == status
    assert models.Offer.objects.get(pk=world.offer.id).closed is (status == 200)
    if status == 200:  # a closed offer takes no more shortlisting
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            api.shortlist(world.hr, world.offer.id, world.enrollments["amina_a"])


def test_another_employer_cannot_close_an_offer(client, world):
    client.force_login(world.banker)
    assert client.post(f"{BASE}/offers/", {"action": "close", "offer": world.offer.id}).status_code == 403


PERMISSIONS = {
    # name: who holds it (on no particular object), in ROLES order without "anonymous"
    "kafaat.see_offers": (False, True, True, True, True),
    "kafaat.change_offers": (False, False, True, False, False),
    "kafaat.see_talent_pool": (False, False, True, False, False),
    "kafaat.change_shortlist": (False, False, True, False, False),
    "kafaat.see_invitations": (True, True, True, True, True),
    "kafaat.answer_invitations": (True, True, True, True, True),
    "kafaat.see_placements": (False, True, True, False, True),
    "kafaat.change_placements": (False, True, True, False, True),
    "kafaat.see_projects": (False, True, False, False, True),
    "kafaat.change_projects": (False, True, False, False, True),
    "kafaat.sign_off_projects": (False, False, False, False, False),
    "kafaat.see_committee_reports": (False, False, False, True, False),
    "kafaat.change_committee_reports": (False, False, False, True, False),
}


@pytest.mark.parametrize("name", list(PERMISSIONS))
def test_each_named_permission_for_each_role(world, name):
    from django.contrib.auth.models import AnonymousUser

    from xblocks.partnership import permissions

    users = (world.learner("amina_a"), world.coordinator_a, world.hr, world.member, world.staff)
    assert tuple(permissions.allowed(user, name) for user in users) == PERMISSIONS[name]
    assert not permissions.allowed(AnonymousUser(), name)
