"""Schools, employers, cohorts, enrolments and learners' consent to share with an employer."""

from __future__ import annotations

import datetime
import logging
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from xblocks.certification import models, permissions
from xblocks.certification.api.certificates import (
    _school_data,
    list_employers,
)
from xblocks.certification.data import (
    CohortData,
    EmployerData,
    LearnerProfile,
    SchoolData,
)

log = logging.getLogger(__name__)


def _cohort_data(cohort: models.Cohort) -> CohortData:
    return CohortData(
        cohort.pk,
        cohort.slug,
        cohort.name,
        cohort.school_id,
        cohort.school.name,
        cohort.track.slug,
        cohort.track.title,
        cohort.mode,
        cohort.starts_on,
        cohort.ends_on,
        tuple(cohort.course_keys or ()),
    )


def ensure_school(slug: str, **fields) -> SchoolData:
    school, _created = models.School.objects.update_or_create(slug=slug, defaults=fields)
    return _school_data(school)


def list_schools(school_ids: Iterable[int] | None = None) -> list[SchoolData]:
    """Schools by name (those of ``school_ids`` when given): reference data for reports, no permission asked."""
    queryset = models.School.objects.order_by("name")
    if school_ids is not None:
        queryset = queryset.filter(pk__in=list(school_ids))
    return [_school_data(school) for school in queryset]


def ensure_employer(slug: str, name: str) -> EmployerData:
    employer, _created = models.Employer.objects.update_or_create(slug=slug, defaults={"name": name})
    return EmployerData(employer.pk, employer.slug, employer.name)


def add_coordinator(user, school_slug: str) -> None:
    models.SchoolCoordinator.objects.get_or_create(user=user, school=models.School.objects.get(slug=school_slug))


def ensure_cohort(
    school_slug: str,
    track_slug: str,
    slug: str,
    *,
    name: str,
    mode: str = "initial",
    starts_on: datetime.date | None = None,
    ends_on: datetime.date | None = None,
    course_keys: Iterable[str] = (),
) -> CohortData:
    school = models.School.objects.get(slug=school_slug)
    cohort, _created = models.Cohort.objects.update_or_create(
        school=school,
        slug=slug,
        defaults={
            "track": models.Track.objects.get(slug=track_slug),
            "name": name,
            "mode": models.CohortMode(mode),
            "starts_on": starts_on,
            "ends_on": ends_on,
            "course_keys": list(course_keys),
        },
    )
    return _cohort_data(models.Cohort.objects.select_related("school", "track").get(pk=cohort.pk))


def list_cohorts(user) -> list[CohortData]:
    """Cohorts the user may see (all for platform staff, their schools' for coordinators)."""
    return [
        _cohort_data(c) for c in permissions.cohort_queryset(user).select_related("school", "track").order_by("name")
    ]


def cohorts_of_schools(school_ids: Iterable[int] | None = None) -> list[CohortData]:
    """The cohorts of these schools (every cohort when None), for targeting: names, no learner. The caller
    decides who may ask (an employer targets an offer at cohorts; cohort names name nobody)."""
    queryset = models.Cohort.objects.select_related("school", "track").order_by("school__name", "name")
    if school_ids is not None:
        queryset = queryset.filter(school_id__in=list(school_ids))
    return [_cohort_data(cohort) for cohort in queryset]


def enroll(user, cohort_id: int, *, employee_id: str = "") -> int:
    """Enrol a learner; the track's current published version is frozen on the enrolment. Returns its id."""
    cohort = models.Cohort.objects.select_related("track").get(pk=cohort_id)
    version = cohort.track.current_version()
    if version is None:
        raise ValidationError(f"track {cohort.track.slug} has no published version")
    enrollment, created = models.Enrollment.objects.get_or_create(
        user=user, cohort=cohort, defaults={"track_version": version, "employee_id": employee_id}
    )
    if not created and employee_id and enrollment.employee_id != employee_id:
        models.Enrollment.objects.filter(pk=enrollment.pk).update(employee_id=employee_id)
    return enrollment.pk


def set_consent(enrollment_id: int, employer_slug: str, granted: bool) -> None:
    """Grant or withdraw a learner's consent to share their records with an employer (timestamps kept)."""
    employer = models.Employer.objects.get(slug=employer_slug)
    now = timezone.now()
    with transaction.atomic():
        consent = (
            models.Consent.objects.select_for_update().filter(enrollment_id=enrollment_id, employer=employer).first()
        )
        if granted:
            if consent is None:
                models.Consent.objects.create(enrollment_id=enrollment_id, employer=employer, granted_at=now)
            elif consent.withdrawn_at is not None:
                consent.granted_at, consent.withdrawn_at = now, None
                consent.save(update_fields=["granted_at", "withdrawn_at"])
        elif consent is not None and consent.withdrawn_at is None:
            # withdrawing the consent to share withdraws the consent to be contacted with it
            consent.withdrawn_at = now
            fields = ["withdrawn_at"]
            if consent.contact_for_offers:
                consent.contact_for_offers, consent.contact_changed_at = False, now
                fields += ["contact_for_offers", "contact_changed_at"]
            consent.save(update_fields=fields)


def set_own_contact_consent(user, enrollment_id, employer_slug: str, contactable: bool) -> None:
    """A learner agrees (or stops agreeing) that an employer contacts them about offers, on their own enrolment.

    Being contacted is an extension of sharing: agreeing to it grants the consent to share with that
    employer too (the employer must see the certificates it invites on); stopping it keeps the sharing.
    PermissionDenied for someone else's enrolment or an unknown employer.
    """
    enrollment_id = _own_enrolment(user, enrollment_id, employer_slug)
    if contactable:
        set_consent(enrollment_id, str(employer_slug), True)
    models.Consent.objects.filter(
        enrollment_id=enrollment_id, employer__slug=str(employer_slug), withdrawn_at__isnull=True
    ).exclude(contact_for_offers=bool(contactable)).update(
        contact_for_offers=bool(contactable), contact_changed_at=timezone.now()
    )


def learner_offer_consents(user) -> dict[int, list[tuple[EmployerData, bool, bool]]]:
    """For each of the learner's enrolments: every employer, whether records are shared and whether it may contact."""
    employers = list_employers()
    current = {
        (enrollment_id, employer_id): contact
        for enrollment_id, employer_id, contact in models.Consent.objects.filter(
            enrollment__user=user, withdrawn_at__isnull=True
        ).values_list("enrollment_id", "employer_id", "contact_for_offers")
    }
    return {
        enrollment_id: [
            (employer, (enrollment_id, employer.id) in current, bool(current.get((enrollment_id, employer.id))))
            for employer in employers
        ]
        for enrollment_id in models.Enrollment.objects.filter(user=user).values_list("pk", flat=True)
    }


def learner_profiles(
    school_ids: Iterable[int] | None = None,
    *,
    employer_id: int | None = None,
    contact_only: bool = False,
    enrollment_ids: Iterable[int] | None = None,
) -> list[LearnerProfile]:
    """Enrolments as an employer or a coordinator may see them: the learner's name, cohort, valid certificates
    and the skills those certificates prove; never progress, hours or lab results.

    ``employer_id``: only enrolments whose learner shares with that employer now (and, with
    ``contact_only``, agreed to be contacted about offers). ``school_ids``: only those schools (None: all).
    The caller decides who may ask which (partnership's permissions); four queries whatever the count.
    """
    from xblocks.certification.api.reporting import _proves_by_version  # pylint: disable=import-outside-toplevel

    enrolments = models.Enrollment.objects.filter(status=models.EnrollmentStatus.ACTIVE)
    if school_ids is not None:
        enrolments = enrolments.filter(cohort__school_id__in=list(school_ids))
    if enrollment_ids is not None:
        enrolments = enrolments.filter(pk__in=list(enrollment_ids))
    if employer_id is not None:
        consents = models.Consent.objects.filter(employer_id=employer_id, withdrawn_at__isnull=True)
        if contact_only:
            consents = consents.filter(contact_for_offers=True)
        enrolments = enrolments.filter(pk__in=consents.values("enrollment_id"))
    rows = list(
        enrolments.order_by("pk").values_list(
            "pk",
            "user_id",
            "user__username",
            "user__first_name",
            "user__last_name",
            "cohort__school_id",
            "cohort_id",
            "cohort__name",
            "cohort__mode",
            "cohort__track__title",
        )
    )
    proves = _proves_by_version()
    today = timezone.localdate()
    certificates: dict[int, list] = {}
    for enrollment_id, number, title, valid_until, version_id in (
        models.Certificate.objects.filter(
            enrollment_id__in=[row[0] for row in rows], status=models.CertificateStatus.ACTIVE
        )
        .order_by("issued_at")
        .values_list("enrollment_id", "number", "track_version__title", "valid_until", "track_version_id")
    ):
        if valid_until is None or valid_until >= today:
            certificates.setdefault(enrollment_id, []).append((number, title, valid_until, proves.get(version_id, ())))
    profiles = []
    for pk, user_id, username, first, last, school_id, cohort_id, cohort, mode, track in rows:
        held = certificates.get(pk, [])
        profiles.append(
            LearnerProfile(
                enrollment_id=pk,
                user_id=user_id,
                name=f"{first} {last}".strip() or username,
                school_id=school_id,
                cohort_name=cohort,
                cohort_mode=mode,
                track_title=track,
                certificates=tuple((number, title, valid_until) for number, title, valid_until, _p in held),
                skills=tuple(sorted({skill for *_rest, proved in held for skill in proved})),
                cohort_id=cohort_id,
            )
        )
    return profiles


def set_own_consent(user, enrollment_id, employer_slug: str, granted: bool) -> None:
    """A learner grants or withdraws consent on one of their own enrolments; PermissionDenied otherwise."""
    set_consent(_own_enrolment(user, enrollment_id, employer_slug), str(employer_slug), bool(granted))


def _own_enrolment(user, enrollment_id, employer_slug) -> int:
    """``enrollment_id`` as an int when it is ``user``'s and the employer exists; PermissionDenied otherwise."""
    try:
        enrollment_id = int(enrollment_id)
    except (TypeError, ValueError):
        raise PermissionDenied("no such enrolment") from None
    if not getattr(user, "is_authenticated", False):
        raise PermissionDenied("no such enrolment")
    if not models.Enrollment.objects.filter(pk=enrollment_id, user=user).exists():
        raise PermissionDenied("no such enrolment")
    if not models.Employer.objects.filter(slug=str(employer_slug)).exists():
        raise PermissionDenied("no such employer")
    return enrollment_id


def learner_consents(user) -> dict[int, list[tuple[EmployerData, bool]]]:
    """For each of the learner's enrolments: every employer and whether records are shared with it."""
    employers = list_employers()
    granted = set(
        models.Consent.objects.filter(enrollment__user=user, withdrawn_at__isnull=True).values_list(
            "enrollment_id", "employer_id"
        )
    )
    return {
        enrollment_id: [(employer, (enrollment_id, employer.id) in granted) for employer in employers]
        for enrollment_id in models.Enrollment.objects.filter(user=user).values_list("pk", flat=True)
    }
