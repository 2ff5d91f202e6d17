"""Aggregate reporting: every enrolment in scope as a small frozen fact, in a constant number of queries.

Sister apps (the partnership committee's dashboard) count these; they never see a name or an e-mail
here. Projected completion dates come from the same evaluation the learner page shows.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.db.models import Count, Max, Q, Sum
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from xblocks.certification import models
from xblocks.certification.api.evaluation import evaluate_enrollments
from xblocks.certification.data import EnrolmentFact


def _in_scope(queryset, path: str, school_ids: Iterable[int] | None):
    return queryset if school_ids is None else queryset.filter(**{f"{path}__in": list(school_ids)})


def _proves_by_version() -> dict[int, tuple[str, ...]]:
    """What each track version proves; a version from before track files named skills takes its track's latest claim.

    Without that, every certificate issued before ``proves`` existed would count as proving nothing.
    """
    rows = list(models.TrackVersion.objects.order_by("version").values_list("pk", "track_id", "published", "proves"))
    latest = {track_id: tuple(value) for _pk, track_id, published, value in rows if published and value}
    return {pk: tuple(value) if value else latest.get(track_id, ()) for pk, track_id, _published, value in rows}


def enrolment_facts(
    school_ids: Iterable[int] | None = None, *, enrollment_ids: Iterable[int] | None = None
) -> list[EnrolmentFact]:
    """Every enrolment of these schools (all when None; only ``enrollment_ids`` when given) as an
    ``EnrolmentFact``: five queries whatever the count.

    The caller decides who may see what: this function takes school ids, not a user (see ``visible_school_ids``).
    """
    school_ids = None if school_ids is None else set(school_ids)
    enrolments = _in_scope(models.Enrollment.objects.all(), "cohort__school_id", school_ids)
    if enrollment_ids is not None:
        enrolments = enrolments.filter(pk__in=list(enrollment_ids))
    # Dates are computed by the database: converting 50,000 datetimes in Python costs more than the query.
    rows = list(
        enrolments.order_by("pk")
        .annotate(started=Coalesce("cohort__starts_on", TruncDate("enrolled_at")))
        .values_list(
            "pk",
            "user_id",
            "cohort_id",
            "cohort__school_id",
            "cohort__mode",
            "cohort__track__slug",
            "track_version_id",
            "started",
            "status",
        )
    )
    proves = _proves_by_version()
    certificates: dict[tuple[int, int, int], tuple] = {}
    certificate_rows = _in_scope(models.Certificate.objects.all(), "cohort__school_id", school_ids)
    if enrollment_ids is not None:
        certificate_rows = certificate_rows.filter(user_id__in=enrolments.values("user_id"))
    for user_id, cohort_id, version_id, status, issued_on, valid_until in (
        certificate_rows.order_by("period", "pk")
        .annotate(issued_on=TruncDate("issued_at"))
        .values_list("user_id", "cohort_id", "track_version_id", "status", "issued_on", "valid_until")
    ):
        key = (user_id, cohort_id, version_id)
        first_on, _status, _valid, renewed = certificates.get(key, (issued_on, "", None, ()))
        if key in certificates:
            renewed = (*renewed, issued_on)  # ordered by period: every row after the first is a renewal
        certificates[key] = (first_on, status, valid_until, renewed)
    learners = enrolments.values("user_id")
    evidence = {
        row["user_id"]: row
        for row in models.Evidence.objects.filter(user_id__in=learners)
        .values("user_id")
        .annotate(
            last=Max(TruncDate("occurred_at")),
            labs=Count("pk", filter=Q(kind=models.EvidenceKind.LAB)),
            passed=Count("pk", filter=Q(kind=models.EvidenceKind.LAB, passed=True)),
        )
    }
    hours: dict[tuple[int, int], datetime.date] = {}
    minutes: dict[tuple[int, int, str], int] = {}
    for row in (
        _in_scope(models.HoursEntry.objects.all(), "cohort__school_id", school_ids)
        .values("user_id", "cohort_id", "source")
        .annotate(last=Max("date"), total=Sum("minutes"))
        .order_by()
    ):
        key = (row["user_id"], row["cohort_id"])
        hours[key] = max(hours.get(key, row["last"]), row["last"])
        minutes[(*key, row["source"])] = row["total"] or 0
    facts = []
    for pk, user_id, cohort_id, school_id, mode, track_slug, version_id, started_on, status in rows:
        first_on, cert_status, valid_until, renewed = certificates.get(
            (user_id, cohort_id, version_id), (None, "", None, ())
        )
        seen = evidence.get(user_id)
        days = [day for day in (hours.get((user_id, cohort_id)),) if day]
        if seen and seen["last"]:
            days.append(seen["last"])
        facts.append(
            EnrolmentFact(
                enrollment_id=pk,
                user_id=user_id,
                cohort_id=cohort_id,
                school_id=school_id,
                cohort_mode=mode,
                track_slug=track_slug,
                track_version_id=version_id,
                proves=proves.get(version_id, ()),
                started_on=started_on,
                active=status == models.EnrollmentStatus.ACTIVE,
                certified_on=first_on,
                certificate_status=cert_status,
                certificate_valid_until=valid_until,
                last_activity_on=max(days) if days else None,
                labs_attempted=seen["labs"] if seen else 0,
                labs_passed=seen["passed"] if seen else 0,
                school_minutes=minutes.get((user_id, cohort_id, models.HoursSource.SCHOOL), 0),
                company_minutes=minutes.get((user_id, cohort_id, models.HoursSource.COMPANY), 0),
                renewed_on=renewed,
            )
        )
    return facts


def projected_completions(
    enrollment_ids: Iterable[int], *, today: datetime.date | None = None
) -> dict[int, datetime.date | None]:
    """The projected completion date of each active enrolment (None when it cannot be projected yet).

    The same extrapolation the learner page shows (``rules.evaluate``); the ids are evaluated in one
    chunk, so the query count stays constant however many there are.
    """
    ids = list(enrollment_ids)
    if not ids:
        return {}
    return {
        progress.enrollment_id: (
            (today or timezone.localdate()) if progress.evaluation.met else progress.evaluation.projected_completion
        )
        for progress in evaluate_enrollments(ids, chunk_size=max(len(ids), 1), today=today)
    }
