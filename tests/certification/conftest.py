"""Fixtures for the certification tests: the sample tracks, two schools with coordinators, learners and evidence."""

from __future__ import annotations

import datetime
import json
import pathlib
import uuid
import warnings
from dataclasses import dataclass, field

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the deprecated stdlib ``cgi``; pytest.ini turns warnings into errors.
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401  pylint: disable=unused-import

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]
TRACKS_DIR = CHECKOUT / "course_content" / "tracks"
COURSE_KEY = "course-v1:Kafaat+LABS101+2026"


@dataclass
class CertWorld:
    """Two schools (A, B), a coordinator each, platform staff, one cohort per school on the cloud track."""

    staff: object
    coordinator_a: object
    coordinator_b: object
    cohort_a: object  # CohortData
    cohort_b: object
    learners: dict = field(default_factory=dict)  # username -> user
    enrollments: dict = field(default_factory=dict)  # username -> enrollment id

    def learner(self, name: str):
        return self.learners[name]


def complete_cloud_track(world: CertWorld, username: str, *, attest: bool = True, issue: bool = True) -> None:
    """Give a learner of ``cohort_a``/``cohort_b`` everything the cloud track asks for."""
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    user = world.learners[username]
    cohort = world.cohort_a if username.endswith("_a") else world.cohort_b
    for lab in ("cloud_reverse_proxy", "devops_make_hooks"):
        api.record_lab_result(
            user,
            usage_key=f"block-v1:Kafaat+LABS101+2026+type@kafaat_lab+block@{lab}",
            course_key=COURSE_KEY,
            score=3,
            max_score=3,
            passed=True,
            completed_at=None,
        )
    api.on_course_grade_changed(user.pk, COURSE_KEY, 0.9, True)
    api.add_hours(
        world.staff, user, cohort.id, source="school", minutes=16 * 60, date=datetime.date(2026, 2, 1), category="cloud"
    )
    api.add_hours(
        world.staff,
        user,
        cohort.id,
        source="company",
        minutes=4 * 60,
        date=datetime.date(2026, 2, 2),
        category="security",
    )
    if attest:
        api.add_attestation(world.staff, user, cohort.id, "incident-response")
    # Tests run inside a transaction where on-commit evaluation never fires; evaluate as the task would.
    if issue:
        api.evaluate_and_issue(user.pk)


@pytest.fixture(autouse=True)
def _english():
    from django.utils import translation  # pylint: disable=import-outside-toplevel

    with translation.override("en"):
        yield


@pytest.fixture
def sample_tracks(db):  # pylint: disable=unused-argument
    from xblocks.certification import tracks  # pylint: disable=import-outside-toplevel

    report = tracks.load_directory(TRACKS_DIR)
    assert not report.errors, report.errors
    return report


@pytest.fixture
def cert_world(sample_tracks, django_user_model) -> CertWorld:  # pylint: disable=unused-argument
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


class BlockHarness:
    """A certification block in the workbench runtime, as one user."""

    def __init__(self, olx: str, student: str):
        from workbench.runtime import WorkbenchRuntime  # pylint: disable=import-outside-toplevel

        runtime = WorkbenchRuntime(student)
        runtime.id_generator.set_scenario(f"certtest-{uuid.uuid4().hex[:10]}")
        self.usage_id = runtime.parse_xml_string(olx)
        self.block = runtime.get_block(self.usage_id)

    def html(self) -> str:
        return self.block.render("student_view", {}).content

    def call(self, handler: str, data: dict | None = None) -> tuple[int, dict]:
        from webob import Request  # pylint: disable=import-outside-toplevel

        request = Request.blank("/", method="POST")
        request.body = json.dumps(data or {}).encode("utf-8")
        request.content_type = "application/json"
        response = self.block.runtime.handle(self.block, handler, request)
        return response.status_code, json.loads(response.body or b"null")

    def get(self, handler: str, query: str = ""):
        from webob import Request  # pylint: disable=import-outside-toplevel

        return self.block.runtime.handle(self.block, handler, Request.blank(f"/?{query}", method="GET"))


@pytest.fixture
def cert_block():
    def make(student: str, track: str = "cloud-devops-practitioner") -> BlockHarness:
        return BlockHarness(f'<kafaat_certification track_slug="{track}"/>', student)

    return make
