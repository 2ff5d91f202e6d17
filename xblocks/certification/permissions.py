"""Who may see and change what: platform staff see every school, coordinators only their own schools."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied

from xblocks.certification import models


def _active(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def visible_school_ids(user) -> set[int] | None:
    """``None`` means every school; otherwise the schools the user coordinates (possibly none).

    Superusers see everything. A coordinator stays scoped to their schools even with ``is_staff``
    (which they need for the Django admin); other ``is_staff`` users are platform staff and see all.
    """
    if not _active(user):
        return set()
    if user.is_superuser:
        return None
    schools = set(models.SchoolCoordinator.objects.filter(user=user).values_list("school_id", flat=True))
    if schools or not user.is_staff:
        return schools
    return None


def is_platform_staff(user) -> bool:
    return _active(user) and visible_school_ids(user) is None


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
