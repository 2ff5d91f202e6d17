"""Outcomes: internships, work-study contracts and hires of learners, recorded with their consent.

Coordinators record them for their schools' learners, platform staff for anyone; they feed the
committee's integration rate (certified, then hired or on a work-study contract within 6 months).
"""

from __future__ import annotations

import datetime

from django.core.exceptions import PermissionDenied, ValidationError
from django.utils import timezone

from xblocks.certification import api as cert_api
from xblocks.partnership import models
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
    school_id = _school_of(int(enrollment_id))
    managed = cert_api.managed_school_ids(actor)
    if school_id is None or (managed is not None and school_id not in managed):
        raise PermissionDenied("no such enrolment for this user")
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
        enrollment_id=int(enrollment_id),
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


def placements_by_enrolment(school_ids=None) -> dict[int, list[tuple[str, datetime.date, datetime.date | None]]]:
    """Every placement as ``(kind, started_on, ended_on)`` by enrolment (one query), for the indicators."""
    queryset = models.Placement.objects.all()
    if school_ids is not None:
        queryset = queryset.filter(school_id__in=list(school_ids))
    result: dict[int, list] = {}
    for enrollment_id, kind, started, ended in queryset.values_list("enrollment_id", "kind", "started_on", "ended_on"):
        result.setdefault(enrollment_id, []).append((kind, started, ended))
    return result
