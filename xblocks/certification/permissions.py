"""Who may see and change what: platform staff see every school, coordinators only their own schools."""
from __future__ import annotations

from django.core.exceptions import PermissionDenied

from xblocks.certification import models


def is_platform_staff(user) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active and (user.is_superuser or user.is_staff))


def visible_school_ids(user) -> set[int] | None:
    """``None`` means every school (superusers, platform staff); otherwise the schools the user coordinates."""
    if user is None or not getattr(user, "is_authenticated", False) or not user.is_active:
        return set()
    if is_platform_staff(user):
        return None
    return set(models.SchoolCoordinator.objects.filter(user=user).values_list("school_id", flat=True))


def cohort_queryset(user):
    """Cohorts the user may see and manage."""
    schools = visible_school_ids(user)
    queryset = models.Cohort.objects.all()
    return queryset if schools is None else queryset.filter(school_id__in=schools)


def can_view_cohort(user, cohort_id) -> bool:
    try:
        cohort_id = int(cohort_id)
    except (TypeError, ValueError):
        return False
    return cohort_queryset(user).filter(pk=cohort_id).exists()


def require_cohort(user, cohort_id) -> models.Cohort:
    """The cohort if the user may manage it; PermissionDenied otherwise (also for cohorts that do not exist)."""
    try:
        return cohort_queryset(user).select_related("school", "track").get(pk=int(cohort_id))
    except (TypeError, ValueError, models.Cohort.DoesNotExist):
        raise PermissionDenied("no such cohort for this user") from None


def is_coordinator_or_staff(user) -> bool:
    schools = visible_school_ids(user)
    return schools is None or bool(schools)
