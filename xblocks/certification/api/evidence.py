"""Evidence: lab results, course grades and passing states, hours and sign-offs, each followed by an evaluation."""

from __future__ import annotations

import datetime
import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from xblocks.certification import models, permissions, rules, signals, tasks
from xblocks.certification.data import (
    HoursEntryData,
)
from xblocks.core.i18n import gettext as _
from xblocks.labs import api as labs_api

log = logging.getLogger(__name__)


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


def record_evidence(
    user,
    kind: str,
    key: str,
    *,
    value: float,
    passed: bool,
    occurred_at: datetime.datetime | None = None,
    course_key: str = "",
    evaluate_later: bool = True,
) -> None:
    """Keep the latest value of one piece of evidence (a re-sent older event never overwrites a newer one).

    Evaluation follows on commit through ``tasks.evaluate_learner`` so that the caller stays cheap;
    ``evaluate_later=False`` leaves it to a caller that evaluates itself (an outbox delivery).
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
                    new = (value, passed, occurred_at, course_key or row.course_key)
                    if new == (row.value, row.passed, row.occurred_at, row.course_key):
                        return  # the same evidence again (a repeated message): nothing changes
                    row.value, row.passed, row.occurred_at, row.course_key = new
                    row.save(update_fields=["value", "passed", "occurred_at", "course_key", "updated_at"])
            break
        except IntegrityError:  # another worker created the row first: update it on the second pass
            continue
    if evaluate_later:
        _schedule_evaluation(user.pk)


def _schedule_evaluation(user_id: int) -> None:
    tasks.enqueue(tasks.evaluate_learner, user_id)


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
    recorded_at: datetime.datetime | None = None,
    evaluate_later: bool = True,
) -> None:
    """A learner's lab result (from ``labs.signals.lab_result_recorded``): lab and block-score evidence.

    Lab evidence is keyed by the lab's stable key (track files name labs by it), block-score evidence
    by the block's id; a lab without a key is known by its block id for both. The evidence is dated by
    the lab's completion, else by when the result was recorded, so a repeated or late message never
    replaces a newer result: recording the same result twice changes nothing.
    """
    fraction = _fraction(score, max_score, passed)
    at = completed_at or recorded_at or timezone.now()
    for kind, key in (("lab", lab_key or usage_key), ("block_score", usage_key)):
        record_evidence(
            user,
            kind,
            key,
            value=fraction,
            passed=passed,
            occurred_at=at,
            course_key=course_key,
            evaluate_later=evaluate_later,
        )


def _fraction(score: float, max_score: float, passed: bool) -> float:
    return max(0.0, min(1.0, (score / max_score) if max_score else (1.0 if passed else 0.0)))


def heal_lab_evidence(since: datetime.datetime | None = None) -> int:
    """Re-derive lab evidence from the labs' recorded results; returns how many learners' labs it repaired.

    Delivery through the outbox is retried until it succeeds, but a message can still be lost to an
    operator (a purged table, a restored backup); this re-reads every result that changed since
    ``since`` (all when None) and records the ones whose evidence is missing or older. Idempotent:
    a second run finds nothing to repair, and evaluates nobody.
    """
    healed = 0
    users = get_user_model().objects
    for result in labs_api.lab_results(since):
        wanted = {
            (models.EvidenceKind.LAB, rules.stable_block_id(result.lab_key or result.usage_key)),
            (models.EvidenceKind.BLOCK_SCORE, rules.stable_block_id(result.usage_key)),
        }
        fraction = _fraction(result.score, result.max_score, result.passed)
        current = {
            (row.kind, row.key): row
            for row in models.Evidence.objects.filter(
                user_id=result.user_id, kind__in=[kind for kind, _key in wanted], key__in=[key for _kind, key in wanted]
            )
        }
        if all(_holds(current.get(item), fraction, result) for item in wanted):
            continue
        user = users.filter(pk=result.user_id).first()
        if user is None:
            continue
        record_lab_result(
            user,
            usage_key=result.usage_key,
            lab_key=result.lab_key,
            course_key=result.course_key,
            score=result.score,
            max_score=result.max_score,
            passed=result.passed,
            completed_at=result.completed_at,
            recorded_at=result.recorded_at,
        )
        healed += 1
    if healed:
        log.warning("healed the lab evidence of %s learner results that certification had not received", healed)
    return healed


def _holds(row, fraction: float, result) -> bool:
    """Whether an evidence row already says what a lab result says (or something newer)."""
    if row is None or row.occurred_at < result.occurred_at:
        return False
    if row.occurred_at > result.occurred_at:
        return True  # newer evidence (another block of the same lab): not this result's to replace
    return abs(float(row.value) - fraction) < 1e-9 and bool(row.passed) == bool(result.passed)


def lab_evidence(user_ids: list[int], usage_or_lab_key: str) -> dict[int, tuple[float, bool]]:
    """The lab evidence certification holds for these learners: ``{user_id: (fraction, passed)}``.

    What operators (and the class benchmark) compare with the labs' own check runs to see that no
    graded result was lost on its way here.
    """
    key = rules.stable_block_id(usage_or_lab_key)
    rows = models.Evidence.objects.filter(user_id__in=list(user_ids), kind=models.EvidenceKind.LAB, key=key)
    return {
        user_id: (float(value), bool(passed))
        for user_id, value, passed in rows.values_list("user_id", "value", "passed")
    }


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


def _publish_platform_event(topic: str, user_id: int, course_key: str, at: datetime.datetime | None, **values) -> None:
    # One message per event (keyed by its time), none replacing another: the platform's events may arrive
    # out of order, and the evidence keeps the latest by date whatever order they are delivered in.
    stamp = at.isoformat() if at else timezone.now().isoformat()
    payload = {"user_id": int(user_id), "course_key": str(course_key), "at": at.isoformat() if at else None, **values}
    labs_api.publish(topic, f"{user_id}:{course_key}:{stamp}", payload)


def receive_course_grade(
    user_id: int, course_key: str, percent: float, passed: bool, at: datetime.datetime | None = None
) -> None:
    """A platform course grade, held in the outbox (written in the platform's transaction); see below."""
    _publish_platform_event(
        signals.COURSE_GRADE_TOPIC, user_id, course_key, at, percent=float(percent), passed=bool(passed)
    )


def receive_course_passing_status(
    user_id: int, course_key: str, is_passing: bool, at: datetime.datetime | None = None
) -> None:
    """A platform passing status, held in the outbox; see ``on_course_passing_status``."""
    _publish_platform_event(signals.COURSE_PASSING_TOPIC, user_id, course_key, at, is_passing=bool(is_passing))


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


def record_project_signoff(
    enrollment_id: int, key: str, signed_off: bool, *, occurred_at: datetime.datetime | None = None
) -> None:
    """A project mentor signed the learner of ``enrollment_id`` off (or withdrew it) on the project ``key``.

    The sign-off arrives as evidence of kind ``project`` that a track's ``project`` requirement reads;
    the caller (the partnership app) checks that the signer mentors that project.
    """
    key = str(key).strip()
    if not key:
        raise ValidationError("a project requirement key is required")
    enrolment = models.Enrollment.objects.select_related("user").get(pk=int(enrollment_id))
    record_evidence(
        enrolment.user,
        models.EvidenceKind.PROJECT,
        key,
        value=1.0 if signed_off else 0.0,
        passed=bool(signed_off),
        occurred_at=occurred_at,
    )
