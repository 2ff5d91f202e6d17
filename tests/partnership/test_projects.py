"""R&D and capstone projects: coordinators start them for their school, the mentor signs off, and the
sign-off reaches certification as evidence that a track's ``project`` requirement reads."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

pytestmark = pytest.mark.django_db

CAPSTONE_TRACK = {
    "slug": "cloud-capstone",
    "title": "Cloud capstone",
    "requirements": [{"id": "capstone", "kind": "project", "title": "Capstone", "key": "cloud-capstone-2026"}],
}


@pytest.fixture
def mentor(django_user_model):
    return django_user_model.objects.create_user("mentor", "mentor@example.com", "pw", first_name="Mona")


def _project(world, actor=None, **overrides):
    from xblocks.partnership import api

    fields = {
        "title": "Log pipeline for claims",
        "school_id": world.cohort_a.school_id,
        "domain": "cloud",
        "mentor_username": "mentor",
        "employer_slug": "insurer",
        "requirement_key": "cloud-capstone-2026",
        "enrollment_ids": [world.enrollments["amina_a"]],
    }
    fields.update(overrides)
    return api.create_project(actor or world.coordinator_a, **fields)


def test_a_coordinator_starts_projects_for_their_school_only(employers, mentor):
    project = _project(employers)
    assert project.school_name == "School A" and project.mentor == "Mona"
    assert [name for _id, name, _signed in project.members] == ["Amina_A"]
    with pytest.raises(PermissionDenied):
        _project(employers, employers.coordinator_b)
    with pytest.raises(ValidationError):  # a learner of another school
        _project(employers, enrollment_ids=[employers.enrollments["lina_b"]])
    for who in (employers.member, employers.hr, employers.learner("amina_a")):
        with pytest.raises(PermissionDenied):
            _project(employers, who)


def test_only_the_mentor_signs_off_and_the_track_requirement_is_met(employers, mentor):
    from xblocks.certification import api as cert_api
    from xblocks.certification import tracks
    from xblocks.partnership import api

    tracks.load_track(CAPSTONE_TRACK)
    cohort = cert_api.ensure_cohort(
        "school-a", "cloud-capstone", "capstone-a", name="Capstone A", starts_on=datetime.date(2026, 1, 5)
    )
    amina = employers.learner("amina_a")
    enrollment = cert_api.enroll(amina, cohort.id)
    project = _project(employers, enrollment_ids=[enrollment])

    def met() -> bool:
        return next(p for p in cert_api.learner_progress(amina) if p.enrollment_id == enrollment).evaluation.met

    assert not met()
    for who in (employers.coordinator_a, employers.staff, employers.hr, amina):
        with pytest.raises(PermissionDenied):
            api.sign_off(who, project.id, enrollment)
    api.sign_off(mentor, project.id, enrollment)
    assert met()
    assert api.project_counts()["learners"] == {"members": 1, "signed_off": 1}
    api.sign_off(mentor, project.id, enrollment, signed_off=False)
    assert not met()


def test_who_sees_projects(employers, mentor):
    from xblocks.partnership import api

    _project(employers)
    assert len(api.list_projects(employers.coordinator_a)) == 1
    assert api.list_projects(employers.coordinator_b) == []
    assert len(api.list_projects(mentor)) == 1
    assert len(api.list_projects(employers.staff)) == 1
    for who in (employers.member, employers.hr, employers.learner("amina_a")):
        with pytest.raises(PermissionDenied):
            api.list_projects(who)


def test_a_coordinator_of_the_school_moves_a_project_on_and_nobody_else(employers, mentor, client):
    from xblocks.partnership import api, models

    project = _project(employers)
    for who in (employers.coordinator_b, mentor, employers.member, employers.hr, employers.learner("amina_a")):
        with pytest.raises(PermissionDenied):
            api.set_project_status(who, project.id, "completed")
    with pytest.raises(ValidationError):
        api.set_project_status(employers.coordinator_a, project.id, "abandoned")
    client.force_login(employers.coordinator_a)
    form = {"action": "status", "project": project.id, "status": "completed"}
    assert client.post("/kafaat/partnership/projects/", form).status_code == 200
    assert models.Project.objects.get(pk=project.id).status == "completed"
    client.force_login(employers.coordinator_b)
    assert client.post("/kafaat/partnership/projects/", {**form, "status": "active"}).status_code == 403
