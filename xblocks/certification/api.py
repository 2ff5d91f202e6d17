"""The one door to certification data: blocks, views, tasks, commands and the sister apps call these functions.

Everything returns frozen dataclasses from ``data`` (or ``rules.Evaluation``), never querysets.
Evaluation loads evidence for many enrolments in a constant number of queries and hands it to the
pure ``rules.evaluate``; issuance is idempotent per learner, track version and period.
"""

from __future__ import annotations

import calendar
import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone, translation

from xblocks.certification import chain, models, numbers, permissions, rules, signals
from xblocks.certification.conf import cert_settings
from xblocks.certification.data import (
    CertificateData,
    CertificateEventData,
    ChainReport,
    CohortData,
    EmployerData,
    HoursEntryData,
    LearnerData,
    LearnerProgress,
    SchoolData,
    TrackData,
)
from xblocks.core import compat
from xblocks.core.i18n import gettext as _

log = logging.getLogger(__name__)

Status = models.CertificateStatus

# Allowed status changes by staff; expiry is the job's, and revocation is final.
_TRANSITIONS = {
    Status.ACTIVE: {Status.SUSPENDED, Status.REVOKED},
    Status.SUSPENDED: {Status.ACTIVE, Status.REVOKED},
    Status.EXPIRED: {Status.REVOKED},
    Status.REVOKED: set(),
}


# ---------------------------------------------------------------------------------------------
# Permissions (re-exported: the sister apps import them from here)

visible_school_ids = permissions.visible_school_ids
managed_school_ids = permissions.managed_school_ids
can_view_cohort = permissions.can_view_cohort
allowed = permissions.allowed
normalise_number = numbers.normalise


def _actor_name(actor) -> str:
    if actor is None:
        return "system"
    if isinstance(actor, str):
        return actor
    return getattr(actor, "username", "") or str(actor)


def _today() -> datetime.date:
    return timezone.localdate()


def add_months(day: datetime.date, months: int) -> datetime.date:
    """``day`` plus whole months, clamped to the month's last day (31 Jan + 1 month = 28/29 Feb)."""
    month_index = day.month - 1 + months
    year, month = day.year + month_index // 12, month_index % 12 + 1
    return day.replace(year=year, month=month, day=min(day.day, calendar.monthrange(year, month)[1]))


# ---------------------------------------------------------------------------------------------
# Conversions to data


def _school_data(school: models.School) -> SchoolData:
    return SchoolData(school.pk, school.slug, school.name, school.url, school.email, school.country, school.logo_url)


def _track_data(version: models.TrackVersion) -> TrackData:
    spec = requirement_tree(version)
    return TrackData(
        id=version.track_id,
        slug=version.track.slug,
        title=version.title,
        description=version.description,
        version=version.version,
        version_id=version.pk,
        criteria=version.criteria,
        total_hours_required=float(spec.hours_required()),
        skills=tuple(version.skills or ()),
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


def _hours_data(entry: models.HoursEntry) -> HoursEntryData:
    return HoursEntryData(
        entry.pk,
        entry.user_id,
        entry.cohort_id,
        entry.source,
        entry.category,
        entry.minutes,
        entry.date,
        entry.attester.username if entry.attester_id else "",
        entry.note,
        entry.corrects_id,
    )


# ---------------------------------------------------------------------------------------------
# Certificates: the contract the credentials and exports apps read


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


def _record_queryset(user, *, cohort_ids=None, school_ids=None, employer_slug=None, statuses=None):
    queryset = models.Certificate.objects.all()
    visible = visible_school_ids(user)
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
    user, *, cohort_ids=None, school_ids=None, employer_slug=None, statuses=None, chunk_size: int = 2000
) -> Iterator[CertificateData]:
    """Certificates the user may see, streamed by primary key in chunks of ``chunk_size``.

    Each chunk costs a constant number of queries (the rows with their relations, the learner
    profiles, the requirement trees of versions not seen yet), however many rows it holds.
    """
    queryset = (
        _record_queryset(
            user, cohort_ids=cohort_ids, school_ids=school_ids, employer_slug=employer_slug, statuses=statuses
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


def count_certificate_records(user, *, cohort_ids=None, school_ids=None, employer_slug=None, statuses=None) -> int:
    return _record_queryset(
        user, cohort_ids=cohort_ids, school_ids=school_ids, employer_slug=employer_slug, statuses=statuses
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
        _change_status(cert, status, previous, reason=reason, actor=_actor_name(actor), kind="status_changed")
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
    chain.append(cert, kind=kind, status=status, reason=reason, actor=actor)
    cert_id, number = cert.pk, cert.number
    transaction.on_commit(
        lambda: _send(
            signals.certificate_status_changed,
            certificate_id=cert_id,
            number=number,
            status=str(status),
            previous=str(previous),
            reason=reason,
        )
    )


def _send(signal, **kwargs) -> None:
    """Send after commit to every receiver; one failing receiver (credentials, exports) never stops the others."""
    for receiver, result in signal.send_robust(sender=models.Certificate, **kwargs):
        if isinstance(result, Exception):
            log.error(
                "receiver %r of a certification signal failed: %r",
                receiver,
                result,
                exc_info=(type(result), result, result.__traceback__),
            )


def certificate_events_verified(certificate_id: int | None = None) -> ChainReport:
    return chain.verify(certificate_id)


verify_event_chain = certificate_events_verified


# ---------------------------------------------------------------------------------------------
# Tracks and requirement trees

# Published versions are frozen, so their trees are cached for the life of the process. The key
# carries ``published_at`` too: a primary key alone can come back for another row after a rollback.
_TREE_CACHE: dict[tuple, rules.RequirementSpec] = {}


def _build_tree(rows: list[models.Requirement]) -> rules.RequirementSpec:
    by_parent: dict[int | None, list[models.Requirement]] = defaultdict(list)
    for row in rows:
        by_parent[row.parent_id].append(row)

    def node(row: models.Requirement) -> rules.RequirementSpec:
        children = tuple(node(child) for child in sorted(by_parent.get(row.pk, []), key=lambda r: (r.position, r.pk)))
        return rules.RequirementSpec(
            id=str(row.pk),
            kind=row.kind,
            title=row.title,
            key=row.key,
            category=row.category,
            source=row.source,
            threshold=row.threshold,
            due_date=row.due_date,
            children=children,
        )

    top = tuple(node(row) for row in sorted(by_parent.get(None, []), key=lambda r: (r.position, r.pk)))
    return rules.RequirementSpec(id="root", kind="all", children=top)


def _tree_key(version: models.TrackVersion, purpose: str) -> tuple | None:
    if not version.published or version.published_at is None:
        return None
    return (version.pk, purpose, version.published_at)


def _prefetch_trees(versions: Iterable[models.TrackVersion]) -> dict[tuple[int, str], rules.RequirementSpec]:
    """Trees of these versions (both purposes), from the cache or in one query for the missing ones."""
    versions = {v.pk: v for v in versions}
    trees: dict[tuple[int, str], rules.RequirementSpec] = {}
    missing = set()
    for vid, version in versions.items():
        for purpose in ("initial", "renewal"):
            key = _tree_key(version, purpose)
            if key is not None and key in _TREE_CACHE:
                trees[(vid, purpose)] = _TREE_CACHE[key]
            else:
                missing.add(vid)
    if missing:
        rows: dict[tuple[int, str], list[models.Requirement]] = defaultdict(list)
        for row in models.Requirement.objects.filter(version_id__in=missing):
            rows[(row.version_id, row.purpose)].append(row)
        for vid in missing:
            for purpose in ("initial", "renewal"):
                tree = _build_tree(rows.get((vid, purpose), []))
                trees[(vid, purpose)] = tree
                key = _tree_key(versions[vid], purpose)
                if key is not None:
                    _TREE_CACHE[key] = tree
    return trees


def requirement_tree(version: models.TrackVersion | int, purpose: str = "initial") -> rules.RequirementSpec:
    """The requirement tree of a track version (``purpose``: initial or renewal)."""
    if not isinstance(version, models.TrackVersion):
        version = models.TrackVersion.objects.get(pk=version)
    return _prefetch_trees([version])[(version.pk, purpose)]


def list_tracks() -> list[TrackData]:
    result = []
    for track in models.Track.objects.order_by("slug"):
        version = track.current_version()
        if version is not None:
            version.track = track
            result.append(_track_data(version))
    return result


def get_track(slug: str) -> TrackData | None:
    track = models.Track.objects.filter(slug=slug).first()
    version = track.current_version() if track else None
    return _track_data(version) if version else None


def publish_version(version_id: int) -> None:
    """Freeze a draft version: from now on its requirements cannot change."""
    models.TrackVersion.objects.filter(pk=version_id, published=False).update(
        published=True, published_at=timezone.now()
    )


# ---------------------------------------------------------------------------------------------
# Schools, cohorts, enrolments (the seed and the admin use these)


def ensure_school(slug: str, **fields) -> SchoolData:
    school, _created = models.School.objects.update_or_create(slug=slug, defaults=fields)
    return _school_data(school)


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
            consent.withdrawn_at = now
            consent.save(update_fields=["withdrawn_at"])


def set_own_consent(user, enrollment_id, employer_slug: str, granted: bool) -> None:
    """A learner grants or withdraws consent on one of their own enrolments; PermissionDenied otherwise."""
    try:
        enrollment_id = int(enrollment_id)
    except (TypeError, ValueError):
        raise PermissionDenied("no such enrolment") from None
    if not models.Enrollment.objects.filter(pk=enrollment_id, user=user).exists():
        raise PermissionDenied("no such enrolment")
    if not models.Employer.objects.filter(slug=str(employer_slug)).exists():
        raise PermissionDenied("no such employer")
    set_consent(enrollment_id, str(employer_slug), bool(granted))


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


# ---------------------------------------------------------------------------------------------
# Evidence


def record_evidence(
    user,
    kind: str,
    key: str,
    *,
    value: float,
    passed: bool,
    occurred_at: datetime.datetime | None = None,
    course_key: str = "",
) -> None:
    """Keep the latest value of one piece of evidence (a re-sent older event never overwrites a newer one).

    Evaluation follows on commit through ``tasks.evaluate_learner`` so that the receiver stays cheap.
    """
    kind = models.EvidenceKind(kind)
    if kind in (models.EvidenceKind.LAB, models.EvidenceKind.BLOCK_SCORE):
        key = rules.stable_block_id(key)
    occurred_at = occurred_at or timezone.now()
    value = max(0.0, min(1.0, float(value)))
    for _attempt in range(2):
        try:
            with transaction.atomic():
                row = models.Evidence.objects.select_for_update().filter(user=user, kind=kind, key=key).first()
                if row is None:
                    models.Evidence.objects.create(
                        user=user,
                        kind=kind,
                        key=key,
                        value=value,
                        passed=passed,
                        occurred_at=occurred_at,
                        course_key=course_key,
                    )
                elif occurred_at >= row.occurred_at:
                    row.value, row.passed, row.occurred_at = value, passed, occurred_at
                    row.course_key = course_key or row.course_key
                    row.save(update_fields=["value", "passed", "occurred_at", "course_key", "updated_at"])
            break
        except IntegrityError:  # another worker created the row first: update it on the second pass
            continue
    _schedule_evaluation(user.pk)


def _schedule_evaluation(user_id: int) -> None:
    from xblocks.certification import tasks  # pylint: disable=import-outside-toplevel

    transaction.on_commit(lambda: tasks.evaluate_learner.delay(user_id))


def record_lab_result(
    user,
    *,
    usage_key: str,
    course_key: str,
    score: float,
    max_score: float,
    passed: bool,
    completed_at: datetime.datetime | None,
    lab_key: str = "",
) -> None:
    """A graded lab check run (from ``labs.signals.lab_result_recorded``): lab and block-score evidence.

    Lab evidence is keyed by the lab's stable key (track files name labs by it), block-score evidence
    by the block's id; a lab without a key is known by its block id for both.
    """
    fraction = (score / max_score) if max_score else (1.0 if passed else 0.0)
    at = completed_at or timezone.now()
    record_evidence(
        user, "lab", lab_key or usage_key, value=fraction, passed=passed, occurred_at=at, course_key=course_key
    )
    record_evidence(
        user, "block_score", usage_key, value=fraction, passed=passed, occurred_at=at, course_key=course_key
    )


def check_hours_entry(actor, user, cohort_id, *, minutes: int, corrects_id: int | None = None) -> models.Cohort:
    """The cohort of a new hours entry once every rule holds; PermissionDenied or ValidationError otherwise.

    The actor must be allowed to record hours in the cohort, the learner enrolled in it, and a
    correction must point at an entry of the same learner in the same cohort (a correction elsewhere
    would move hours between cohorts, or schools).
    """
    cohort = permissions.require_cohort(actor, cohort_id, permissions.RECORD_HOURS)
    if user is None or not models.Enrollment.objects.filter(user=user, cohort=cohort).exists():
        raise ValidationError(_("This learner is not enrolled in this cohort."))
    if corrects_id is None and int(minutes) <= 0:
        raise ValidationError(_("Minutes must be a positive whole number."))
    if (
        corrects_id is not None
        and not models.HoursEntry.objects.filter(pk=corrects_id, user=user, cohort=cohort).exists()
    ):
        raise ValidationError(_("The corrected entry does not exist."))
    return cohort


def add_hours(
    actor,
    user,
    cohort_id: int,
    *,
    source: str,
    minutes: int,
    date: datetime.date,
    category: str = "",
    note: str = "",
    work_process: str = "",
    attester=None,
    corrects_id: int | None = None,
) -> HoursEntryData:
    """Add one hours entry for a learner of a cohort the actor manages (coordinator or staff).

    The only way hours enter the ledger (staff page, JSON API, admin, seed); CSV imports apply the
    same checks row by row. Every entry belongs to a cohort and counts toward that cohort only.
    """
    cohort = check_hours_entry(actor, user, cohort_id, minutes=minutes, corrects_id=corrects_id)
    source = models.HoursSource(source)
    entry = models.HoursEntry.objects.create(
        user=user,
        cohort=cohort,
        source=source,
        category=category,
        minutes=int(minutes),
        date=date,
        note=note,
        work_process=work_process,
        attester=attester,
        attested_at=timezone.now() if attester else None,
        corrects_id=corrects_id,
        created_by=actor,
    )
    _schedule_evaluation(user.pk)
    return _hours_data(entry)


def correct_hours_entry(actor, entry_id: int, *, minutes: int, note: str) -> HoursEntryData:
    """Correct an entry to ``minutes`` by adding the difference as a new entry that points at it."""
    original = models.HoursEntry.objects.select_related("user").get(pk=entry_id)
    already = sum(models.HoursEntry.objects.filter(corrects_id=entry_id).values_list("minutes", flat=True))
    delta = int(minutes) - (original.minutes + already)
    if delta == 0:
        raise ValidationError(_("The entry already has this value."))
    return add_hours(
        actor,
        original.user,
        original.cohort_id,
        source=original.source,
        minutes=delta,
        date=original.date,
        category=original.category,
        note=note,
        corrects_id=entry_id,
    )


def hours_entries(actor, cohort_id: int, user_id: int | None = None) -> list[HoursEntryData]:
    cohort = permissions.require_cohort(actor, cohort_id, permissions.SEE_COHORT)
    queryset = models.HoursEntry.objects.filter(cohort=cohort).select_related("attester").order_by("date", "pk")
    if user_id is not None:
        queryset = queryset.filter(user_id=user_id)
    return [_hours_data(entry) for entry in queryset]


def check_attestation(actor, user, cohort_id, competency: str) -> models.Cohort:
    """The cohort of a new sign-off once every rule holds; PermissionDenied or ValidationError otherwise."""
    cohort = permissions.require_cohort(actor, cohort_id, permissions.SIGN_OFF)
    if user is None or not models.Enrollment.objects.filter(user=user, cohort=cohort).exists():
        raise ValidationError(_("This learner is not enrolled in this cohort."))
    if not str(competency or "").strip():
        raise ValidationError(_("Give a learner of this cohort and a competency."))
    return cohort


def add_attestation(actor, user, cohort_id: int, competency: str, *, note: str = "") -> None:
    """A tutor or coordinator signs off a competency for a learner of a cohort they manage.

    The sign-off belongs to that cohort and counts toward it only; the attester is the actor and the
    time is now (neither can be typed in).
    """
    cohort = check_attestation(actor, user, cohort_id, competency)
    models.Attestation.objects.create(
        user=user, cohort=cohort, competency=competency.strip(), attester=actor, attested_at=timezone.now(), note=note
    )
    _schedule_evaluation(user.pk)


def on_course_grade_changed(
    user_id: int, course_key: str, percent: float, passed: bool, at: datetime.datetime | None = None
) -> None:
    """An LMS course grade (openedx-events ``PERSISTENT_GRADE_SUMMARY_CHANGED``)."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is not None:
        record_evidence(
            user, "course_grade", course_key, value=percent, passed=passed, occurred_at=at, course_key=course_key
        )


def on_course_passing_status(
    user_id: int, course_key: str, is_passing: bool, at: datetime.datetime | None = None
) -> None:
    """An LMS passing status (``COURSE_PASSING_STATUS_UPDATED``, or its CCX twin): completion evidence."""
    user = get_user_model().objects.filter(pk=user_id).first()
    if user is not None:
        record_evidence(
            user,
            "completion",
            course_key,
            value=1.0 if is_passing else 0.0,
            passed=is_passing,
            occurred_at=at,
            course_key=course_key,
        )


# ---------------------------------------------------------------------------------------------
# Evaluation


@dataclass
class _Loaded:
    facts: dict[int, dict[tuple[str, str], rules.Fact]]
    hours: dict[int, list[tuple[int | None, rules.HoursRecord]]]
    attestations: dict[tuple[int, int | None], dict[str, datetime.date]]  # (user, cohort) -> competency -> day
    certificates: dict[tuple[int, int], list[models.Certificate]]


def _load(user_ids: list[int], version_ids: set[int]) -> _Loaded:
    """Everything evaluation needs for these learners: four queries whatever their number."""
    zone = timezone.get_current_timezone()
    facts: dict[int, dict] = defaultdict(dict)
    for user_id, kind, key, value, passed, at in models.Evidence.objects.filter(user_id__in=user_ids).values_list(
        "user_id", "kind", "key", "value", "passed", "occurred_at"
    ):
        facts[user_id][(kind, key)] = rules.Fact(value=value, passed=passed, at=at.astimezone(zone).date())
    hours: dict[int, list] = defaultdict(list)
    for user_id, cohort_id, source, category, minutes, day in models.HoursEntry.objects.filter(
        user_id__in=user_ids
    ).values_list("user_id", "cohort_id", "source", "category", "minutes", "date"):
        hours[user_id].append((cohort_id, rules.HoursRecord(source, category, minutes, day)))
    attestations: dict[tuple[int, int | None], dict] = defaultdict(dict)
    for user_id, cohort_id, competency, at in (
        models.Attestation.objects.filter(user_id__in=user_ids)
        .order_by("attested_at")
        .values_list("user_id", "cohort_id", "competency", "attested_at")
    ):
        attestations[(user_id, cohort_id)][competency] = at.astimezone(zone).date()  # the latest sign-off
    certificates: dict[tuple[int, int], list] = defaultdict(list)
    for cert in models.Certificate.objects.filter(user_id__in=user_ids, track_version_id__in=version_ids).order_by(
        "period"
    ):
        certificates[(cert.user_id, cert.track_version_id)].append(cert)
    return _Loaded(facts, hours, attestations, certificates)


def _evidence_for(loaded: _Loaded, user_id: int, cohort_id: int) -> rules.EvidenceSet:
    # Hours and sign-offs count toward the cohort they were given in, and no other: a school's
    # ledger never feeds another school's cohort. (Rows left without a cohort by the 0002 migration
    # belonged to no cohort a creator could manage; they count nowhere.)
    return rules.EvidenceSet(
        facts=loaded.facts.get(user_id, {}),
        hours=tuple(record for cid, record in loaded.hours.get(user_id, ()) if cid == cohort_id),
        attestations=loaded.attestations.get((user_id, cohort_id), {}),
    )


def _started_on(enrollment: models.Enrollment) -> datetime.date:
    return enrollment.cohort.starts_on or timezone.localdate(enrollment.enrolled_at)


@dataclass(frozen=True)
class _EnrollmentRow:
    """The columns evaluation needs, read with ``values_list`` (model instances cost more than the rules)."""

    pk: int
    user_id: int
    username: str
    first_name: str
    last_name: str
    cohort_id: int
    cohort_name: str
    starts_on: datetime.date | None
    enrolled_at: datetime.datetime
    track_version_id: int
    employee_id: str


_ROW_FIELDS = (
    "pk",
    "user_id",
    "user__username",
    "user__first_name",
    "user__last_name",
    "cohort_id",
    "cohort__name",
    "cohort__starts_on",
    "enrolled_at",
    "track_version_id",
    "employee_id",
)


def _progress(
    row: _EnrollmentRow,
    version: models.TrackVersion,
    loaded: _Loaded,
    today: datetime.date,
    tree: rules.RequirementSpec,
) -> LearnerProgress:
    started_on = row.starts_on or timezone.localdate(row.enrolled_at)
    evaluation = rules.evaluate(
        tree, _evidence_for(loaded, row.user_id, row.cohort_id), today=today, started_on=started_on
    )
    certs = loaded.certificates.get((row.user_id, row.track_version_id), [])
    current = certs[-1] if certs else None
    return LearnerProgress(
        enrollment_id=row.pk,
        user_id=row.user_id,
        username=row.username,
        full_name=f"{row.first_name} {row.last_name}".strip() or row.username,
        cohort_id=row.cohort_id,
        cohort_name=row.cohort_name,
        track_slug=version.track.slug,
        track_title=version.title,
        track_version=version.version,
        evaluation=evaluation,
        certificate_number=current.number if current else "",
        certificate_status=current.status if current else "",
        certificate_valid_until=current.valid_until if current else None,
        employee_id=row.employee_id,
    )


_ENROLLMENT_RELATED = ("user", "cohort__school", "track_version__track")


def _versions(ids: set[int]) -> dict[int, models.TrackVersion]:
    """Track versions by id, with their track (one query)."""
    return {v.pk: v for v in models.TrackVersion.objects.filter(pk__in=ids).select_related("track")}


def evaluate_enrollments(
    enrollment_ids: Iterable[int] | None = None, *, chunk_size: int = 2000, today: datetime.date | None = None
) -> Iterator[LearnerProgress]:
    """Evaluate enrolments (all active ones when ``enrollment_ids`` is None) in chunks of constant query count."""
    today = today or _today()
    queryset = models.Enrollment.objects.filter(status=models.EnrollmentStatus.ACTIVE).order_by("pk")
    if enrollment_ids is not None:
        queryset = queryset.filter(pk__in=list(enrollment_ids))
    last_pk = 0
    while True:
        chunk = [
            _EnrollmentRow(*values) for values in queryset.filter(pk__gt=last_pk).values_list(*_ROW_FIELDS)[:chunk_size]
        ]
        if not chunk:
            return
        last_pk = chunk[-1].pk
        version_ids = {row.track_version_id for row in chunk}
        versions = _versions(version_ids)
        trees = _prefetch_trees(versions.values())
        loaded = _load(list({row.user_id for row in chunk}), version_ids)
        for row in chunk:
            yield _progress(
                row, versions[row.track_version_id], loaded, today, trees[(row.track_version_id, "initial")]
            )


def learner_progress(
    user, *, track_slug: str | None = None, today: datetime.date | None = None
) -> list[LearnerProgress]:
    """The learner's own active enrolments, evaluated (what the learner view shows)."""
    ids = models.Enrollment.objects.filter(user=user, status=models.EnrollmentStatus.ACTIVE)
    if track_slug:
        ids = ids.filter(cohort__track__slug=track_slug)
    return list(evaluate_enrollments(list(ids.values_list("pk", flat=True)), today=today))


def cohort_roster(
    actor, cohort_id: int, *, search: str = "", state: str = "", today: datetime.date | None = None
) -> list[LearnerProgress]:
    """The cohort's learners with their progress; ``state``: "", "met", "in_progress", "certified"."""
    cohort = permissions.require_cohort(actor, cohort_id, permissions.SEE_COHORT)
    queryset = models.Enrollment.objects.filter(cohort=cohort, status=models.EnrollmentStatus.ACTIVE)
    if search:
        queryset = queryset.filter(
            Q(user__username__icontains=search)
            | Q(user__email__icontains=search)
            | Q(user__first_name__icontains=search)
            | Q(user__last_name__icontains=search)
            | Q(employee_id__icontains=search)
        )
    rows = list(evaluate_enrollments(list(queryset.values_list("pk", flat=True)), today=today))
    if state == "met":
        rows = [r for r in rows if r.evaluation.met]
    elif state == "in_progress":
        rows = [r for r in rows if not r.evaluation.met]
    elif state == "certified":
        rows = [r for r in rows if r.certificate_status == Status.ACTIVE]
    return sorted(rows, key=lambda r: r.username)


def evaluate_learner(
    username_or_email: str, *, track_slug: str | None = None, issue: bool = False
) -> list[LearnerProgress]:
    """Evaluate one learner by username or e-mail (``kafaat cert evaluate``); LookupError when unknown."""
    user_model = get_user_model()
    user = user_model.objects.filter(Q(username=username_or_email) | Q(email=username_or_email)).first()
    if user is None:
        raise LookupError(f"no user {username_or_email!r}")
    if issue:
        evaluate_and_issue(user.pk)
    return learner_progress(user, track_slug=track_slug)


def evaluate_and_issue(user_id: int, *, today: datetime.date | None = None) -> list[str]:
    """Evaluate a learner's enrolments and issue every certificate now earned; returns the new numbers."""
    today = today or _today()
    issued = []
    for progress in evaluate_enrollments(
        models.Enrollment.objects.filter(user_id=user_id, status=models.EnrollmentStatus.ACTIVE).values_list(
            "pk", flat=True
        ),
        today=today,
    ):
        if progress.evaluation.met and not progress.certificate_number:
            cert = issue_certificate(progress.enrollment_id, evaluation=progress.evaluation, today=today)
            if cert is not None:
                issued.append(cert.number)
    return issued


# ---------------------------------------------------------------------------------------------
# Issuance, validity, renewal, expiry


def _next_number(year: int) -> str:
    """A new certificate number for ``year`` (``CERTIFICATE_NUMBER_FORMAT``; see ``numbers``).

    The default format holds a random ``{code}``: numbers say nothing about each other. A format
    with ``{seq}`` (discouraged: anyone can walk it) still gets the per-year sequence, its row locked
    until the transaction ends.
    """
    template = str(cert_settings.CERTIFICATE_NUMBER_FORMAT)
    if "{seq" not in template:
        return numbers.format_number(template, year=year)
    try:
        with transaction.atomic():
            models.CertificateSequence.objects.create(year=year, last=0)
    except IntegrityError:
        pass  # another worker created this year's row; lock it below
    sequence = models.CertificateSequence.objects.select_for_update().get(year=year)
    sequence.last += 1
    sequence.save(update_fields=["last"])
    return numbers.format_number(template, year=year, seq=sequence.last)


def compute_validity(
    version: models.TrackVersion, completed_on: datetime.date, previous: models.Certificate | None = None
) -> datetime.date | None:
    """``valid_until`` for a completion on ``completed_on`` (the Totara modes; see docs/certification.md)."""
    mode, months = version.validity_mode, version.validity_months
    if mode == models.ValidityMode.NONE:
        return None
    if mode == models.ValidityMode.AFTER_COMPLETION:
        return add_months(completed_on, months)
    if mode == models.ValidityMode.ANNIVERSARY:
        if previous is not None and previous.valid_until and completed_on <= previous.valid_until:
            return add_months(previous.valid_until, months)  # keeps the anniversary
        return add_months(completed_on, months)  # first award, or lapsed: restart from completion
    if mode == models.ValidityMode.FIXED:
        until = version.fixed_until
        if until is None:
            return None
        step = 0
        while until <= completed_on and months:
            step += 1
            until = add_months(version.fixed_until, months * step)
        return until
    raise ValueError(f"unknown validity mode {mode!r}")


def _snapshot(evaluation: rules.Evaluation, evidence: rules.EvidenceSet) -> dict:
    labs = {}
    for (kind, key), fact in evidence.facts.items():
        if kind == "lab":
            labs[key] = {"passed": fact.passed, "score": fact.value, "at": fact.at.isoformat() if fact.at else None}
    return {
        "requirements": evaluation.as_json()["requirements"],
        "labs": labs,
        "attestations": {k: v.isoformat() for k, v in evidence.attestations.items()},
        "hours": {
            "total": evaluation.hours_total,
            "by_category": evaluation.hours_by_category,
            "by_source": evaluation.hours_by_source,
        },
    }


_NUMBER_ATTEMPTS = 5


def _create_certificate(enrollment, evaluation, evidence, actor, period, previous, today) -> models.Certificate:
    """Insert the certificate, its first event and (for a renewal) the superseded status, in one transaction."""
    with transaction.atomic():
        number = _next_number(today.year)
        cert = models.Certificate.objects.create(
            number=number,
            user_id=enrollment.user_id,
            track_version_id=enrollment.track_version_id,
            enrollment=enrollment,
            cohort_id=enrollment.cohort_id,
            period=period,
            renewed_from=previous,
            status=Status.ACTIVE,
            issued_at=timezone.now(),
            valid_from=today,
            valid_until=compute_validity(enrollment.track_version, today, previous),
            hours_total=evaluation.hours_total,
            hours_by_category=evaluation.hours_by_category,
            hours_by_source=evaluation.hours_by_source,
            results=[[r.title, r.current, r.required] for r in evaluation.flat()],
            evidence=_snapshot(evaluation, evidence),
        )
        chain.append(
            cert,
            kind="issued" if period == 1 else "renewed",
            status=Status.ACTIVE,
            reason=_("Every requirement met") if period == 1 else _("Renewal requirements met"),
            actor=_actor_name(actor),
        )
        if previous is not None and previous.status == Status.ACTIVE:
            locked = models.Certificate.objects.select_for_update().get(pk=previous.pk)
            _change_status(
                locked,
                Status.EXPIRED,
                Status.ACTIVE,
                reason=f"superseded by renewal {number}",
                actor="system",
                kind="superseded",
            )
    return cert


def issue_certificate(
    enrollment_id: int,
    *,
    evaluation: rules.Evaluation | None = None,
    actor=None,
    period: int = 1,
    renewed_from_id: int | None = None,
    today: datetime.date | None = None,
) -> CertificateData | None:
    """Issue the certificate of an enrolment whose requirements are met; idempotent per period.

    Exactly one certificate exists per learner, track version and period even when two workers
    issue at once: the unique constraint decides, the loser returns the winner's certificate.
    Returns None when the requirements are not met.
    """
    today = today or _today()
    enrollment = models.Enrollment.objects.select_related(*_ENROLLMENT_RELATED).get(pk=enrollment_id)
    loaded = _load([enrollment.user_id], {enrollment.track_version_id})
    evidence = _evidence_for(loaded, enrollment.user_id, enrollment.cohort_id)
    if evaluation is None:
        evaluation = rules.evaluate(
            requirement_tree(enrollment.track_version), evidence, today=today, started_on=_started_on(enrollment)
        )
    if not evaluation.met:
        return None
    key = {"user_id": enrollment.user_id, "track_version_id": enrollment.track_version_id, "period": period}
    existing = models.Certificate.objects.filter(**key).first()
    if existing is not None:
        return get_certificate(existing.pk)
    previous = models.Certificate.objects.filter(pk=renewed_from_id).first() if renewed_from_id else None
    for attempt in range(_NUMBER_ATTEMPTS):
        try:
            cert = _create_certificate(enrollment, evaluation, evidence, actor, period, previous, today)
            break
        except IntegrityError:
            # Another worker issued it between our check and our insert: a locking read sees its row
            # even under REPEATABLE READ, where a plain read would still show our older snapshot.
            with transaction.atomic():
                existing = models.Certificate.objects.select_for_update().filter(**key).first()
            if existing is not None:
                log.info("certificate %s was issued by a concurrent worker; returning it", existing.number)
                return get_certificate(existing.pk)
            if attempt == _NUMBER_ATTEMPTS - 1:
                raise
            # Not the same certificate: two random numbers met (about 1 in 10^13); draw again.
            log.warning("certificate number collision on attempt %d; drawing another", attempt + 1)
    cert_id, number = cert.pk, cert.number
    transaction.on_commit(lambda: _send(signals.certificate_issued, certificate_id=cert_id, number=number))
    log.info("issued certificate %s to user %s for %s", number, enrollment.user_id, enrollment.track_version)
    return get_certificate(cert_id)


def renewal_window_opens(cert: models.Certificate) -> datetime.date | None:
    if cert.valid_until is None:
        return None
    return cert.valid_until - datetime.timedelta(days=cert.track_version.window_days)


def evaluate_renewal(cert: models.Certificate, today: datetime.date) -> rules.Evaluation | None:
    """The renewal evaluation of a certificate whose window is open (None when it is not)."""
    opens = renewal_window_opens(cert)
    if opens is None or today < opens or cert.enrollment_id is None:
        return None
    version = cert.track_version
    loaded = _load([cert.user_id], {version.pk})
    evidence = _evidence_for(loaded, cert.user_id, cert.cohort_id)
    if version.renewal_mode == models.RenewalMode.ROLLING_HOURS:
        since = add_months(today, -version.renewal_window_months)
        tree = rules.RequirementSpec(
            id="root",
            kind="all",
            children=(
                rules.RequirementSpec(
                    id="renewal-hours", kind="hours", title=_("Continuing hours"), threshold=version.renewal_hours
                ),
            ),
        )
    else:
        since = opens  # like Totara, evidence from before the window does not count toward recertification
        tree = requirement_tree(version, "renewal")
    return rules.evaluate(tree, evidence.since(since), today=today, started_on=since)


def process_renewals(today: datetime.date | None = None) -> list[str]:
    """Renew every certificate whose window is open and whose renewal requirements are met."""
    today = today or _today()
    renewed = []
    candidates = (
        models.Certificate.objects.filter(
            status__in=[Status.ACTIVE, Status.EXPIRED],
            valid_until__isnull=False,
            renewals__isnull=True,
            enrollment__status=models.EnrollmentStatus.ACTIVE,
        )
        .select_related("track_version")
        .order_by("pk")
    )
    for cert in candidates.iterator(chunk_size=500):
        if (
            cert.status == Status.EXPIRED
            and models.CertificateEvent.objects.filter(certificate=cert, kind="superseded").exists()
        ):
            continue
        opens = renewal_window_opens(cert)
        if opens is None or today < opens:
            continue
        evaluation = evaluate_renewal(cert, today)
        if evaluation is not None and evaluation.met:
            new = issue_certificate(
                cert.enrollment_id, evaluation=evaluation, period=cert.period + 1, renewed_from_id=cert.pk, today=today
            )
            if new is not None:
                renewed.append(new.number)
    return renewed


def expire_certificates(today: datetime.date | None = None) -> int:
    """Mark active and suspended certificates past ``valid_until`` as expired (with an event each)."""
    today = today or _today()
    count = 0
    ids = list(
        models.Certificate.objects.filter(
            status__in=[Status.ACTIVE, Status.SUSPENDED], valid_until__lt=today
        ).values_list("pk", flat=True)
    )
    for cert_id in ids:
        with transaction.atomic():
            cert = models.Certificate.objects.select_for_update().get(pk=cert_id)
            if cert.status in (Status.ACTIVE, Status.SUSPENDED) and cert.valid_until and cert.valid_until < today:
                _change_status(
                    cert,
                    Status.EXPIRED,
                    cert.status,
                    reason=f"validity ended on {cert.valid_until}",
                    actor="system",
                    kind="expired",
                )
                count += 1
    return count


def _reminder_due(remaining: int, days: list[int]) -> int | None:
    """The reminder for ``remaining`` days left: the smallest configured day count not below it."""
    due = [d for d in days if remaining <= d]
    return min(due) if due else None


def send_expiry_reminders(today: datetime.date | None = None) -> int:
    """E-mail learners whose certificate expires soon; each configured reminder goes out once."""
    today = today or _today()
    days = sorted({int(d) for d in cert_settings.CERT_REMINDER_DAYS if int(d) >= 0})
    if not days:
        return 0
    sent = 0
    queryset = models.Certificate.objects.filter(
        status=Status.ACTIVE, valid_until__gte=today, valid_until__lte=today + datetime.timedelta(days=max(days))
    ).select_related(*_CERT_RELATED)
    for cert in queryset.iterator(chunk_size=500):
        if models.Certificate.objects.filter(renewed_from=cert).exists():
            continue
        remaining = (cert.valid_until - today).days
        due = _reminder_due(remaining, days)
        if due is None:
            continue
        try:
            with transaction.atomic():
                models.ExpiryReminder.objects.create(certificate=cert, days_before=due, sent_at=timezone.now())
                _send_reminder(cert, remaining)
        except IntegrityError:
            continue  # already sent (possibly by another worker)
        sent += 1
    return sent


def _send_reminder(cert: models.Certificate, remaining: int) -> None:
    profile = compat.learner_profiles([cert.user])[cert.user.pk]
    with translation.override(profile.language):
        params = {
            "name": profile.full_name,
            "title": cert.track_version.title,
            "number": cert.number,
            "date": cert.valid_until.isoformat(),
            "days": remaining,
        }
        subject = _("Your certificate %(number)s expires on %(date)s") % params
        body = (
            _(
                "Hello %(name)s,\n\nYour certificate “%(title)s” (%(number)s) expires on %(date)s. "
                "Complete the renewal requirements before then to keep it valid.\n"
            )
            % params
        )
    send_mail(subject, body, cert_settings.CERT_FROM_EMAIL, [cert.user.email], fail_silently=False)
