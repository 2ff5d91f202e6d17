"""Evaluation: evidence for many enrolments loaded in a constant number of queries, handed to ``rules.evaluate``."""

from __future__ import annotations

import datetime
import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from xblocks.certification import models, permissions, rules
from xblocks.certification.api.certificates import (
    Status,
)
from xblocks.certification.api.tracks import _prefetch_trees
from xblocks.certification.data import (
    LearnerProgress,
)

log = logging.getLogger(__name__)


def _today() -> datetime.date:
    return timezone.localdate()


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
