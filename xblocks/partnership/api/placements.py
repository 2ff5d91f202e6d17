"""Outcomes: internships, work-study contracts and hires of learners, recorded with their consent.

Coordinators record them for their schools' learners, an employer representative for the learners who
share their records with that employer (and always as that employer), platform staff for anyone; they
feed the committee's integration rate (certified, then hired or on a work-study contract within 6 months).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from xblocks.certification import api as cert_api
from xblocks.partnership import models, permissions
from xblocks.partnership.data import PlacementData, RoleKind


def _school_of(enrollment_id: int) -> int | None:
    facts = cert_api.enrolment_facts(enrollment_ids=[enrollment_id])
    return facts[0].school_id if facts else None


def record_placement(
    actor,
    enrollment_id: int,
    *,
    kind: str,
    started_on: datetime.date,
    learner_consented: bool,
    employer_slug: str = "",
    employer_name: str = "",
    contract_type: str = "",
    ended_on: datetime.date | None = None,
) -> PlacementData:
    """Record a placement of the learner behind ``enrollment_id``; PermissionDenied outside the actor's schools.

    ``learner_consented`` must be true: an outcome is personal data recorded for the committee's figures,
    which the learner agrees to (the coordinator confirms it).
    """
    try:
        enrollment_id = int(enrollment_id)
    except (TypeError, ValueError):
        raise PermissionDenied("no such enrolment for this user") from None
    if not permissions.allowed(actor, permissions.CHANGE_PLACEMENTS):
        raise PermissionDenied("may not record placements")
    if enrollment_id not in {profile.enrollment_id for profile in _candidates(actor, [enrollment_id])}:
        raise PermissionDenied("no such enrolment for this user")
    school_id = _school_of(enrollment_id)
    represented = permissions.representative_employer_id(actor)
    if represented is not None:  # an employer records its own placements only
        employer_slug = next(e.slug for e in cert_api.list_employers() if e.id == represented)
        employer_name = ""
    if not learner_consented:
        raise ValidationError("the learner's consent to record this placement is required")
    kind = RoleKind(kind)
    if ended_on is not None and ended_on < started_on:
        raise ValidationError("a placement cannot end before it starts")
    employer = next((e for e in cert_api.list_employers() if e.slug == employer_slug), None) if employer_slug else None
    if employer_slug and employer is None:
        raise ValidationError("unknown employer")
    if not (employer or employer_name.strip()):
        raise ValidationError("name the employer")
    placement = models.Placement.objects.create(
        enrollment_id=enrollment_id,
        school_id=school_id,
        employer_id=employer.id if employer else None,
        employer_name="" if employer else employer_name.strip(),
        kind=kind,
        contract_type=contract_type.strip(),
        started_on=started_on,
        ended_on=ended_on,
        consent_recorded_at=timezone.now(),
        recorded_by=actor,
    )
    return PlacementData(
        placement.pk,
        placement.enrollment_id,
        placement.kind,
        employer.name if employer else placement.employer_name,
        placement.contract_type,
        started_on,
        ended_on,
    )


def _candidates(actor, enrollment_ids=None):
    """The enrolments ``actor`` may record a placement for, as certification's profiles."""
    represented = permissions.representative_employer_id(actor)
    if represented is not None:
        return cert_api.learner_profiles(None, employer_id=represented, enrollment_ids=enrollment_ids)
    if permissions.is_platform_staff(actor):
        return cert_api.learner_profiles(None, enrollment_ids=enrollment_ids)
    managed = cert_api.managed_school_ids(actor) or set()
    if not managed:
        return []
    return cert_api.learner_profiles(managed, enrollment_ids=enrollment_ids)


def placement_candidates(actor) -> list[tuple[int, str]]:
    """``(enrolment id, "name — cohort")`` of every learner ``actor`` may record a placement for."""
    permissions.require(actor, permissions.CHANGE_PLACEMENTS)
    return [(p.enrollment_id, f"{p.name} — {p.cohort_name}") for p in _candidates(actor)]


def list_placements(viewer) -> list[PlacementData]:
    """The placements ``viewer`` may see: their schools' (coordinator), their employer's (representative), all."""
    permissions.require(viewer, permissions.SEE_PLACEMENTS)
    queryset = models.Placement.objects.order_by("-started_on", "-pk")
    represented = permissions.representative_employer_id(viewer)
    if represented is not None:
        queryset = queryset.filter(employer_id=represented)
    elif not permissions.is_platform_staff(viewer):
        queryset = queryset.filter(school_id__in=list(cert_api.managed_school_ids(viewer) or ()))
    names = {e.id: e.name for e in cert_api.list_employers()}
    rows = list(queryset[:500])
    learners = {
        p.enrollment_id: p.name for p in cert_api.learner_profiles(None, enrollment_ids=[r.enrollment_id for r in rows])
    }
    return [
        PlacementData(
            row.pk,
            row.enrollment_id,
            row.kind,
            names.get(row.employer_id, "") if row.employer_id else row.employer_name,
            row.contract_type,
            row.started_on,
            row.ended_on,
            learners.get(row.enrollment_id, ""),
        )
        for row in rows
    ]


def placements_by_enrolment(school_ids=None) -> dict[int, list[tuple[str, datetime.date, datetime.date | None]]]:
    """Every placement as ``(kind, started_on, ended_on)`` by enrolment (one query), for the indicators."""
    queryset = models.Placement.objects.all()
    if school_ids is not None:
        queryset = queryset.filter(school_id__in=list(school_ids))
    result: dict[int, list] = {}
    for enrollment_id, kind, started, ended in queryset.values_list("enrollment_id", "kind", "started_on", "ended_on"):
        result.setdefault(enrollment_id, []).append((kind, started, ended))
    return result
