"""Pure aggregation of enrolment facts into the committee's indicators, with small counts suppressed.

No database here: the api hands in ``EnrolmentFact`` values (from certification's api) and gets
``IndicatorRow`` values back, so every figure is testable with plain lists.
"""

from __future__ import annotations

import datetime
import statistics
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from xblocks.partnership.data import Figure, IndicatorRow

GROUPINGS = ("school", "cohort_kind", "domain", "track", "period")
SUPPRESSED_RATE = "—"
INTEGRATION_WINDOW = datetime.timedelta(days=183)  # "placed within 6 months of certification"
INTEGRATING_KINDS = frozenset({"hire", "work_study"})  # an internship is not an integration
EXPIRY_WINDOW = datetime.timedelta(days=90)  # "expiring soon": the committee plans renewals a quarter ahead
VALID_STATUSES = frozenset({"active", "expired"})  # revoked or suspended certificates never counted as supply


def expired(fact, today: datetime.date) -> bool:
    if not fact.certified_on:
        return False
    if fact.certificate_status == "expired":
        return True
    return (
        fact.certificate_status == "active"
        and bool(fact.certificate_valid_until)
        and (fact.certificate_valid_until < today)
    )


def expiring(fact, today: datetime.date) -> bool:
    """An active certificate whose validity ends within the next 90 days (today included)."""
    until = fact.certificate_valid_until
    return bool(fact.certified_on and fact.certificate_status == "active" and until) and (
        today <= until <= today + EXPIRY_WINDOW
    )


def _hours(minutes: list[int], below: int) -> tuple[Figure, Figure]:
    """Total and per-learner median of hours, over the learners who have any; hidden when they are fewer than
    ``below`` (a total of three learners' hours tells about each of them)."""
    minutes = [m for m in minutes if m]
    if not minutes or (below and len(minutes) < below):
        return Figure(None, SUPPRESSED_RATE), Figure(None, SUPPRESSED_RATE)
    total = round(sum(minutes) / 60, 1)
    median = round(statistics.median(minutes) / 60, 1)
    return Figure(total, f"{total:g}"), Figure(median, f"{median:g}")


def integrated(fact, placements: dict[int, list[tuple[str, datetime.date, datetime.date | None]]]) -> bool:
    """Certified, and hired or on a work-study contract that starts within 6 months and was not over before."""
    if not fact.certified_on:
        return False
    return any(
        kind in INTEGRATING_KINDS
        and started <= fact.certified_on + INTEGRATION_WINDOW
        and (ended is None or ended >= fact.certified_on)
        for kind, started, ended in placements.get(fact.enrollment_id, ())
    )


@dataclass(frozen=True)
class Filters:
    school_ids: frozenset[int] | None = None
    cohort_kinds: frozenset[str] | None = None
    domains: frozenset[str] | None = None
    track_slugs: frozenset[str] | None = None
    start: datetime.date | None = None  # enrolments whose cohort started in [start, end]
    end: datetime.date | None = None


def domains_of(fact) -> tuple[str, ...]:
    """The domains an enrolment counts in: those of the skills its track proves (``domain.skill`` ids)."""
    return tuple(sorted({skill.split(".", 1)[0] for skill in fact.proves})) or ("",)


def keep(fact, filters: Filters) -> bool:
    if filters.school_ids is not None and fact.school_id not in filters.school_ids:
        return False
    if filters.cohort_kinds and fact.cohort_mode not in filters.cohort_kinds:
        return False
    if filters.track_slugs and fact.track_slug not in filters.track_slugs:
        return False
    if filters.domains and not set(domains_of(fact)) & filters.domains:
        return False
    if filters.start and fact.started_on < filters.start:
        return False
    return not (filters.end and fact.started_on > filters.end)


def group_keys(fact, group_by: str) -> tuple[str, ...]:
    if group_by == "school":
        return (str(fact.school_id),)
    if group_by == "cohort_kind":
        return (fact.cohort_mode,)
    if group_by == "domain":
        return domains_of(fact)
    if group_by == "track":
        return (fact.track_slug,)
    if group_by == "period":
        return (str(fact.started_on.year),)
    raise ValueError(f"unknown grouping {group_by!r}")


def _count(value: int, below: int) -> Figure:
    if below and 0 < value < below:
        return Figure(None, f"< {below}")
    return Figure(value, str(value))


def _percent(part: int, whole: int, hidden: bool) -> Figure:
    if hidden:
        return Figure(None, SUPPRESSED_RATE)
    if not whole:
        return Figure(None, SUPPRESSED_RATE)
    value = round(100 * part / whole, 1)
    return Figure(value, f"{value:g} %")


def indicator_row(
    key: str, label: str, facts: list, *, today: datetime.date, active_days: int, below: int, placements=None
):
    enrolled = len(facts)
    cutoff = today - datetime.timedelta(days=active_days)
    active = sum(1 for f in facts if f.active and f.last_activity_on and f.last_activity_on >= cutoff)
    certified_facts = [f for f in facts if f.certified_on]
    certified = len(certified_facts)
    small = bool(below) and (0 < enrolled < below or 0 < certified < below)
    days = [(f.certified_on - f.started_on).days for f in certified_facts]
    median = Figure(None, SUPPRESSED_RATE)
    if days and not (below and certified < below):
        value = int(statistics.median(days))
        median = Figure(value, str(value))
    labs: dict[int, tuple[int, int]] = {f.user_id: (f.labs_attempted, f.labs_passed) for f in facts}
    placed = sum(1 for f in certified_facts if integrated(f, placements or {}))
    attempted = sum(a for a, _p in labs.values())
    passed = sum(p for _a, p in labs.values())
    school_hours, school_median = _hours([f.school_minutes for f in facts], below)
    company_hours, company_median = _hours([f.company_minutes for f in facts], below)
    return IndicatorRow(
        key=key,
        label=label,
        enrolled=_count(enrolled, below),
        active=_count(active, below),
        certified=_count(certified, below),
        certification_rate=_percent(certified, enrolled, small),
        median_days_to_certificate=median,
        lab_pass_rate=_percent(passed, attempted, bool(below) and 0 < len(labs) < below),
        placed=_count(placed, below),
        integration_rate=_percent(placed, certified, small or (bool(below) and 0 < placed < below)),
        school_hours=school_hours,
        school_hours_median=school_median,
        company_hours=company_hours,
        company_hours_median=company_median,
        expiring=_count(sum(1 for f in certified_facts if expiring(f, today)), below),
        expired=_count(sum(1 for f in certified_facts if expired(f, today)), below),
        renewed=_count(sum(1 for f in certified_facts if f.renewed_on), below),
    )


def aggregate(
    facts: Iterable,
    *,
    group_by: str,
    filters: Filters,
    label: Callable[[str], str],
    today: datetime.date,
    active_days: int,
    below: int,
    total_label: str,
    placements: dict | None = None,
) -> tuple[list[IndicatorRow], IndicatorRow]:
    """Rows per group (sorted by label) and the total over every kept enrolment."""
    groups: dict[str, list] = defaultdict(list)
    kept = []
    for fact in facts:
        if not keep(fact, filters):
            continue
        kept.append(fact)
        for key in group_keys(fact, group_by):
            if group_by != "domain" or not filters.domains or key in filters.domains:
                groups[key].append(fact)
    options = {"today": today, "active_days": active_days, "below": below, "placements": placements or {}}
    rows = [indicator_row(key, label(key), members, **options) for key, members in groups.items()]
    rows.sort(key=lambda row: row.label)
    return rows, indicator_row("", total_label, kept, **options)


def funnel(totals: IndicatorRow) -> list[tuple[str, Figure, Figure]]:
    """Enrolled → active → certified → placed as ``(stage, count, percent of enrolled)``, from the totals row
    (so the suppression is the totals'). Active is the recent-activity count: a certified learner who is done
    is no longer active, so the stages need not shrink monotonically."""
    enrolled = totals.enrolled.value
    stages = [("enrolled", totals.enrolled), ("active", totals.active), ("certified", totals.certified)]
    stages.append(("placed", totals.placed))
    rows = []
    for key, figure in stages:
        share = Figure(None, SUPPRESSED_RATE)
        if figure.value is not None and enrolled:
            value = round(100 * figure.value / enrolled, 1)
            share = Figure(value, f"{value:g} %")
        rows.append((key, figure, share))
    return rows


def month_starts(today: datetime.date, months: int) -> list[datetime.date]:
    """The first day of the last ``months`` months, the current one last."""
    year, month = today.year, today.month
    days = []
    for _n in range(months):
        days.append(datetime.date(year, month, 1))
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return days[::-1]


def _month_end(first: datetime.date, today: datetime.date) -> datetime.date:
    following = datetime.date(first.year + first.month // 12, first.month % 12 + 1, 1)
    return min(following - datetime.timedelta(days=1), today)


def _valid_on(fact, day: datetime.date) -> bool:
    # expired certificates were valid until their date; revoked or suspended ones are left out (when is unknown)
    return (
        bool(fact.certified_on)
        and fact.certified_on <= day
        and fact.certificate_status in VALID_STATUSES
        and (fact.certificate_valid_until is None or fact.certificate_valid_until >= day)
    )


def coverage_history(facts: Iterable, needs: list, *, today: datetime.date, months: int = 12, below: int = 0):
    """Verified supply of each need at the end of each of the last ``months`` months (today for the current one):
    holders of certificates valid on that day proving every skill of the need. Returns the months' first days
    and ``(need, [Figure per month])``; linear in the facts (one pass per month over the certified ones)."""
    firsts = month_starts(today, months)
    wanted = {skill for need in needs for skill in need.skills}
    certified = [f for f in facts if f.certified_on and wanted.intersection(f.proves)]
    history = {need.id: [] for need in needs}
    for first in firsts:
        day = _month_end(first, today)
        holders: dict[str, set[int]] = defaultdict(set)
        for fact in certified:
            if _valid_on(fact, day):
                for skill in wanted.intersection(fact.proves):
                    holders[skill].add(fact.user_id)
        for need in needs:
            sets = [holders.get(skill, set()) for skill in need.skills]
            supply = len(set.intersection(*sets)) if sets else 0
            history[need.id].append(_count(supply, below))
    return firsts, [(need, history[need.id]) for need in needs]


def outcome_breakdown(facts: Iterable, placements: dict, offers: list, *, by: str, keys: Iterable[str], below: int):
    """Offers, places and placements per school (``by="school"``) or domain: ``{key: (offers, places, placements,
    hires, work-study, internships)}``. An offer for every school counts in each; an offer or a track proving
    two domains counts in both. Placements are people, so they follow the small-count rule; offers do not."""
    keys = list(keys)
    counts = {key: [0, 0, 0, 0, 0, 0] for key in keys}
    for schools, domains, places in offers:
        targets = [str(s) for s in schools] if by == "school" and schools else domains if by == "domain" else keys
        for key in targets:
            if key in counts:
                counts[key][0] += 1
                counts[key][1] += places
    kinds = {"hire": 3, "work_study": 4, "internship": 5}
    for fact in facts:
        for kind, _started, _ended in placements.get(fact.enrollment_id, ()):
            for key in group_keys(fact, by):
                if key in counts:
                    counts[key][2] += 1
                    counts[key][kinds.get(kind, 5)] += 1
    return {
        key: tuple(Figure(n, str(n)) for n in values[:2]) + tuple(_count(n, below) for n in values[2:])
        for key, values in counts.items()
    }
