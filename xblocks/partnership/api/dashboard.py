"""The committee's dashboard: indicators by group and coverage, for one viewer, with their suppression applied.

Reads certification only through its api: enrolment facts (five queries), school and track names, and
projected completions for the learners a need depends on. Everything a viewer may not see is decided
here (``permissions.dashboard_scope``), never in a view or a template.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied
from django.utils import timezone

from xblocks.certification import api as cert_api
from xblocks.core.i18n import gettext as _
from xblocks.core.i18n import language
from xblocks.partnership import indicators, permissions
from xblocks.partnership.api.coverage import (
    coverage_from_facts,
    domain_coverage,
    pipeline_enrolment_ids,
    projections_for,
)
from xblocks.partnership.api.needs import list_needs
from xblocks.partnership.api.offers import offer_counts, offer_targets
from xblocks.partnership.api.placements import placements_by_enrolment
from xblocks.partnership.api.projects import project_counts
from xblocks.partnership.api.skills import list_skills
from xblocks.partnership.conf import partnership_settings
from xblocks.partnership.data import CountRow, CoverageRow, Dashboard, Domain, Figure, RoleKind


def domain_label(domain: str) -> str:
    return {
        Domain.CYBERSECURITY: _("Cybersecurity"),
        Domain.DATA: _("Data"),
        Domain.AI: _("Artificial intelligence"),
        Domain.CLOUD: _("Cloud"),
        Domain.DEVOPS: _("DevOps"),
        Domain.SOFTWARE_TESTING: _("Software testing"),
    }.get(domain, _("No domain"))


def cohort_kind_label(kind: str) -> str:
    return {
        "initial": _("Initial training"),
        "work_study": _("Work-study"),
        "continuing": _("Continuing education"),
    }.get(kind, kind)


def role_kind_label(kind: str) -> str:
    return {RoleKind.INTERNSHIP: _("Internship"), RoleKind.WORK_STUDY: _("Work-study"), RoleKind.HIRE: _("Hire")}.get(
        kind, kind
    )


def group_label(group_by: str) -> str:
    return {
        "school": _("School"),
        "cohort_kind": _("Cohort kind"),
        "domain": _("Domain"),
        "track": _("Track"),
        "period": _("Year"),
    }[group_by]


def _figure(value: int, below: int) -> Figure:
    if below and 0 < value < below:
        return Figure(None, f"< {below}")
    return Figure(value, str(value))


def _gap(demand: int, supply: Figure, pipeline: Figure, exact: int, below: int) -> Figure:
    if supply.value is None or pipeline.value is None:
        # The exact gap would give away the suppressed counts: show the bound it is sure of.
        bound = max(0, demand - 2 * (below - 1))
        return Figure(None, f"≥ {bound}")
    return Figure(exact, str(exact))


def _coverage_row(key, label, domain, demand, supply, pipeline, below, **extra) -> CoverageRow:
    supply_figure, pipeline_figure = _figure(supply, below), _figure(pipeline, below)
    exact = max(0, demand - supply - pipeline)
    return CoverageRow(
        key,
        label,
        domain,
        Figure(demand, str(demand)),
        supply_figure,
        pipeline_figure,
        _gap(demand, supply_figure, pipeline_figure, exact, below),
        **extra,
    )


def _set(values: Iterable | None) -> frozenset | None:
    values = [value for value in (values or ()) if value not in ("", None)]
    return frozenset(values) if values else None


def dashboard(
    viewer,
    *,
    group_by: str = "school",
    school_ids: Iterable[int] | None = None,
    cohort_kinds: Iterable[str] | None = None,
    domains: Iterable[str] | None = None,
    track_slugs: Iterable[str] | None = None,
    start: datetime.date | None = None,
    end: datetime.date | None = None,
    today: datetime.date | None = None,
) -> Dashboard:
    """The dashboard as ``viewer`` may see it; PermissionDenied for anyone without the permission or a school outside
    their scope, ValueError for an unknown grouping."""
    if group_by not in indicators.GROUPINGS:
        raise ValueError(f"unknown grouping {group_by!r}")
    scope, below = permissions.dashboard_scope(viewer)
    wanted = _set(int(school) for school in (school_ids or ()))
    if wanted is not None and scope is not None and not wanted <= scope:
        raise PermissionDenied("a school outside the viewer's scope")
    schools = wanted if wanted is not None else (frozenset(scope) if scope is not None else None)
    today = today or timezone.localdate()
    facts = cert_api.enrolment_facts(schools)
    filters = indicators.Filters(
        school_ids=schools,
        cohort_kinds=_set(cohort_kinds),
        domains=_set(domains),
        track_slugs=_set(track_slugs),
        start=start,
        end=end,
    )
    names = {school.id: school.name for school in cert_api.list_schools(schools)}
    tracks = {track.slug: track.title for track in cert_api.list_tracks()}
    labels = {
        "school": lambda key: names.get(int(key), key),
        "cohort_kind": cohort_kind_label,
        "domain": domain_label,
        "track": lambda key: tracks.get(key, key),
        "period": str,
    }
    placed = placements_by_enrolment(schools)
    rows, totals = indicators.aggregate(
        facts,
        group_by=group_by,
        filters=filters,
        label=labels[group_by],
        today=today,
        active_days=int(partnership_settings.PARTNERSHIP_ACTIVE_DAYS),
        below=below,
        total_label=_("All"),
        placements=placed,
    )
    kept = [fact for fact in facts if indicators.keep(fact, filters)]
    needs = [
        need for need in list_needs() if not filters.domains or {s.split(".")[0] for s in need.skills} & filters.domains
    ]
    skills = [skill for skill in list_skills() if not filters.domains or skill.domain in filters.domains]
    projections = projections_for(pipeline_enrolment_ids(kept, needs, today), today)
    skill_rows, need_rows = coverage_from_facts(kept, needs, skills, today=today, projections=projections)
    lang = language()
    skill_names = {skill.id: skill.name(lang) for skill in skills}
    open_needs = [need for need in needs if need.by_date >= today]
    months, history = indicators.coverage_history(kept, open_needs, today=today, below=below)
    targets = offer_targets(schools)
    domain_keys = [str(d) for d in Domain if not filters.domains or str(d) in filters.domains]
    return Dashboard(
        group_by=group_by,
        rows=tuple(rows),
        totals=totals,
        domains=tuple(
            _coverage_row(
                row.skill_id, domain_label(row.skill_id), row.domain, row.demand, row.supply, row.pipeline, below
            )
            for row in domain_coverage(kept, needs, today=today)
            if not filters.domains or row.domain in filters.domains
        ),
        skills=tuple(
            _coverage_row(
                row.skill_id, skill_names[row.skill_id], row.domain, row.demand, row.supply, row.pipeline, below
            )
            for row in skill_rows
            if row.demand or row.supply or row.pipeline
        ),
        needs=tuple(
            _coverage_row(
                str(row.need.id),
                f"{row.need.employer_name}: {', '.join(skill_names.get(s, s) for s in row.need.skills)}",
                "",
                row.need.count,
                row.supply,
                row.pipeline,
                below,
                by_date=row.need.by_date,
                role_kind=role_kind_label(row.need.role_kind),
            )
            for row in need_rows
            if row.need.by_date >= today
        ),
        suppressed_below=below,
        school_ids=None if schools is None else tuple(sorted(schools)),
        offers=_offer_rows(offer_counts(schools), below),
        projects=_project_rows(project_counts(schools), below),
        outcomes_by_school=_outcome_rows(
            indicators.outcome_breakdown(kept, placed, targets, by="school", keys=map(str, names), below=below),
            lambda key: names.get(int(key), key),
        ),
        outcomes_by_domain=_outcome_rows(
            indicators.outcome_breakdown(kept, placed, targets, by="domain", keys=domain_keys, below=below),
            domain_label,
        ),
        funnel=tuple(
            CountRow(key, funnel_stage_label(key), (count, share)) for key, count, share in indicators.funnel(totals)
        ),
        coverage_months=tuple(months),
        coverage_history=tuple(
            CountRow(
                str(need.id),
                f"{need.employer_name}: {', '.join(skill_names.get(s, s) for s in need.skills)}",
                (Figure(need.count, str(need.count)), *figures),
                by_date=need.by_date,
            )
            for need, figures in history
        ),
    )


def funnel_stage_label(key: str) -> str:
    return {
        "enrolled": _("Enrolled"),
        "active": _("Active (30 days)"),
        "certified": _("Certified"),
        "placed": _("Placed within 6 months"),
    }.get(key, key)


def _outcome_rows(counts: dict[str, tuple[Figure, ...]], label) -> tuple[CountRow, ...]:
    rows = [CountRow(key, label(key), figures) for key, figures in counts.items()]
    return tuple(sorted(rows, key=lambda row: row.label))


def project_status_label(status: str) -> str:
    return {
        "proposed": _("Proposed"),
        "active": _("Under way"),
        "completed": _("Completed"),
        "cancelled": _("Cancelled"),
    }.get(status, status)


def _offer_rows(counts: dict[str, int], below: int) -> tuple[CountRow, ...]:
    # offers and places name nobody; invitations are people, so they follow the small-count rule
    return (
        CountRow("offers", _("Offers published"), (Figure(counts["offers"], str(counts["offers"])),)),
        CountRow("open", _("Offers open"), (Figure(counts["open"], str(counts["open"])),)),
        CountRow("places", _("Places offered"), (Figure(counts["places"], str(counts["places"])),)),
        CountRow("invited", _("Invitations sent"), (_figure(counts["invited"], below),)),
        CountRow("accepted", _("Invitations accepted"), (_figure(counts["accepted"], below),)),
    )


def _project_rows(counts: dict[str, dict[str, int]], below: int) -> tuple[CountRow, ...]:
    rows = [
        CountRow(f"status:{status}", project_status_label(status), (Figure(n, str(n)),))
        for status, n in counts["status"].items()
    ]
    rows += [
        CountRow(f"domain:{domain}", domain_label(domain), (Figure(n, str(n)),))
        for domain, n in counts["domain"].items()
        if n
    ]
    rows += [
        CountRow("members", _("Learners on a project"), (_figure(counts["learners"]["members"], below),)),
        CountRow("signed_off", _("Learners signed off"), (_figure(counts["learners"]["signed_off"], below),)),
    ]
    return tuple(rows)
