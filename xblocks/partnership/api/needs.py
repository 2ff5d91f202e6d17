"""Employers' needs: recorded one at a time or imported from CSV (``imports``), read as ``NeedData``."""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError

from xblocks.certification import api as cert_api
from xblocks.partnership import imports, models, permissions
from xblocks.partnership.data import ImportReport, NeedData, RoleKind


def _employer_names() -> dict[int, str]:
    return {employer.id: employer.name for employer in cert_api.list_employers()}


def list_needs(*, employer_ids: Iterable[int] | None = None) -> list[NeedData]:
    """Every need (or those of ``employer_ids``), soonest first: two queries."""
    queryset = models.Need.objects.prefetch_related("skills").order_by("by_date", "pk")
    if employer_ids is not None:
        queryset = queryset.filter(employer_id__in=list(employer_ids))
    names = _employer_names()
    return [
        NeedData(
            need.pk,
            need.employer_id,
            names.get(need.employer_id, "?"),
            tuple(sorted(skill.pk for skill in need.skills.all())),
            need.count,
            need.by_date,
            need.role_kind,
            need.note,
        )
        for need in queryset
    ]


def record_need(
    actor,
    *,
    employer_slug: str,
    skills: Iterable[str],
    count: int,
    by_date: datetime.date,
    role_kind: str,
    note: str = "",
) -> NeedData:
    """Record one need as ``actor`` (platform staff, or a committee member speaking for that employer)."""
    employer = next((e for e in cert_api.list_employers() if e.slug == employer_slug), None)
    if employer is None:
        raise ValidationError("unknown employer")
    need = models.Need(employer_id=employer.id)
    if not permissions.allowed(actor, permissions.CHANGE_NEEDS, need):
        raise PermissionDenied("may not record needs for this employer")
    skill_ids = sorted(set(skills))
    if not skill_ids or models.Skill.objects.filter(pk__in=skill_ids, retired=False).count() != len(skill_ids):
        raise ValidationError("name at least one skill, all from the catalogue")
    if int(count) < 1:
        raise ValidationError("count must be at least 1")
    need.count, need.by_date, need.role_kind, need.note = int(count), by_date, RoleKind(role_kind), note
    need.created_by = actor
    need.save()
    need.skills.set(skill_ids)
    return NeedData(need.pk, employer.id, employer.name, tuple(skill_ids), need.count, by_date, need.role_kind, note)


def import_needs(actor, raw: bytes | str, *, dry_run: bool = True) -> ImportReport:
    """A CSV file or an XLSX workbook (told apart by its first bytes): see ``imports``; a per-row report,
    nothing written unless every row is good."""
    if isinstance(raw, bytes) and imports.is_xlsx(raw):
        return imports.import_needs_xlsx(actor, raw, dry_run=dry_run)
    return imports.import_needs_csv(actor, raw, dry_run=dry_run)


def needs_report_csv(report: ImportReport) -> str:
    return imports.report_csv(report)
