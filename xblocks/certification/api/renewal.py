"""Validity over time: renewal windows and renewals, expiry, and the reminders sent before it."""

from __future__ import annotations

import datetime
import logging

from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.utils import timezone, translation

from xblocks.certification import models, rules
from xblocks.certification.api.certificates import (
    _CERT_RELATED,
    Status,
    _change_status,
)
from xblocks.certification.api.evaluation import (
    _evidence_for,
    _load,
    _today,
)
from xblocks.certification.api.issuance import issue_certificate
from xblocks.certification.api.tracks import requirement_tree
from xblocks.certification.conf import cert_settings
from xblocks.core import compat
from xblocks.core.dates import add_months
from xblocks.core.i18n import gettext as _

log = logging.getLogger(__name__)


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
