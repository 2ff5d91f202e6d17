"""School boundaries through the real Django admin, for every role, including forged POSTs with another school's ids.

Roles: platform staff, the coordinator of school A, the coordinator of school B (both ``is_staff`` so
that they reach the admin), a learner and an anonymous visitor. Each writes through the admin's own
add forms and actions with the Django test client, exactly as a browser would.
"""

from __future__ import annotations

import datetime
import io

import pytest
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import Client

from xblocks.certification import api, models, permissions
from xblocks.certification.api import evaluation

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]

ADMIN = "/admin/kafaat_certification"


@pytest.fixture
def world(certified):
    certified.coordinator_b.is_staff = True
    certified.coordinator_b.save()
    return certified


def _client(user=None) -> Client:
    client = Client()
    if user is not None:
        client.force_login(user)
    return client


def _roles(world) -> dict:
    return {
        "staff": world.staff,
        "coord_a": world.coordinator_a,
        "coord_b": world.coordinator_b,
        "learner": world.learner("amina_a"),
        "anonymous": None,
    }


def _hours_form(cohort_id, user_id, **extra) -> dict:
    return {
        "cohort": cohort_id,
        "user": user_id,
        "source": "school",
        "category": "cloud",
        "minutes": 600,
        "date": "2026-02-03",
        "note": "forged?",
    } | extra


def _lina_hours(world) -> int:
    return sum(models.HoursEntry.objects.filter(user=world.learner("lina_b")).values_list("minutes", flat=True))


# ---------------------------------------------------------------- the reported attack


def test_a_coordinator_cannot_add_hours_to_another_schools_learner_through_the_admin(world):
    lina = world.learner("lina_b")
    before_hours, before_rows = _lina_hours(world), models.HoursEntry.objects.count()
    before = api.learner_progress(lina)[0].evaluation.hours_total
    client = _client(world.coordinator_a)
    forged = [
        _hours_form(world.cohort_b.id, lina.pk),  # the other school's cohort
        _hours_form("", lina.pk),  # no cohort: used to count for every cohort
        _hours_form(world.cohort_a.id, lina.pk),  # own cohort, another school's learner
        _hours_form(world.cohort_a.id, world.learner("amina_a").pk, minutes=-600),  # negative without a correction
        _hours_form(  # a "correction" of school B's entry, filed in school A
            world.cohort_a.id,
            world.learner("amina_a").pk,
            minutes=-60,
            corrects=models.HoursEntry.objects.filter(user=lina).first().pk,
        ),
    ]
    for form in forged:
        response = client.post(f"{ADMIN}/hoursentry/add/", form)
        assert response.status_code == 200, form  # the form again, with its errors
        assert "errornote" in response.content.decode() or "errorlist" in response.content.decode()
    assert models.HoursEntry.objects.count() == before_rows
    assert _lina_hours(world) == before_hours
    assert api.learner_progress(lina)[0].evaluation.hours_total == before


def test_a_coordinator_cannot_sign_off_another_schools_learner_through_the_admin(world):
    lina = world.learner("lina_b")
    client = _client(world.coordinator_a)
    for cohort in (world.cohort_b.id, "", world.cohort_a.id):
        response = client.post(
            f"{ADMIN}/attestation/add/", {"cohort": cohort, "user": lina.pk, "competency": "kubernetes-admin"}
        )
        assert response.status_code == 200
    assert not models.Attestation.objects.filter(competency="kubernetes-admin").exists()


def test_the_admin_add_forms_offer_only_the_actors_cohorts_and_learners(world):
    page = _client(world.coordinator_a).get(f"{ADMIN}/hoursentry/add/").content.decode()
    assert "Cloud A" in page and "Cloud B" not in page
    assert "amina_a" in page and "lina_b" not in page
    assert 'name="created_by"' not in page and 'name="import_batch"' not in page
    sign_off = _client(world.coordinator_a).get(f"{ADMIN}/attestation/add/").content.decode()
    assert 'name="attester"' not in sign_off and 'name="attested_at"' not in sign_off


def test_a_coordinator_adds_hours_and_sign_offs_to_their_own_learners_through_the_api(world):
    amina = world.learner("amina_a")
    client = _client(world.coordinator_a)
    response = client.post(f"{ADMIN}/hoursentry/add/", _hours_form(world.cohort_a.id, amina.pk, minutes=90))
    assert response.status_code == 302, response.content.decode()[:2000]
    entry = models.HoursEntry.objects.get(user=amina, minutes=90)
    assert (entry.cohort_id, entry.created_by_id) == (world.cohort_a.id, world.coordinator_a.pk)
    response = client.post(
        f"{ADMIN}/attestation/add/",
        {
            "cohort": world.cohort_a.id,
            "user": amina.pk,
            "competency": "terraform",
            "attester": world.staff.pk,  # forged: neither can be typed in
            "attested_at_0": "2020-01-01",
            "attested_at_1": "00:00:00",
        },
    )
    assert response.status_code == 302
    sign_off = models.Attestation.objects.get(user=amina, competency="terraform")
    assert sign_off.attester_id == world.coordinator_a.pk
    assert sign_off.attested_at.year >= 2026
    assert sign_off.cohort_id == world.cohort_a.id


@pytest.mark.parametrize("role", ["staff", "coord_b"])
def test_staff_and_the_own_coordinator_may_add_hours_in_school_b(world, role):
    lina = world.learner("lina_b")
    response = _client(_roles(world)[role]).post(
        f"{ADMIN}/hoursentry/add/", _hours_form(world.cohort_b.id, lina.pk, minutes=45)
    )
    assert response.status_code == 302
    assert models.HoursEntry.objects.filter(user=lina, minutes=45, cohort_id=world.cohort_b.id).exists()


@pytest.mark.parametrize("role", ["learner", "anonymous"])
@pytest.mark.parametrize("model", ["hoursentry", "attestation", "enrollment", "cohort", "certificate", "consent"])
def test_learners_and_strangers_get_nothing_from_the_admin(world, role, model):
    client = _client(_roles(world)[role])
    for url in (f"{ADMIN}/{model}/", f"{ADMIN}/{model}/add/"):
        response = client.get(url)
        assert response.status_code == 302 and "/admin/login/" in response["Location"], url
    response = client.post(f"{ADMIN}/hoursentry/add/", _hours_form(world.cohort_a.id, world.learner("amina_a").pk))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
    assert not models.HoursEntry.objects.filter(note="forged?").exists()


# ---------------------------------------------------------------- every other admin path


def test_enrolments_cannot_be_added_to_another_school_nor_repointed_to_another_learner(world):
    client = _client(world.coordinator_a)
    stranger = type(world.staff).objects.create_user("stranger")
    response = client.post(
        f"{ADMIN}/enrollment/add/", {"user": stranger.pk, "cohort": world.cohort_b.id, "status": "active"}
    )
    assert response.status_code == 200
    assert not models.Enrollment.objects.filter(user=stranger).exists()
    mine = models.Enrollment.objects.get(pk=world.enrollments["amina_a"])
    response = client.post(
        f"{ADMIN}/enrollment/{mine.pk}/change/",
        {"user": world.learner("lina_b").pk, "cohort": world.cohort_a.id, "status": "active", "employee_id": "X"},
    )
    assert response.status_code == 302
    mine.refresh_from_db()
    assert mine.user_id == world.learner("amina_a").pk and mine.employee_id == "X"
    response = client.post(
        f"{ADMIN}/enrollment/{mine.pk}/change/", {"cohort": world.cohort_b.id, "status": "active", "employee_id": "X"}
    )
    assert response.status_code == 200
    assert models.Enrollment.objects.get(pk=mine.pk).cohort_id == world.cohort_a.id


def test_a_coordinator_cannot_create_cohorts_nor_move_one_to_another_school(world):
    client = _client(world.coordinator_a)
    school_b = models.School.objects.get(slug="school-b")
    assert client.get(f"{ADMIN}/cohort/add/").status_code == 403
    cohort = models.Cohort.objects.get(pk=world.cohort_a.id)
    response = client.post(
        f"{ADMIN}/cohort/{cohort.pk}/change/",
        {
            "school": school_b.pk,
            "track": cohort.track_id,
            "slug": cohort.slug,
            "name": "Renamed",
            "mode": "initial",
            "course_keys": "[]",
        },
    )
    assert response.status_code == 302
    cohort.refresh_from_db()
    assert cohort.name == "Renamed" and cohort.school.slug == "school-a"


def test_consent_is_the_learners_a_coordinator_cannot_grant_or_revive_it(world):
    api.set_consent(world.enrollments["amina_a"], "insurer", True)
    api.set_consent(world.enrollments["amina_a"], "insurer", False)  # the learner withdrew
    consent = models.Consent.objects.get(enrollment_id=world.enrollments["amina_a"])
    client = _client(world.coordinator_a)
    assert client.get(f"{ADMIN}/consent/").status_code == 200
    assert client.get(f"{ADMIN}/consent/add/").status_code == 403
    response = client.post(
        f"{ADMIN}/consent/{consent.pk}/change/",
        {
            "enrollment": consent.enrollment_id,
            "employer": consent.employer_id,
            "granted_at_0": "2026-01-01",
            "granted_at_1": "00:00:00",
        },
    )
    assert response.status_code == 403
    assert models.Consent.objects.get(pk=consent.pk).withdrawn_at is not None


def test_a_coordinator_cannot_publish_a_draft_track_version_through_an_action(world):
    track = models.Track.objects.get(slug="cloud-devops-practitioner")
    draft = models.TrackVersion.objects.create(track=track, version=99, title="Draft")
    response = _client(world.coordinator_a).post(
        f"{ADMIN}/trackversion/", {"action": "publish", "_selected_action": [draft.pk]}
    )
    assert response.status_code in (200, 302, 403)
    assert not models.TrackVersion.objects.get(pk=draft.pk).published
    _client(world.staff).post(f"{ADMIN}/trackversion/", {"action": "publish", "_selected_action": [draft.pk]})
    assert models.TrackVersion.objects.get(pk=draft.pk).published


def test_changelist_filters_cannot_reach_another_school(world):
    page = _client(world.coordinator_a).get(f"{ADMIN}/hoursentry/", {"cohort__id__exact": world.cohort_b.id})
    assert "lina_b" not in page.content.decode()


@pytest.mark.parametrize(
    "url",
    [
        "/admin/kafaat_credentials/verification/",
        "/admin/kafaat_credentials/signedcredential/",
        "/admin/kafaat_credentials/employertoken/",
        "/admin/kafaat_exports/export/",
        "/admin/kafaat_exports/endpoint/",
        "/admin/kafaat_certification/schoolcoordinator/",
    ],
)
def test_operator_pages_refuse_coordinators_even_with_a_granted_model_permission(world, url):
    app, model = url.split("/")[2:4]
    world.coordinator_a.user_permissions.add(
        *Permission.objects.filter(content_type__app_label=app, content_type__model=model)
    )
    assert _client(world.coordinator_a).get(url).status_code == 403
    assert _client(world.staff).get(url).status_code in (200, 403)  # staff: Django's model permissions decide
    superuser = type(world.staff).objects.create_superuser("root", "root@example.com", "pw")
    assert _client(superuser).get(url).status_code == 200


def test_the_admin_sign_in_does_not_redirect_off_site(world):
    client = Client()
    response = client.post(
        "/admin/login/?next=https://attacker.example/",
        {"username": "platform_staff", "password": "pw", "next": "https://attacker.example/"},
    )
    assert response.status_code == 302
    assert "attacker.example" not in response["Location"]


# ---------------------------------------------------------------- other doors, same permissions


def test_the_import_command_refuses_another_schools_cohort(world, tmp_path):
    out = io.StringIO()
    path = tmp_path / "hours.csv"
    path.write_text("username,cohort,source,minutes,date\nlina_b,cloud-b,school,600,2026-02-01\n")
    with pytest.raises(CommandError):
        call_command("kafaat_import_hours", str(path), "--as", "coord_a", "--commit", stdout=out)
    assert "Unknown cohort" in out.getvalue()
    assert not models.HoursEntry.objects.filter(minutes=600, user=world.learner("lina_b")).exists()


def test_an_import_naming_a_cohort_slug_two_schools_share_must_name_the_school(world):
    api.ensure_cohort("school-b", "cloud-devops-practitioner", "cloud-a", name="B's own cloud-a")
    raw = "username,cohort,source,minutes,date\namina_a,cloud-a,school,30,2026-02-01\n"
    from xblocks.certification import imports  # pylint: disable=import-outside-toplevel

    report = imports.import_hours_csv(world.staff, raw, dry_run=False)
    assert report.imported == 0 and report.problems[0].column == "cohort"
    report = imports.import_hours_csv(world.staff, raw.replace(",cloud-a,", ",school-a/cloud-a,"), dry_run=False)
    assert report.imported == 1
    assert models.HoursEntry.objects.get(pk=report.created_ids[0]).cohort_id == world.cohort_a.id
    # a coordinator of school A alone still writes the plain slug
    report = imports.import_hours_csv(world.coordinator_a, raw.replace(",30,", ",31,"), dry_run=False)
    assert report.imported == 1


def test_a_correction_must_stay_in_the_cohort_of_the_entry_it_corrects(world):
    lina = world.learner("lina_b")
    api.enroll(lina, world.cohort_a.id)  # lina now studies in both schools
    theirs = models.HoursEntry.objects.filter(user=lina, cohort_id=world.cohort_b.id).first()
    from django.core.exceptions import ValidationError  # pylint: disable=import-outside-toplevel

    with pytest.raises(ValidationError):
        api.add_hours(
            world.coordinator_a,
            lina,
            world.cohort_a.id,
            source="school",
            minutes=-60,
            date=datetime.date(2026, 2, 1),
            corrects_id=theirs.pk,
        )


def test_hours_and_sign_offs_count_only_in_their_own_cohort(world):
    lina = world.learner("lina_b")
    before = {p.cohort_id: p.evaluation for p in api.learner_progress(lina)}
    api.enroll(lina, world.cohort_a.id)
    api.add_hours(
        world.coordinator_a, lina, world.cohort_a.id, source="school", minutes=600, date=datetime.date(2026, 2, 1)
    )
    api.add_attestation(world.coordinator_a, lina, world.cohort_a.id, "kubernetes-admin")
    after = {p.cohort_id: p.evaluation for p in api.learner_progress(lina)}
    assert after[world.cohort_b.id].hours_total == before[world.cohort_b.id].hours_total
    assert after[world.cohort_a.id].hours_total == 10
    assert "kubernetes-admin" not in evaluation._load([lina.pk], set()).attestations.get(
        (lina.pk, world.cohort_b.id), {}
    )


# ---------------------------------------------------------------- the permissions table (docs/certification.md)

EXPECTED = {
    # permission: (staff, coordinator A on school A's row, coordinator A on school B's row, learner, anonymous)
    permissions.SEE_REFERENCE: (True, True, True, False, False),
    permissions.CHANGE_REFERENCE: (True, False, False, False, False),
    permissions.SEE_COORDINATORS: (True, False, False, False, False),
    permissions.SEE_COHORT: (True, True, False, False, False),
    permissions.ADD_COHORT: (True, False, False, False, False),
    permissions.CHANGE_COHORT: (True, True, False, False, False),
    permissions.ENROL: (True, True, False, False, False),
    permissions.RECORD_HOURS: (True, True, False, False, False),
    permissions.SIGN_OFF: (True, True, False, False, False),
    permissions.SEE_CONSENT: (True, True, False, False, False),
    permissions.RECORD_CONSENT: (True, False, False, False, False),
    permissions.SEE_CERTIFICATE: (True, True, False, False, False),
    permissions.CHANGE_CERTIFICATE_STATUS: (True, True, False, False, False),
    permissions.EXPORT_RECORDS: (True, True, False, False, False),
    permissions.SEE_OPERATIONS: (True, False, False, False, False),
}


@pytest.mark.parametrize("permission", sorted(EXPECTED))
def test_the_permissions_table(world, permission):
    from django.contrib.auth.models import AnonymousUser  # pylint: disable=import-outside-toplevel

    cohort_a = models.Cohort.objects.get(pk=world.cohort_a.id)
    cohort_b = models.Cohort.objects.get(pk=world.cohort_b.id)
    got = (
        permissions.allowed(world.staff, permission, cohort_b),
        permissions.allowed(world.coordinator_a, permission, cohort_a),
        permissions.allowed(world.coordinator_a, permission, cohort_b),
        permissions.allowed(world.learner("amina_a"), permission, cohort_a),
        permissions.allowed(AnonymousUser(), permission, cohort_a),
    )
    assert got == EXPECTED[permission]
    # The same rule answers Django's has_perm where django-rules' backend is installed (Open edX does).
    assert world.coordinator_a.has_perm(permission, cohort_a) == got[1]


def test_an_unknown_permission_name_is_an_error_not_a_silent_no():
    with pytest.raises(KeyError):
        permissions.allowed(None, "kafaat.typo")


# ---------------------------------------------------------------- the 0002 migration of cohort-less rows


def test_migration_places_cohort_less_rows_where_their_author_could_have_put_them(world):
    import importlib  # pylint: disable=import-outside-toplevel

    from django.apps import apps  # pylint: disable=import-outside-toplevel

    migration = importlib.import_module("xblocks.certification.migrations.0002_hours_and_signoffs_belong_to_a_cohort")
    lina, amina = world.learner("lina_b"), world.learner("amina_a")
    api.enroll(amina, world.cohort_b.id)  # amina studies in both schools
    day = datetime.date(2026, 2, 1)

    def legacy_hours(user, author, minutes):
        entry = api.add_hours(world.staff, user, world.cohort_b.id, source="school", minutes=minutes, date=day)
        models.HoursEntry.objects.filter(pk=entry.id).update(cohort=None, created_by=author)
        return entry.id

    by_staff = legacy_hours(amina, world.staff, 7)  # staff: counted in both of amina's cohorts, still does
    forged = legacy_hours(lina, world.coordinator_a, 600)  # coordinator A on school B's learner: counts nowhere
    by_own = legacy_hours(lina, world.coordinator_b, 11)  # coordinator B on their own learner: cohort B
    second_a = api.ensure_cohort("school-a", "cloud-devops-practitioner", "cloud-a2", name="Cloud A2")
    api.enroll(amina, second_a.id)
    api.add_attestation(world.staff, amina, world.cohort_a.id, "school-a-skill")
    migration.forwards(apps, None)

    placed = models.HoursEntry.objects.filter(minutes=7, user=amina).values_list("cohort_id", flat=True)
    assert sorted(placed) == sorted([world.cohort_a.id, world.cohort_b.id, second_a.id])  # each cohort, once
    assert models.HoursEntry.objects.get(pk=by_staff).cohort_id is not None
    assert models.HoursEntry.objects.get(pk=forged).cohort_id is None  # kept, visible to staff, counts nowhere
    assert models.HoursEntry.objects.get(pk=by_own).cohort_id == world.cohort_b.id
    hours = {p.cohort_id: p.evaluation.hours_total for p in api.learner_progress(lina)}
    assert hours[world.cohort_b.id] == pytest.approx(20 + 11 / 60, abs=0.01)
    # a school's sign-off follows the learner into that school's other cohorts only
    signed = models.Attestation.objects.filter(user=amina, competency="school-a-skill")
    assert sorted(signed.values_list("cohort_id", flat=True)) == sorted([world.cohort_a.id, second_a.id])
