"""Renewal windows, renewal by requirement set or rolling hours, the expiry job and reminders sent once."""

from __future__ import annotations

import datetime

import pytest
from django.core import mail

from tests.certification.helpers import COURSE_KEY
from xblocks.certification import api, models
from xblocks.certification.api import renewal
from xblocks.core.dates import add_months

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]

DAY = datetime.date


def _amina_cert(world) -> models.Certificate:
    return models.Certificate.objects.select_related("track_version").get(user=world.learner("amina_a"), period=1)


def test_the_expiry_job_expires_once_with_an_event(certified):
    cert = _amina_cert(certified)
    after = cert.valid_until + datetime.timedelta(days=1)
    assert api.expire_certificates(today=cert.valid_until) == 0
    assert api.expire_certificates(today=after) == 2
    assert api.expire_certificates(today=after) == 0
    cert.refresh_from_db()
    assert cert.status == "expired"
    assert api.certificate_events(cert.pk)[-1].kind == "expired"
    assert api.certificate_events_verified().ok


def test_suspended_certificates_expire_but_revoked_ones_stay_revoked(certified):
    cert = _amina_cert(certified)
    other = models.Certificate.objects.get(user=certified.learner("lina_b"))
    api.set_certificate_status(cert.pk, "suspended", reason="fees", actor="x")
    api.set_certificate_status(other.pk, "revoked", reason="fraud", actor="x")
    api.expire_certificates(today=cert.valid_until + datetime.timedelta(days=5))
    assert models.Certificate.objects.get(pk=cert.pk).status == "expired"
    assert models.Certificate.objects.get(pk=other.pk).status == "revoked"


def test_reminders_go_out_once_each_at_the_configured_days(certified, settings):
    settings.KAFAAT = {**settings.KAFAAT, "CERT_REMINDER_DAYS": [60, 7]}
    cert = _amina_cert(certified)
    until = cert.valid_until
    assert api.send_expiry_reminders(today=until - datetime.timedelta(days=61)) == 0
    assert api.send_expiry_reminders(today=until - datetime.timedelta(days=60)) == 2  # both learners
    assert api.send_expiry_reminders(today=until - datetime.timedelta(days=59)) == 0  # the 60-day one is done
    assert api.send_expiry_reminders(today=until - datetime.timedelta(days=5)) == 2  # a missed day 7 still goes
    assert api.send_expiry_reminders(today=until - datetime.timedelta(days=1)) == 0
    amina = [m for m in mail.outbox if m.to == ["amina_a@example.com"]]
    assert len(amina) == 2
    assert cert.number in amina[0].subject
    assert set(models.ExpiryReminder.objects.filter(certificate=cert).values_list("days_before", flat=True)) == {60, 7}


def test_a_failed_mail_is_retried_on_the_next_run(certified, settings, monkeypatch):
    settings.KAFAAT = {**settings.KAFAAT, "CERT_REMINDER_DAYS": [30]}
    cert = _amina_cert(certified)
    day = cert.valid_until - datetime.timedelta(days=10)

    def broken(*args, **kwargs):
        raise OSError("smtp down")

    monkeypatch.setattr(renewal, "send_mail", broken)
    with pytest.raises(OSError):
        api.send_expiry_reminders(today=day)
    assert not models.ExpiryReminder.objects.exists()
    monkeypatch.undo()
    assert api.send_expiry_reminders(today=day) == 2


def test_renewal_by_requirement_set_counts_only_evidence_from_the_window(certified):
    cert = _amina_cert(certified)
    user = certified.learner("amina_a")
    opens = cert.valid_until - datetime.timedelta(days=cert.track_version.window_days)
    # before the window: nothing happens even though old evidence exists
    assert api.process_renewals(today=opens - datetime.timedelta(days=1)) == []
    assert api.process_renewals(today=opens) == []  # the old lab pass and hours predate the window
    api.add_hours(
        certified.staff, user, certified.cohort_a.id, source="elearning", minutes=8 * 60, date=opens, category="cpd"
    )
    lab_at = datetime.datetime.combine(opens, datetime.time(10), tzinfo=datetime.UTC)
    api.record_lab_result(
        user,
        usage_key="cloud_reverse_proxy",
        course_key=COURSE_KEY,
        score=1,
        max_score=1,
        passed=True,
        completed_at=lab_at,
    )
    renewed_on = opens + datetime.timedelta(days=3)
    numbers = api.process_renewals(today=renewed_on)
    assert len(numbers) == 1
    new = models.Certificate.objects.get(number=numbers[0])
    assert (new.period, new.renewed_from_id, new.status) == (2, cert.pk, "active")
    assert new.valid_until == add_months(cert.valid_until, 24)  # anniversary mode keeps the date
    cert.refresh_from_db()
    assert cert.status == "expired"
    assert api.certificate_events(new.pk)[0].kind == "renewed"
    assert api.process_renewals(today=renewed_on) == []  # idempotent


def test_renewal_by_rolling_hours(sample_tracks, django_user_model):
    staff = django_user_model.objects.create_user("ops", is_staff=True)
    learner = django_user_model.objects.create_user("nora")
    api.ensure_school("s", name="S")
    cohort = api.ensure_cohort("s", "security-analyst", "sec", name="Sec", starts_on=DAY(2025, 1, 1))
    enrollment_id = api.enroll(learner, cohort.id)
    api.record_evidence(learner, "block_score", "security_hardening", value=0.9, passed=True)
    api.record_evidence(learner, "lab", "devops_make_hooks", value=1, passed=True)
    api.add_hours(staff, learner, cohort.id, source="school", minutes=14 * 60, date=DAY(2025, 3, 1), category="ethics")
    api.add_hours(staff, learner, cohort.id, source="company", minutes=26 * 60, date=DAY(2025, 4, 1), category="soc")
    models.Attestation.objects.create(
        user=learner,
        cohort_id=cohort.id,
        competency="log-triage",
        attested_at=datetime.datetime(2025, 4, 2, tzinfo=datetime.UTC),
    )
    first = api.issue_certificate(enrollment_id, today=DAY(2025, 5, 1))
    assert first.valid_until == DAY(2026, 5, 1)  # 12 months after completion
    in_window = DAY(2026, 4, 15)  # 30-day window
    assert api.process_renewals(today=in_window) == []  # the 40 h are older than the rolling 12 months
    api.add_hours(staff, learner, cohort.id, source="elearning", minutes=16 * 60, date=DAY(2026, 2, 1), category="cpd")
    renewed = api.process_renewals(today=in_window)
    assert len(renewed) == 1
    assert api.get_certificate(renewed[0]).valid_until == DAY(2027, 4, 15)
