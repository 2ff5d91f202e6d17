"""The dashboard's hours, renewals and expiries, offers and placements by school and domain, the funnel and the
coverage history: each value on a small case (suppression included), then each role's view of them."""

import datetime

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from tests.partnership.test_indicators import TODAY, fact, run
from xblocks.partnership import indicators
from xblocks.partnership.data import Figure, NeedData

D = datetime.date


def test_hours_at_school_and_at_the_company_totals_and_medians_per_learner():
    facts = [fact(i, school_minutes=60 * h) for i, h in enumerate((10, 20, 30, 40, 50), start=1)]
    facts += [fact(i, mode="work_study", school_minutes=600, company_minutes=60 * h) for i, h in ((6, 100), (7, 200))]
    facts.append(fact(8))  # no hours at all: not in the medians
    _rows, total = run(facts)
    assert (total.school_hours.value, total.school_hours_median.value) == (170.0, 20.0)
    assert (total.company_hours.value, total.company_hours_median.value) == (300.0, 150.0)
    rows, total = run(facts, group_by="cohort_kind", below=5)
    by_kind = {row.key: row for row in rows}
    assert by_kind["initial"].school_hours.shown == "150"  # five learners: shown
    # two learners at the company: their total and median would tell about each of them
    assert by_kind["work_study"].company_hours.shown == "—" and by_kind["work_study"].company_hours_median.value is None
    assert total.company_hours.value is None and total.school_hours.value == 170.0


def test_expiring_within_90_days_expired_and_renewed():
    soon, later, past = (
        TODAY + datetime.timedelta(days=90),
        TODAY + datetime.timedelta(days=91),
        TODAY - datetime.timedelta(days=1),
    )
    facts = [
        fact(1, certified_after=10, certificate_valid_until=TODAY),  # expires today: expiring
        fact(2, certified_after=10, certificate_valid_until=soon),  # day 90: expiring
        fact(3, certified_after=10, certificate_valid_until=later),  # day 91: not yet
        fact(4, certified_after=10, certificate_valid_until=past),  # past its date, not yet marked
        fact(5, certified_after=10, certificate_status="expired", certificate_valid_until=past),
        fact(6, certified_after=10, certificate_status="revoked", certificate_valid_until=soon),  # neither
        fact(7, certified_after=10, certificate_valid_until=later, renewed_on=(D(2026, 6, 1),)),
        fact(8, certificate_valid_until=soon),  # not certified: nothing to expire
    ]
    _rows, total = run(facts)
    assert (total.expiring.value, total.expired.value, total.renewed.value) == (2, 2, 1)
    _rows, total = run(facts, below=5)
    assert (total.expiring.shown, total.expired.shown, total.renewed.shown) == ("< 5", "< 5", "< 5")
    assert run([fact(1, certified_after=10)], below=5)[1].expired.shown == "0"  # zero is never hidden


def test_renewals_and_expiries_per_period():
    facts = [fact(1, certified_after=5, renewed_on=(D(2026, 3, 1),), started_on=D(2024, 2, 1))]
    facts += [fact(2, certified_after=5, certificate_status="expired", started_on=D(2025, 2, 1))]
    rows, _total = run(facts, group_by="period")
    assert {r.key: (r.renewed.value, r.expired.value) for r in rows} == {"2024": (1, 0), "2025": (0, 1)}


def test_the_funnel_follows_the_totals_suppression():
    facts = [fact(i, certified_after=30) for i in range(1, 7)] + [fact(i) for i in range(7, 11)]
    _rows, total = run(facts)
    stages = indicators.funnel(total)
    assert [(key, count.value, share.shown) for key, count, share in stages] == [
        ("enrolled", 10, "100 %"),
        ("active", 0, "0 %"),
        ("certified", 6, "60 %"),
        ("placed", 0, "0 %"),
    ]
    _rows, total = run(facts[:3], below=5)
    stages = indicators.funnel(total)
    assert [count.shown for _key, count, _share in stages] == ["< 5", "0", "< 5", "0"]
    assert all(share.value is None for _key, _count, share in stages)  # no share of a hidden whole


NEED_BY = D(2027, 6, 1)


def need(n, skills, count=3, by_date=NEED_BY):
    return NeedData(n, 1, "Insurer", tuple(skills), count, by_date, "hire")


def test_coverage_history_counts_holders_valid_at_each_months_end():
    facts = [
        fact(1, certified_on=D(2026, 3, 10), certificate_status="active"),
        fact(2, certified_on=D(2026, 5, 2), certificate_status="expired", certificate_valid_until=D(2026, 8, 15)),
        fact(3, certified_on=D(2026, 9, 30), certificate_status="revoked"),  # never counted
        fact(4, proves=("cloud.x",), certified_on=D(2026, 1, 2), certificate_status="active"),  # lacks devops.y
    ]
    months, rows = indicators.coverage_history(facts, [need(1, ("cloud.x", "devops.y"))], today=TODAY, months=12)
    assert months[0] == D(2026, 1, 1) and months[-1] == D(2026, 12, 1)
    ((_need, figures),) = rows
    assert [f.value for f in figures] == [0, 0, 1, 1, 2, 2, 2, 1, 1, 1, 1, 1]
    _months, rows = indicators.coverage_history(facts, [need(1, ("cloud.x",))], today=TODAY, months=3, below=5)
    assert [f.shown for f in rows[0][1]] == ["< 5", "< 5", "< 5"]


def test_offers_and_placements_by_school_and_by_domain():
    facts = [fact(1, school=1), fact(2, school=1), fact(3, school=2, proves=("cybersecurity.z",))]
    placements = {1: [("hire", D(2026, 6, 1), None)], 3: [("internship", D(2026, 6, 1), None)]}
    offers = [((), frozenset({"cloud"}), 2), ((2,), frozenset({"cybersecurity", "cloud"}), 1)]
    by_school = indicators.outcome_breakdown(facts, placements, offers, by="school", keys=["1", "2"], below=0)
    assert [f.value for f in by_school["1"]] == [1, 2, 1, 1, 0, 0]  # the offer for every school counts here
    assert [f.value for f in by_school["2"]] == [2, 3, 1, 0, 0, 1]
    by_domain = indicators.outcome_breakdown(
        facts, placements, offers, by="domain", keys=["cloud", "devops", "cybersecurity"], below=5
    )
    assert [f.shown for f in by_domain["cloud"]] == ["2", "3", "< 5", "< 5", "0", "0"]  # offers are not people
    assert [f.shown for f in by_domain["devops"]] == ["0", "0", "< 5", "< 5", "0", "0"]


# --- each role's view, through the api and the page ---------------------------------------------------------

DASHBOARD = "/kafaat/partnership/dashboard/"


@pytest.fixture
def world(employers):
    from xblocks.certification import models as cert_models
    from xblocks.partnership import api

    day = timezone.localdate() - datetime.timedelta(days=10)
    for name in ("amina_a", "yanis_a", "lina_b"):
        enrolment = cert_models.Enrollment.objects.get(pk=employers.enrollments[name])
        cert_models.HoursEntry.objects.create(
            user=employers.learner(name), cohort_id=enrolment.cohort_id, source="school", minutes=600, date=day
        )
    api.record_placement(
        employers.staff,
        employers.enrollments["amina_a"],
        kind="hire",
        started_on=day,
        learner_consented=True,
        employer_name="Insurer",
    )
    api.create_offer(
        employers.hr,
        title="Cloud job",
        kind="hire",
        skills=["cloud.reverse-proxy"],
        starts_on=timezone.localdate() + datetime.timedelta(days=60),
        apply_by=timezone.localdate() + datetime.timedelta(days=30),
        places=3,
    )
    return employers


@pytest.mark.django_db
def test_staff_see_exact_figures_and_the_committee_aggregates_only(world):
    from django.db.models import Sum

    from xblocks.certification import models as cert_models
    from xblocks.partnership import api

    exact = api.dashboard(world.staff)
    minutes = cert_models.HoursEntry.objects.filter(source="school").aggregate(n=Sum("minutes"))["n"]
    assert exact.totals.school_hours.value == round(minutes / 60, 1) and exact.totals.school_hours_median.value
    assert {row.label: row.figures[2].value for row in exact.outcomes_by_school} == {"School A": 1, "School B": 0}
    assert {row.label: row.figures[0].value for row in exact.outcomes_by_school} == {"School A": 1, "School B": 1}
    assert [row.figures[0].value for row in exact.funnel] == [3, 3, 2, 1]
    seen = api.dashboard(world.member)
    assert seen.totals.school_hours.shown == "—" and seen.totals.school_hours_median.value is None
    assert {row.label: row.figures[2].shown for row in seen.outcomes_by_school} == {"School A": "< 5", "School B": "0"}
    assert [row.figures[0].shown for row in seen.funnel] == ["< 5", "< 5", "< 5", "< 5"]
    assert all(f.value is None or f.value == 0 for row in seen.coverage_history for f in row.figures[1:])


@pytest.mark.django_db
def test_a_coordinator_sees_their_school_only(world):
    from xblocks.partnership import api

    board = api.dashboard(world.coordinator_b)
    assert [row.label for row in board.outcomes_by_school] == ["School B"]
    from django.db.models import Sum

    from xblocks.certification import models as cert_models

    minutes = cert_models.HoursEntry.objects.filter(source="school", cohort__school_id=world.cohort_b.school_id)
    expected = round(minutes.aggregate(n=Sum("minutes"))["n"] / 60, 1)
    assert board.totals.enrolled.value == 1 and board.totals.school_hours.value == expected  # exact, one school
    assert [row.figures[0].value for row in board.funnel] == [1, 1, 1, 0]
    with pytest.raises(PermissionDenied):
        api.dashboard(world.coordinator_b, school_ids=[world.cohort_a.school_id])


@pytest.mark.django_db
def test_the_employer_sees_no_dashboard_only_what_consenting_learners_share(client, world):
    from xblocks.partnership import api

    with pytest.raises(PermissionDenied):
        api.dashboard(world.hr)
    client.force_login(world.hr)
    assert client.get(DASHBOARD).status_code == 403
    assert client.get("/kafaat/partnership/reports/").status_code == 403
    offer = api.list_offers(world.hr)[0]
    pool = api.talent_pool(world.hr, offer.id)
    assert [c.name for c in pool] == ["Amina_A", "Yanis_A"]  # lina_b shares but may not be contacted
    # a candidate is their certificates and skills: no hours, no progress, no placement
    assert not {"hours", "school_minutes", "progress", "placements"} & set(type(pool[0]).__dataclass_fields__)


@pytest.mark.django_db
def test_the_page_shows_each_new_table_and_chart_for_the_committee(client, world):
    client.force_login(world.member)
    html = client.get(DASHBOARD).content.decode()
    for marker in ('class="kafaat-committee__hours"', 'data-by="school"', 'data-by="domain"', 'data-chart="funnel"'):
        assert marker in html
    assert "amina" not in html.lower()


def test_figures_are_shown_as_figures():
    assert indicators._hours([0, 0], 5) == (Figure(None, "—"), Figure(None, "—"))


@pytest.mark.django_db
@pytest.mark.parametrize("lang", ["fr", "ar"])
def test_chart_coordinates_keep_a_decimal_point_in_every_language(client, world, lang):
    import re

    client.force_login(world.staff)
    html = client.get(DASHBOARD, HTTP_ACCEPT_LANGUAGE=lang).content.decode()
    assert 'data-chart="funnel"' in html
    # a language's decimal comma in an SVG attribute makes the browser drop the shape
    assert not re.search(r'\b(x|y|x1|x2|y1|y2|cx|cy|width)="-?\d+,\d', html)


@pytest.mark.django_db
def test_the_report_lists_coverage_by_month_twelve_in_the_workbook_six_on_the_page(world):
    from xblocks.partnership import api, report

    api.record_need(
        world.staff,
        employer_slug="insurer",
        skills=["cloud.reverse-proxy"],
        count=4,
        by_date=timezone.localdate() + datetime.timedelta(days=100),
        role_kind="hire",
    )
    board = api.dashboard(world.member)
    title = "Verified supply against each need, month by month"
    for months in (12, 6):
        (headers, rows) = next((h, r) for t, h, r in report.sections(board, months=months) if t == title)
        assert len(headers) == 3 + months and all(len(row) == len(headers) for row in rows)
        assert rows[0][2] == "4" and rows[0][-1] == "< 5"  # the target; two certified holders today: suppressed
