"""Coverage of skills and needs: verified supply, the pipeline with its projected dates, and the gap.

Supply counts holders of a valid certificate (active, not past its validity) whose track version proves
the skill; the pipeline counts learners on such a track without that certificate yet, by the date the
rules project for them. A need is covered by learners proving every one of its skills.
"""

from __future__ import annotations

import datetime
from collections import defaultdict
from collections.abc import Iterable

from django.db import transaction
from django.utils import timezone

from xblocks.certification import api as cert_api
from xblocks.partnership import models
from xblocks.partnership.api.needs import list_needs
from xblocks.partnership.api.skills import list_skills
from xblocks.partnership.data import NeedCoverage, NeedData, SkillCoverage


def holds_valid_certificate(fact, today: datetime.date) -> bool:
    return fact.certificate_status == "active" and (
        fact.certificate_valid_until is None or fact.certificate_valid_until >= today
    )


def coverage_from_facts(
    facts: list,
    needs: list[NeedData],
    skills: Iterable,
    *,
    today: datetime.date,
    projections: dict[int, datetime.date | None],
) -> tuple[list[SkillCoverage], list[NeedCoverage]]:
    """The figures from facts already loaded (the dashboard reuses its facts; no query here)."""
    holders: dict[str, set[int]] = defaultdict(set)  # skill -> users with a valid certificate proving it
    learning: dict[str, dict[int, datetime.date | None]] = defaultdict(dict)  # skill -> user -> projected date
    for fact in facts:
        if holds_valid_certificate(fact, today):
            for skill in fact.proves:
                holders[skill].add(fact.user_id)
        elif fact.active and not fact.certified_on:
            projected = projections.get(fact.enrollment_id)
            for skill in fact.proves:
                known = learning[skill].get(fact.user_id)
                if fact.user_id not in learning[skill] or (projected and (known is None or projected < known)):
                    learning[skill][fact.user_id] = projected
    demand: dict[str, int] = defaultdict(int)
    for need in needs:
        if need.by_date >= today:
            for skill in need.skills:
                demand[skill] += need.count
    skill_rows = []
    for skill in skills:
        supply = holders.get(skill.id, set())
        pipeline = set(learning.get(skill.id, {})) - supply
        skill_rows.append(SkillCoverage(skill.id, skill.domain, len(supply), len(pipeline), demand.get(skill.id, 0)))
    need_rows = []
    for need in needs:
        sets = [holders.get(skill, set()) for skill in need.skills]
        supply = set.intersection(*sets) if sets else set()
        ready: set[int] | None = None
        for skill in need.skills:
            on_time = {
                user
                for user, day in learning.get(skill, {}).items()
                if day is not None and day <= need.by_date or user in holders.get(skill, set())
            }
            ready = on_time if ready is None else ready & on_time
        pipeline = (ready or set()) - supply
        need_rows.append(
            NeedCoverage(need, len(supply), len(pipeline), max(0, need.count - len(supply) - len(pipeline)))
        )
    return skill_rows, need_rows


def domain_coverage(facts: list, needs: list[NeedData], *, today: datetime.date) -> list[SkillCoverage]:
    """Per domain: distinct holders and learners of any of its skills, and the needs naming any of them."""
    holders: dict[str, set[int]] = defaultdict(set)
    learning: dict[str, set[int]] = defaultdict(set)
    for fact in facts:
        if holds_valid_certificate(fact, today):
            target = holders
        elif fact.active and not fact.certified_on:
            target = learning
        else:
            continue
        for domain in {skill.split(".", 1)[0] for skill in fact.proves}:
            target[domain].add(fact.user_id)
    demand: dict[str, int] = defaultdict(int)
    for need in needs:
        if need.by_date >= today:
            for domain in {skill.split(".", 1)[0] for skill in need.skills}:
                demand[domain] += need.count
    return [
        SkillCoverage(domain, domain, len(holders[domain]), len(learning[domain] - holders[domain]), demand[domain])
        for domain in sorted(set(holders) | set(learning) | set(demand))
    ]


def pipeline_enrolment_ids(facts: list, needs: list[NeedData], today: datetime.date) -> list[int]:
    """The enrolments whose projected date matters: active, uncertified, on a track proving a skill a need names.

    Only those are evaluated (the rules run per learner), so a dashboard without open needs evaluates nobody.
    """
    needed = {skill for need in needs if need.by_date >= today for skill in need.skills}
    return [
        f.enrollment_id
        for f in facts
        if f.active and not f.certified_on and needed.intersection(f.proves) and not holds_valid_certificate(f, today)
    ]


def pipeline_candidates(facts: list, today: datetime.date) -> list[int]:
    """Every enrolment that could be in a pipeline: active, uncertified, on a track proving some skill."""
    return [
        f.enrollment_id
        for f in facts
        if f.active and not f.certified_on and f.proves and not holds_valid_certificate(f, today)
    ]


def projections_for(enrollment_ids: list[int], today: datetime.date) -> dict[int, datetime.date | None]:
    """Projected completions: stored ones (one query), and those never stored computed live by certification."""
    wanted = set(enrollment_ids)
    if not wanted:
        return {}
    stored = {
        enrollment_id: day
        for enrollment_id, day in models.Projection.objects.values_list("enrollment_id", "projected_on")
        if enrollment_id in wanted
    }
    missing = [enrollment_id for enrollment_id in enrollment_ids if enrollment_id not in stored]
    if missing:
        stored.update(cert_api.projected_completions(missing, today=today))
    return stored


def refresh_projections(*, today: datetime.date | None = None, chunk_size: int = 5000) -> int:
    """Store the projected completion of every pipeline candidate (the nightly job); returns how many."""
    today = today or timezone.localdate()
    ids = pipeline_candidates(cert_api.enrolment_facts(), today)
    rows = []
    for start in range(0, len(ids), chunk_size):
        projected = cert_api.projected_completions(ids[start : start + chunk_size], today=today)
        rows += [
            models.Projection(enrollment_id=pk, projected_on=day, computed_on=today) for pk, day in projected.items()
        ]
    with transaction.atomic():
        models.Projection.objects.all().delete()
        models.Projection.objects.bulk_create(rows, batch_size=2000)
    return len(rows)


def skill_coverage(
    *, school_ids: Iterable[int] | None = None, today: datetime.date | None = None
) -> tuple[list[SkillCoverage], list[NeedCoverage]]:
    """Coverage of every catalogue skill and every need, from these schools' learners (all when None).

    Raw counts: whoever shows them to a person applies the viewer's suppression (``api.dashboard`` does).
    """
    today = today or timezone.localdate()
    facts = cert_api.enrolment_facts(school_ids)
    needs = list_needs()
    projections = projections_for(pipeline_enrolment_ids(facts, needs, today), today)
    return coverage_from_facts(facts, needs, list_skills(), today=today, projections=projections)
