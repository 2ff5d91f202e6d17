"""Placements: recorded with the learner's consent by who manages their school; they feed the integration rate."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied, ValidationError

from xblocks.partnership import api, models

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(certified, partners):
    return certified


def _record(world, who, name, **overrides):
    values = {
        "kind": "hire",
        "started_on": datetime.date(2026, 6, 1),
        "learner_consented": True,
        "employer_slug": "insurer",
    }
    values.update(overrides)
    return api.record_placement(who, world.enrollments[name], **values)


def test_a_coordinator_records_a_hire_of_their_schools_learner(world):
    placement = _record(world, world.coordinator_a, "amina_a", contract_type="permanent")
    assert (placement.employer, placement.kind) == ("Insurer", "hire")
    assert models.Placement.objects.get().school_id == world.cohort_a.school_id


@pytest.mark.parametrize("who", ["coordinator_b", "member", "learner"])
def test_nobody_else_records_a_placement(world, who):
    user = {"coordinator_b": world.coordinator_b, "member": world.member, "learner": world.learner("amina_a")}[who]
    with pytest.raises(PermissionDenied):
        _record(world, user, "amina_a")
    assert not models.Placement.objects.exists()


@pytest.mark.parametrize(
    "overrides",
    [
        {"learner_consented": False},
        {"employer_slug": "", "employer_name": ""},
        {"employer_slug": "nobody"},
        {"ended_on": datetime.date(2026, 1, 1)},
    ],
)
def test_a_placement_needs_consent_an_employer_and_sensible_dates(world, overrides):
    with pytest.raises(ValidationError):
        _record(world, world.staff, "amina_a", **overrides)


def test_the_integration_rate_counts_hires_and_work_study_within_six_months_of_certification(world):
    _record(world, world.staff, "amina_a")
    _record(world, world.staff, "lina_b", kind="internship")
    board = api.dashboard(world.staff)
    rows = {row.label: row for row in board.rows}
    assert (rows["School A"].placed.value, rows["School A"].integration_rate.value) == (1, 100.0)
    assert (rows["School B"].placed.value, rows["School B"].integration_rate.value) == (0, 0.0)
    assert board.totals.integration_rate.shown == "50 %"


def test_a_committee_member_sees_the_placed_count_suppressed(world):
    _record(world, world.staff, "amina_a")
    board = api.dashboard(world.member)
    assert board.totals.placed.shown == "< 5" and board.totals.integration_rate.value is None


@pytest.mark.parametrize(("who", "status"), [("staff", 200), ("coord_a", 200), ("member", 302), ("learner", 302)])
def test_the_placements_admin_is_for_staff_and_coordinators(client, world, who, status):
    user = {
        "staff": world.staff,
        "coord_a": world.coordinator_a,
        "member": world.member,
        "learner": world.learner("amina_a"),
    }[who]
    client.force_login(user)
    assert client.get("/admin/kafaat_partnership/placement/").status_code == status
