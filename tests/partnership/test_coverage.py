"""Coverage: verified supply from valid certificates, the pipeline by projected date, and the gap to each need."""

import datetime

import pytest
from django.utils import timezone

from tests.certification.helpers import COURSE_KEY
from xblocks.certification import api as cert_api
from xblocks.partnership import api

pytestmark = pytest.mark.django_db

NEEDED = ["cloud.reverse-proxy", "devops.build-automation"]


def _progress(user):
    cert_api.record_lab_result(
        user,
        usage_key="block-v1:Kafaat+LABS101+2026+type@kafaat_lab+block@cloud_reverse_proxy",
        course_key=COURSE_KEY,
        score=3,
        max_score=3,
        passed=True,
        completed_at=None,
    )


@pytest.fixture
def world(certified, partners):
    _progress(certified.learner("yanis_a"))
    return certified


def test_supply_counts_valid_certificate_holders_and_the_pipeline_counts_learners_on_the_way(world):
    skills, _needs = api.skill_coverage()
    by_id = {row.skill_id: row for row in skills}
    assert (by_id["cloud.reverse-proxy"].supply, by_id["cloud.reverse-proxy"].pipeline) == (2, 1)
    assert (by_id["cybersecurity.log-triage"].supply, by_id["cybersecurity.log-triage"].pipeline) == (0, 0)


def test_a_suspended_certificate_is_no_supply(world):
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel

    cert = models.Certificate.objects.get(user=world.learner("lina_b"))
    cert_api.set_certificate_status(cert.pk, "suspended", reason="audit", actor="test")
    by_id = {row.skill_id: row for row in api.skill_coverage()[0]}
    assert by_id["cloud.reverse-proxy"].supply == 1


def test_the_gap_to_a_need_counts_only_who_is_projected_in_time(world):
    today = timezone.localdate()
    soon = api.record_need(
        world.member,
        employer_slug="insurer",
        skills=NEEDED,
        count=5,
        by_date=today + datetime.timedelta(days=1),
        role_kind="hire",
    )
    later = api.record_need(
        world.member,
        employer_slug="insurer",
        skills=NEEDED,
        count=5,
        by_date=datetime.date(2100, 1, 1),
        role_kind="hire",
    )
    skills, needs = api.skill_coverage()
    rows = {row.need.id: row for row in needs}
    assert (rows[soon.id].supply, rows[soon.id].pipeline, rows[soon.id].gap) == (2, 0, 3)
    assert (rows[later.id].supply, rows[later.id].pipeline, rows[later.id].gap) == (2, 1, 2)
    assert {row.skill_id: row.demand for row in skills}["cloud.reverse-proxy"] == 10


def test_a_school_scope_counts_only_that_schools_learners(world):
    by_id = {row.skill_id: row for row in api.skill_coverage(school_ids={world.cohort_b.school_id})[0]}
    assert (by_id["cloud.reverse-proxy"].supply, by_id["cloud.reverse-proxy"].pipeline) == (1, 0)


def test_the_nightly_job_stores_projections_and_coverage_reads_them(world):
    from xblocks.partnership import models, tasks  # pylint: disable=import-outside-toplevel

    api.record_need(
        world.member,
        employer_slug="insurer",
        skills=NEEDED,
        count=5,
        by_date=datetime.date(2100, 1, 1),
        role_kind="hire",
    )
    assert tasks.refresh_projections() == 1  # yanis: the only learner on the way
    row = models.Projection.objects.get()
    assert row.enrollment_id == world.enrollments["yanis_a"] and row.projected_on is not None
    models.Projection.objects.filter(pk=row.pk).update(projected_on=datetime.date(2101, 1, 1))  # too late now
    (need,) = api.skill_coverage()[1]
    assert (need.pipeline, need.gap) == (0, 3)


def test_a_dashboard_costs_the_same_queries_with_more_learners(world, django_user_model, django_assert_max_num_queries):
    from django.db import connection  # pylint: disable=import-outside-toplevel
    from django.test.utils import CaptureQueriesContext  # pylint: disable=import-outside-toplevel

    api.record_need(
        world.member,
        employer_slug="insurer",
        skills=NEEDED,
        count=5,
        by_date=datetime.date(2100, 1, 1),
        role_kind="hire",
    )
    api.refresh_projections()
    api.dashboard(world.member)  # requirement trees cached, as in a running process
    with CaptureQueriesContext(connection) as few:
        api.dashboard(world.member)
    for n in range(20):
        user = django_user_model.objects.create_user(f"more_{n}", f"more{n}@example.com", "pw")
        cert_api.enroll(user, world.cohort_a.id)
        _progress(user)
    api.refresh_projections()
    with django_assert_max_num_queries(len(few.captured_queries)):
        board = api.dashboard(world.member)
    assert board.totals.enrolled.value == 23
