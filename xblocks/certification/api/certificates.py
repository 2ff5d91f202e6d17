"""Certificates as the credentials and exports apps read them: lookups, records streamed in chunks, status changes."""

from __future__ import annotations

import logging
from collections.abc import Iterator

from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import OuterRef, Subquery

from xblocks.certification import chain, models, numbers, permissions, signals
from xblocks.certification.api.tracks import _prefetch_trees, _track_data
from xblocks.certification.data import (
    CertificateData,
    CertificateEventData,
    ChainReport,
    EmployerData,
    LearnerData,
    SchoolData,
)
from xblocks.core import compat
from xblocks.labs import api as labs_api

log = logging.getLogger(__name__)


Status = models.CertificateStatus


# The event kind each staff status change is recorded as (the xAPI verb and the audit log name it).
STATUS_EVENT_KINDS = {Status.SUSPENDED: "suspended", Status.REVOKED: "revoked", Status.ACTIVE: "reinstated"}

# Allowed status changes by staff; expiry is the job's, and revocation is final.
_TRANSITIONS = {
    Status.ACTIVE: {Status.SUSPENDED, Status.REVOKED},
    Status.SUSPENDED: {Status.ACTIVE, Status.REVOKED},
    Status.EXPIRED: {Status.REVOKED},
    Status.REVOKED: set(),
}


def _actor_name(actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return getattr(actor, "username", "") or str(actor)


def _school_data(school: models.School) -> SchoolData:
    return SchoolData(
        school.pk,
        school.slug,
        school.name,
        school.url,
        school.email,
        school.country,
        school.logo_url,
        school.branding or {},
    )


def _learner_data(user, profile: compat.LearnerProfile) -> LearnerData:
    return LearnerData(user.pk, user.username, user.email, profile.full_name, profile.legal_name, profile.language)


_CERT_RELATED = ("user", "track_version__track", "cohort__school", "enrollment")


def _certificate_data(cert: models.Certificate, profile: compat.LearnerProfile | None = None) -> CertificateData:
    profile = profile or compat.learner_profiles([cert.user])[cert.user.pk]
    cohort = cert.cohort
    return CertificateData(
        id=cert.pk,
        number=cert.number,
        status=cert.status,
        issued_at=cert.issued_at,
        valid_from=cert.valid_from,
        valid_until=cert.valid_until,
        learner=_learner_data(cert.user, profile),
        track=_track_data(cert.track_version),
        school=_school_data(cohort.school) if cohort else SchoolData(0, "", "", "", "", "", ""),
        cohort_id=cohort.pk if cohort else None,
        cohort_name=cohort.name if cohort else "",
        cohort_slug=cohort.slug if cohort else "",
        hours_total=float(cert.hours_total),
        hours_by_category=dict(cert.hours_by_category or {}),
        hours_by_source=dict(cert.hours_by_source or {}),
        results=tuple(tuple(row) for row in (cert.results or ())),
        employee_id=cert.enrollment.employee_id if cert.enrollment else "",
        evidence=dict(cert.evidence or {}),
        period=cert.period,
        renewed_from_id=cert.renewed_from_id,
        started_at=cert.enrollment.enrolled_at if cert.enrollment else None,
        last_modified=(cert.last_event_at if hasattr(cert, "last_event_at") else _last_event_at(cert.pk))
        or cert.issued_at,
    )


def _last_event_at(certificate_id: int):
    return (
        models.CertificateEvent.objects.filter(certificate_id=certificate_id)
        .order_by("-seq")
        .values_list("at", flat=True)
        .first()
    )


def _event_data(event: models.CertificateEvent) -> CertificateEventData:
    return CertificateEventData(
        event.pk,
        event.certificate_id,
        event.kind,
        event.status,
        event.reason,
        event.actor,
        event.at,
        event.hash,
        event.previous_hash,
    )


def get_certificate(number_or_id) -> CertificateData | None:
    queryset = models.Certificate.objects.select_related(*_CERT_RELATED)
    text = str(number_or_id).strip()
    cert = queryset.filter(number=text).first() or queryset.filter(number=numbers.normalise(text)).first()
    if cert is None and text.isdigit():
        cert = queryset.filter(pk=int(text)).first()
    return _certificate_data(cert) if cert else None


def certificate_events(certificate_id: int) -> list[CertificateEventData]:
    return [
        _event_data(e) for e in models.CertificateEvent.objects.filter(certificate_id=certificate_id).order_by("seq")
    ]


def list_employers() -> list[EmployerData]:
    return [EmployerData(e.pk, e.slug, e.name) for e in models.Employer.objects.order_by("name")]


def _record_queryset(user, *, cohort_ids=None, school_ids=None, employer_slug=None, statuses=None, modified_since=None):
    # the time of each certificate's latest event: a status change makes it a changed record
    latest = models.CertificateEvent.objects.filter(certificate_id=OuterRef("pk")).order_by("-seq").values("at")[:1]
    queryset = models.Certificate.objects.annotate(last_event_at=Subquery(latest))
    if modified_since is not None:
        queryset = queryset.filter(last_event_at__gte=modified_since)
    visible = permissions.visible_school_ids(user)
    if visible is not None:
        queryset = queryset.filter(cohort__school_id__in=visible)
    if cohort_ids is not None:
        queryset = queryset.filter(cohort_id__in=list(cohort_ids))
    if school_ids is not None:
        queryset = queryset.filter(cohort__school_id__in=list(school_ids))
    if statuses is not None:
        queryset = queryset.filter(status__in=[str(s) for s in statuses])
    if employer_slug is not None:
        consenting = models.Consent.objects.filter(employer__slug=employer_slug, withdrawn_at__isnull=True).values(
            "enrollment_id"
        )
        queryset = queryset.filter(enrollment_id__in=consenting)
    return queryset


def iter_certificate_records(
    user,
    *,
    cohort_ids=None,
    school_ids=None,
    employer_slug=None,
    statuses=None,
    modified_since=None,
    chunk_size: int = 2000,
) -> Iterator[CertificateData]:
    """Certificates the user may see, streamed by primary key in chunks of ``chunk_size``.

    ``modified_since`` keeps certificates whose latest event (issue, renewal, status change, expiry)
    is at or after that time: what an HR delta import needs.

    Each chunk costs a constant number of queries (the rows with their relations, the learner
    profiles, the requirement trees of versions not seen yet), however many rows it holds.
    """
    queryset = (
        _record_queryset(
            user,
            cohort_ids=cohort_ids,
            school_ids=school_ids,
            employer_slug=employer_slug,
            statuses=statuses,
            modified_since=modified_since,
        )
        .select_related(*_CERT_RELATED)
        .order_by("pk")
    )
    last_pk = 0
    while True:
        chunk = list(queryset.filter(pk__gt=last_pk)[:chunk_size])
        if not chunk:
            return
        last_pk = chunk[-1].pk
        _prefetch_trees(cert.track_version for cert in chunk)
        profiles = compat.learner_profiles({cert.user.pk: cert.user for cert in chunk}.values())
        for cert in chunk:
            yield _certificate_data(cert, profiles[cert.user.pk])


def count_certificate_records(
    user, *, cohort_ids=None, school_ids=None, employer_slug=None, statuses=None, modified_since=None
) -> int:
    return _record_queryset(
        user,
        cohort_ids=cohort_ids,
        school_ids=school_ids,
        employer_slug=employer_slug,
        statuses=statuses,
        modified_since=modified_since,
    ).count()


def set_certificate_status(certificate_id: int, status: str, *, reason: str, actor) -> CertificateData:
    """Suspend, reinstate or revoke a certificate; records an event and sends ``certificate_status_changed``.

    Raises ValueError for a change that is not allowed (revocation is final; expiry belongs to the job).
    """
    status = Status(status)
    if not (reason or "").strip():
        raise ValueError("a status change needs a reason")
    with transaction.atomic():
        cert = models.Certificate.objects.select_for_update().get(pk=certificate_id)
        previous = Status(cert.status)
        if status == previous:
            raise ValueError(f"certificate {cert.number} is already {status}")
        if status not in _TRANSITIONS[previous]:
            raise ValueError(f"cannot change certificate {cert.number} from {previous} to {status}")
        _change_status(cert, status, previous, reason=reason, actor=_actor_name(actor), kind=STATUS_EVENT_KINDS[status])
    return get_certificate(certificate_id)


def set_certificate_status_as(user, certificate_id: int, status: str, *, reason: str) -> CertificateData:
    """``set_certificate_status`` for a person: only staff or the coordinator of the certificate's school."""
    cert = models.Certificate.objects.filter(pk=certificate_id).first()
    if cert is None or not permissions.allowed(user, permissions.CHANGE_CERTIFICATE_STATUS, cert):
        raise PermissionDenied("no such certificate for this user")
    return set_certificate_status(certificate_id, status, reason=reason, actor=user)


def _change_status(cert: models.Certificate, status: str, previous: str, *, reason: str, actor: str, kind: str) -> None:
    models.Certificate.objects.filter(pk=cert.pk).update(status=status)
    cert.status = status
    event = chain.append(cert, kind=kind, status=status, reason=reason, actor=actor)
    _publish(
        signals.CERTIFICATE_STATUS_TOPIC,
        f"{cert.pk}:{event.pk}",  # one message per change: none replaces another
        certificate_id=cert.pk,
        number=cert.number,
        status=str(status),
        previous=str(previous),
        reason=reason,
    )


def _publish(topic: str, key: str, **payload) -> None:
    """Inside the certificate's transaction: the outbox message for credentials and exports (see ``signals``)."""
    labs_api.publish(topic, key, payload)


def certificate_events_verified(certificate_id: int | None = None) -> ChainReport:
    return chain.verify(certificate_id)
