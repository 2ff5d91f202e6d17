"""Issuance: a certificate once every requirement is met, idempotent per learner, track version and period."""

from __future__ import annotations

import datetime
import logging

from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from xblocks.certification import chain, models, numbers, rules, signals
from xblocks.certification.api.certificates import (
    Status,
    _actor_name,
    _change_status,
    _publish,
    get_certificate,
)
from xblocks.certification.api.evaluation import (
    _ENROLLMENT_RELATED,
    _evidence_for,
    _load,
    _started_on,
    _today,
    evaluate_enrollments,
    learner_progress,
)
from xblocks.certification.api.tracks import requirement_tree
from xblocks.certification.conf import cert_settings
from xblocks.certification.data import (
    CertificateData,
    LearnerProgress,
)
from xblocks.core.dates import add_months
from xblocks.core.i18n import gettext as _

log = logging.getLogger(__name__)


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
        _publish(signals.CERTIFICATE_ISSUED_TOPIC, str(cert.pk), certificate_id=cert.pk, number=number)
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
    log.info("issued certificate %s to user %s for %s", number, enrollment.user_id, enrollment.track_version)
    return get_certificate(cert_id)


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
