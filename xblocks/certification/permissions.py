"""Who may see and who may change what: the named permissions every door (api, views, admin, block, commands) asks.

Each permission is a django-rules predicate registered under a ``kafaat.*`` name (Open edX OEP-9), so
inside the LMS ``user.has_perm("kafaat.record_hours", cohort)`` answers the same as ``allowed`` does
here. Our own code always calls ``allowed`` / ``require``, which test the rule set directly: no other
authentication backend (a Django model permission granted by hand, say) can widen what a rule says.

Roles: *platform staff* (superusers, and ``is_staff`` accounts without a school) see and change every
school; a *coordinator* (a ``SchoolCoordinator`` row, with ``is_staff`` only to reach the admin) sees
and changes their schools' rows only; learners and anonymous visitors manage nothing here. Ledger
rows (hours, sign-offs) are added, never changed; certificates change only by status. The table in
docs/certification.md lists every permission per role.
"""

from __future__ import annotations

import rules
from django.core.exceptions import PermissionDenied

from xblocks.certification import models

# --------------------------------------------------------------------------------------------------
# Whose schools


def _active(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def _coordinated(user) -> set[int]:
    return set(models.SchoolCoordinator.objects.filter(user=user).values_list("school_id", flat=True))


def visible_school_ids(user) -> set[int] | None:
    """Schools whose rows the user may see: ``None`` means every school; otherwise a set (possibly empty).

    Superusers see everything. A coordinator stays scoped to their schools even with ``is_staff``
    (which they need for the Django admin); other ``is_staff`` users are platform staff and see all.
    """
    if not _active(user):
        return set()
    if user.is_superuser:
        return None
    schools = _coordinated(user)
    if schools or not user.is_staff:
        return schools
    return None


def managed_school_ids(user) -> set[int] | None:
    """Schools whose rows the user may change (add hours, sign off, enrol, change a certificate's status).

    The same schools as ``visible_school_ids`` for every role there is today; kept apart so that a
    read-only role (a steering committee member) changes one function, not every caller.
    """
    return visible_school_ids(user)


def _school_of(obj) -> int | None:
    """The school a row belongs to (None for rows of no school, which only platform staff reach)."""
    if isinstance(obj, models.School):
        return obj.pk
    if isinstance(obj, models.Cohort):
        return obj.school_id
    if isinstance(obj, models.Consent):
        return (
            models.Cohort.objects.filter(enrollments__pk=obj.enrollment_id).values_list("school_id", flat=True).first()
        )
    cohort_id = getattr(obj, "cohort_id", None)
    if cohort_id is not None and not hasattr(obj, "school_id"):
        return models.Cohort.objects.filter(pk=cohort_id).values_list("school_id", flat=True).first()
    return getattr(obj, "school_id", None)  # CohortData and the like carry it


def _in(schools: set[int] | None, obj) -> bool:
    if schools is None:
        return True
    if obj is None:  # "may they do this anywhere?" (menus, the admin index)
        return bool(schools)
    if isinstance(obj, models.Evidence):  # a learner's evidence: visible through their enrolments
        return models.Enrollment.objects.filter(user_id=obj.user_id, cohort__school_id__in=schools).exists()
    school = _school_of(obj)
    return school is not None and school in schools


# --------------------------------------------------------------------------------------------------
# Predicates


@rules.predicate
def is_active(user) -> bool:
    return _active(user)


@rules.predicate
def is_platform_staff(user) -> bool:
    return _active(user) and visible_school_ids(user) is None


@rules.predicate
def is_coordinator(user) -> bool:
    return _active(user) and bool(_coordinated(user))


@rules.predicate
def sees_school_of(user, obj) -> bool:
    return _in(visible_school_ids(user), obj)


@rules.predicate
def manages_school_of(user, obj) -> bool:
    return _in(managed_school_ids(user), obj)


# --------------------------------------------------------------------------------------------------
# Named permissions (object: the row, a cohort, or None for "any")

SEE_REFERENCE = "kafaat.see_reference_data"  # schools, employers, tracks and their versions
CHANGE_REFERENCE = "kafaat.change_reference_data"
SEE_COORDINATORS = "kafaat.see_coordinators"
CHANGE_COORDINATORS = "kafaat.change_coordinators"
SEE_COHORT = "kafaat.see_cohort"  # a cohort and its rows: roster, enrolments, hours, sign-offs
ADD_COHORT = "kafaat.add_cohort"
CHANGE_COHORT = "kafaat.change_cohort"
ENROL = "kafaat.enrol"  # add or change an enrolment in a cohort
RECORD_HOURS = "kafaat.record_hours"  # add an hours entry (or a correction) in a cohort
SIGN_OFF = "kafaat.sign_off"  # sign off a competency for a learner of a cohort
SEE_CONSENT = "kafaat.see_consent"
RECORD_CONSENT = "kafaat.record_consent"  # consent collected on paper; the learner's own choice is theirs
SEE_EVIDENCE = "kafaat.see_evidence"
SEE_CERTIFICATE = "kafaat.see_certificate"
CHANGE_CERTIFICATE_STATUS = "kafaat.change_certificate_status"
EXPORT_RECORDS = "kafaat.export_records"
SEE_OPERATIONS = "kafaat.see_operations"  # credentials, keys, verification log, export runs and endpoints
CHANGE_OPERATIONS = "kafaat.change_operations"

_staff_or_seeing = is_active & (is_platform_staff | sees_school_of)
_staff_or_managing = is_active & (is_platform_staff | manages_school_of)

RULES = {
    SEE_REFERENCE: is_platform_staff | is_coordinator,
    CHANGE_REFERENCE: is_platform_staff,
    SEE_COORDINATORS: is_platform_staff,
    CHANGE_COORDINATORS: is_platform_staff,
    SEE_COHORT: _staff_or_seeing,
    ADD_COHORT: is_platform_staff,
    CHANGE_COHORT: _staff_or_managing,
    ENROL: _staff_or_managing,
    RECORD_HOURS: _staff_or_managing,
    SIGN_OFF: _staff_or_managing,
    SEE_CONSENT: _staff_or_seeing,
    RECORD_CONSENT: is_platform_staff,
    SEE_EVIDENCE: _staff_or_seeing,
    SEE_CERTIFICATE: _staff_or_seeing,
    CHANGE_CERTIFICATE_STATUS: _staff_or_managing,
    EXPORT_RECORDS: _staff_or_seeing,
    SEE_OPERATIONS: is_platform_staff,
    CHANGE_OPERATIONS: is_platform_staff,
}
for _name, _predicate in RULES.items():
    rules.set_perm(_name, _predicate)


def allowed(user, permission: str, obj=None) -> bool:
    """Whether ``user`` holds ``permission`` (one of the names above) on ``obj`` (None: on anything)."""
    if permission not in RULES:
        raise KeyError(f"unknown permission {permission!r}")
    return bool(rules.has_perm(permission, user, obj))


def require(user, permission: str, obj=None) -> None:
    """``allowed`` or PermissionDenied (callers answer 404: what one may not see does not exist)."""
    if not allowed(user, permission, obj):
        raise PermissionDenied(f"{permission} refused")


# --------------------------------------------------------------------------------------------------
# Row scopes (the querysets behind the admin, forms and api; same schools as the predicates)


def scope(queryset, user, school_path: str, *, change: bool = False):
    """``queryset`` limited to rows whose ``school_path`` school the user may see (or change)."""
    schools = managed_school_ids(user) if change else visible_school_ids(user)
    return queryset if schools is None else queryset.filter(**{f"{school_path}__in": schools})


def cohort_queryset(user, *, change: bool = False):
    """Cohorts the user may see (or, with ``change``, record hours, sign-offs and enrolments in)."""
    return scope(models.Cohort.objects.all(), user, "school_id", change=change)


def can_view_cohort(user, cohort_id) -> bool:
    try:
        cohort_id = int(cohort_id)
    except (TypeError, ValueError):
        return False
    cohort = models.Cohort.objects.filter(pk=cohort_id).first()
    return cohort is not None and allowed(user, SEE_COHORT, cohort)


def require_cohort(user, cohort_id, permission: str = SEE_COHORT) -> models.Cohort:
    """The cohort if the user holds ``permission`` on it; PermissionDenied otherwise (also when it does not exist)."""
    try:
        cohort = models.Cohort.objects.select_related("school", "track").get(pk=int(cohort_id))
    except (TypeError, ValueError, models.Cohort.DoesNotExist):
        raise PermissionDenied("no such cohort for this user") from None
    require(user, permission, cohort)
    return cohort


def is_coordinator_or_staff(user) -> bool:
    """Someone with a manager's view (roster, hours page, exports): platform staff or a coordinator."""
    return allowed(user, SEE_COHORT)
