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
