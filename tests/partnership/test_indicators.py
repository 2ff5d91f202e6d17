"""The committee's indicators from plain facts: counts, rates, medians, groupings and small-count suppression."""

import datetime

import pytest

from xblocks.certification.data import EnrolmentFact
from xblocks.partnership import indicators

TODAY = datetime.date(2026, 12, 1)
START = datetime.date(2026, 1, 10)


def fact(n, *, school=1, mode="initial", track="cloud", proves=("cloud.x", "devops.y"), certified_after=None, **kw):
    values = {
        "enrollment_id": n,
        "user_id": n,
        "cohort_id": school,
        "school_id": school,
        "cohort_mode": mode,
        "track_slug": track,
        "track_version_id": 1,
        "proves": proves,
        "started_on": START,
        "active": True,
    }
    if certified_after is not None:
        values.update(certified_on=START + datetime.timedelta(days=certified_after), certificate_status="active")
    values.update(kw)
    return EnrolmentFact(**values)


def run(facts, group_by="school", below=0, **filters):
    return indicators.aggregate(
        facts,
        group_by=group_by,
        filters=indicators.Filters(**filters),
        label=lambda key: f"L{key}",
        today=TODAY,
        active_days=30,
        below=below,
        total_label="All",
    )


def test_counts_rates_and_the_median_time_to_certificate():
    facts = [fact(i, certified_after=days) for i, days in enumerate((100, 120, 200, 300), start=1)]
    facts += [fact(i, last_activity_on=TODAY - datetime.timedelta(days=3)) for i in range(5, 9)]
    facts.append(fact(9, last_activity_on=TODAY - datetime.timedelta(days=90)))
    _rows, total = run(facts)
    assert (total.enrolled.value, total.active.value, total.certified.value) == (9, 4, 4)
    assert total.certification_rate.shown == "44.4 %"
    assert total.median_days_to_certificate.value == 160


def test_lab_pass_rate_counts_each_learner_once_across_their_enrolments():
    facts = [fact(1, labs_attempted=4, labs_passed=3), fact(2, labs_attempted=1, labs_passed=0)]
    facts.append(fact(1, enrollment_id=99, school=2, labs_attempted=4, labs_passed=3))
    _rows, total = run(facts)
    assert total.lab_pass_rate.value == 60.0


def test_a_committee_member_sees_fewer_than_five_as_such_and_no_rate_that_would_reveal_it():
    facts = [fact(i, school=1, certified_after=50) for i in range(1, 4)] + [fact(i, school=2) for i in range(4, 12)]
    rows, total = run(facts, below=5)
    small, large = rows
    assert (small.enrolled.shown, small.enrolled.value) == ("< 5", None)
    assert small.certification_rate.value is None and small.median_days_to_certificate.value is None
    assert (large.enrolled.shown, large.certified.shown) == ("8", "0")
    assert total.certified.shown == "< 5" and total.certification_rate.value is None
    unsuppressed, _total = run(facts)
    assert unsuppressed[0].enrolled.shown == "3"


def test_a_track_proving_two_domains_counts_in_each_and_a_domain_filter_keeps_its_own_column():
    facts = [fact(1), fact(2, track="soc", proves=("cybersecurity.z",))]
    rows, total = run(facts, group_by="domain")
    assert {row.key: row.enrolled.value for row in rows} == {"cloud": 1, "cybersecurity": 1, "devops": 1}
    assert total.enrolled.value == 2
    rows, _total = run(facts, group_by="domain", domains=frozenset({"cloud"}))
    assert [row.key for row in rows] == ["cloud"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"school_ids": frozenset({2})}, 1),
        ({"cohort_kinds": frozenset({"work_study"})}, 1),
        ({"track_slugs": frozenset({"cloud"})}, 2),
        ({"start": datetime.date(2026, 6, 1)}, 1),
        ({"end": datetime.date(2026, 6, 1)}, 2),
    ],
)
def test_filters_narrow_the_enrolments_counted(filters, expected):
    facts = [fact(1), fact(2, school=2, mode="work_study"), fact(3, track="soc", started_on=datetime.date(2026, 9, 1))]
    _rows, total = run(facts, **filters)
    assert total.enrolled.value == expected


def test_grouping_by_period_uses_the_cohort_start_year():
    facts = [fact(1), fact(2, started_on=datetime.date(2025, 9, 1))]
    rows, _total = run(facts, group_by="period")
    assert [row.key for row in rows] == ["2025", "2026"]
