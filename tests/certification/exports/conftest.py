"""A small world for export tests: two schools, one coordinator each, learners with and without consent."""

from __future__ import annotations

import warnings

import pytest
from django.utils import timezone

from tests.certification.exports.helpers import INJECTED_COHORT, INJECTED_NAME, World, _certificate  # noqa: F401

with warnings.catch_warnings():
    # the workbench URLs (in the demo's URLconf) import webob, which imports the deprecated cgi
    # module on Python 3.11; pytest.ini turns that into an error when a view test resolves URLs
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401


@pytest.fixture
def world(db, django_user_model) -> World:
    from xblocks.certification import api as cert_api  # pylint: disable=import-outside-toplevel
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel

    track = models.Track.objects.create(slug="cloud-ops", title="Cloud Operations Associate", description="Runs Linux")
    models.TrackVersion.objects.create(
        track=track,
        version=1,
        title=track.title,
        description=track.description,
        published=True,
        published_at=timezone.now(),
    )
    school_a = cert_api.ensure_school("north", name="North School", country="FR")
    school_b = cert_api.ensure_school("south", name="South School", country="MA")
    cert_api.ensure_employer("acme", "Acme Insurance")
    cert_api.ensure_employer("globex", "Globex")
    cohort_a = cert_api.ensure_cohort("north", "cloud-ops", "n-2026", name=INJECTED_COHORT)
    cohort_b = cert_api.ensure_cohort("south", "cloud-ops", "s-2026", name="South 2026")
    coordinator_a = django_user_model.objects.create_user("coord_a", "a@example.com", "pw")
    coordinator_b = django_user_model.objects.create_user("coord_b", "b@example.com", "pw")
    staff = django_user_model.objects.create_user("platform", "p@example.com", "pw", is_staff=True)
    cert_api.add_coordinator(coordinator_a, "north")
    cert_api.add_coordinator(coordinator_b, "south")
    world = World(school_a, school_b, coordinator_a, coordinator_b, staff, cohort_a, cohort_b)
    learners = [
        # username, first name, cohort, employee id, consents
        ("alice", INJECTED_NAME, cohort_a, "E-1001", ["acme"]),
        ("bob", "Bob", cohort_a, "E-1002", []),
        ("carol", "Carol", cohort_a, "E-1003", ["globex"]),
        ("dave", "Dave", cohort_b, "E-2001", ["acme"]),
        ("erin", "-1+1 Erin", cohort_a, "", ["acme"]),
    ]
    for n, (username, first, cohort, employee_id, consents) in enumerate(learners, start=1):
        user = django_user_model.objects.create_user(username, f"{username}@example.com", "pw", first_name=first)
        enrollment_id = cert_api.enroll(user, cohort.id, employee_id=employee_id)
        for employer in consents:
            cert_api.set_consent(enrollment_id, employer, True)
        world.enrollments[username] = enrollment_id
        world.certificates[username] = _certificate(user, enrollment_id, number=f"KF-2026-{n:05d}")
    return world


@pytest.fixture
def add_certificate():
    return _certificate
