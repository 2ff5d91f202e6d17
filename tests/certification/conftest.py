"""Fixtures for the certification tests: the sample tracks, two schools with coordinators, learners and evidence."""

from __future__ import annotations

import datetime
import warnings

import pytest

from tests.certification.helpers import (  # noqa: F401
    CHECKOUT,
    COURSE_KEY,
    TRACKS_DIR,
    BlockHarness,
    CertWorld,
    complete_cloud_track,
    loadable_tracks,
)

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the deprecated stdlib ``cgi``; pytest.ini turns warnings into errors.
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation  # pylint: disable=import-outside-toplevel

    with translation.override("en"):
        yield


@pytest.fixture
def sample_tracks(db):
    from xblocks.certification import tracks  # pylint: disable=import-outside-toplevel

    report = tracks.load_directory(TRACKS_DIR)
    # only a track naming a lab still to come may be refused (see PENDING_LABS)
    assert all("matches no known lab" in error for error in report.errors), report.errors
    assert len(report.errors) == len(list(TRACKS_DIR.glob("*.json"))) - len(loadable_tracks()), report.errors
    return report


@pytest.fixture
def cert_world(sample_tracks, django_user_model) -> CertWorld:
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    staff = django_user_model.objects.create_user("platform_staff", "staff@example.com", "pw", is_staff=True)
    api.ensure_school("school-a", name="School A")
    api.ensure_school("school-b", name="School B")
    api.ensure_employer("insurer", "Insurer")
    coordinator_a = django_user_model.objects.create_user("coord_a", "ca@example.com", "pw", is_staff=True)
    coordinator_b = django_user_model.objects.create_user("coord_b", "cb@example.com", "pw")
    api.add_coordinator(coordinator_a, "school-a")
    api.add_coordinator(coordinator_b, "school-b")
    start = datetime.date(2026, 1, 5)
    cohort_a = api.ensure_cohort("school-a", "cloud-devops-practitioner", "cloud-a", name="Cloud A", starts_on=start)
    cohort_b = api.ensure_cohort("school-b", "cloud-devops-practitioner", "cloud-b", name="Cloud B", starts_on=start)
    world = CertWorld(staff, coordinator_a, coordinator_b, cohort_a, cohort_b)
    for name, cohort in (("amina_a", cohort_a), ("yanis_a", cohort_a), ("lina_b", cohort_b)):
        user = django_user_model.objects.create_user(name, f"{name}@example.com", "pw", first_name=name.title())
        world.learners[name] = user
        world.enrollments[name] = api.enroll(user, cohort.id, employee_id=f"E-{name}")
    return world


@pytest.fixture
def certified(cert_world) -> CertWorld:
    """``amina_a`` (school A) and ``lina_b`` (school B) each hold an issued certificate."""
    complete_cloud_track(cert_world, "amina_a")
    complete_cloud_track(cert_world, "lina_b")
    return cert_world


@pytest.fixture
def cert_block():
    def make(student: str, track: str = "cloud-devops-practitioner") -> BlockHarness:
        return BlockHarness(f'<kafaat_certification track_slug="{track}"/>', student)

    return make
