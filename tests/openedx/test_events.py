"""The real openedx-events signals, sent as the platform sends them, reach Kafaat's receivers; Kafaat's
credentials announce themselves with the platform's badge events."""

import datetime

import pytest
from ccx_keys.locator import CCXLocator
from opaque_keys.edx.keys import CourseKey
from openedx_events.learning import data, signals

from tests.certification.helpers import COURSE_KEY, complete_cloud_track

pytestmark = [pytest.mark.lms, pytest.mark.django_db]

EARNED_AT = datetime.datetime(2026, 3, 14, 9, 30, tzinfo=datetime.UTC)
PUBLISHED_AT = datetime.datetime(2024, 1, 2, 8, 0, tzinfo=datetime.UTC)  # the course's last publish


def _user_data(user) -> data.UserData:
    return data.UserData(
        id=user.pk,
        is_active=True,
        pii=data.UserPersonalData(username=user.username, email=user.email, name=user.get_full_name()),
    )


def _send(signal, **kwargs):
    """Send as the platform does: the receiver holds the event in the outbox, delivered once it commits."""
    from django.test import TestCase  # pylint: disable=import-outside-toplevel

    with TestCase.captureOnCommitCallbacks(execute=True):
        signal.send_event(**kwargs)


def _evidence(user, kind, key):
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel

    return models.Evidence.objects.get(user=user, kind=kind, key=key)


def test_a_course_grade_is_evidence_dated_by_the_event_not_by_the_course_publish(cert_world):
    learner = cert_world.learner("yanis_a")
    _send(
        signals.PERSISTENT_GRADE_SUMMARY_CHANGED,
        time=EARNED_AT,
        grade=data.PersistentCourseGradeData(
            user_id=learner.pk,
            course=data.CourseData(course_key=CourseKey.from_string(COURSE_KEY)),
            course_edited_timestamp=PUBLISHED_AT,
            course_version="6627f1b2",
            grading_policy_hash="4b1e0a",
            percent_grade=0.86,
            letter_grade="Pass",
            passed_timestamp=EARNED_AT - datetime.timedelta(minutes=5),
        ),
    )
    evidence = _evidence(learner, "course_grade", COURSE_KEY)
    assert (evidence.value, evidence.passed, evidence.occurred_at) == (0.86, True, EARNED_AT)


def test_a_failing_grade_is_recorded_as_not_passed(cert_world):
    learner = cert_world.learner("yanis_a")
    _send(
        signals.PERSISTENT_GRADE_SUMMARY_CHANGED,
        time=EARNED_AT,
        grade=data.PersistentCourseGradeData(
            user_id=learner.pk,
            course=data.CourseData(course_key=CourseKey.from_string(COURSE_KEY)),
            course_edited_timestamp=PUBLISHED_AT,
            course_version="6627f1b2",
            grading_policy_hash="4b1e0a",
            percent_grade=0.41,
            letter_grade="",
            passed_timestamp=None,
        ),
    )
    evidence = _evidence(learner, "course_grade", COURSE_KEY)
    assert (evidence.value, evidence.passed) == (0.41, False)


def test_a_passing_status_is_completion_evidence(cert_world):
    learner = cert_world.learner("yanis_a")
    _send(
        signals.COURSE_PASSING_STATUS_UPDATED,
        time=EARNED_AT,
        course_passing_status=data.CoursePassingStatusData(
            is_passing=True,
            course=data.CourseData(course_key=CourseKey.from_string(COURSE_KEY)),
            user=_user_data(learner),
        ),
    )
    evidence = _evidence(learner, "completion", COURSE_KEY)
    assert (evidence.value, evidence.passed, evidence.occurred_at) == (1.0, True, EARNED_AT)


def test_a_ccx_passing_status_is_evidence_of_the_ccx(cert_world):
    learner = cert_world.learner("yanis_a")
    master = CourseKey.from_string(COURSE_KEY)
    ccx = CCXLocator.from_course_locator(master, "7")
    _send(
        signals.CCX_COURSE_PASSING_STATUS_UPDATED,
        time=EARNED_AT,
        course_passing_status=data.CcxCoursePassingStatusData(
            is_passing=True,
            course=data.CcxCourseData(ccx_course_key=ccx, master_course_key=master, display_name="Cohort A"),
            user=_user_data(learner),
        ),
    )
    evidence = _evidence(learner, "completion", str(ccx))
    assert (evidence.passed, evidence.occurred_at, evidence.course_key) == (True, EARNED_AT, str(ccx))
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel

    # The master course's own completion is not claimed: a coach may have changed what the CCX asks.
    assert not models.Evidence.objects.filter(user=learner, kind="completion", key=COURSE_KEY).exists()


def test_an_older_event_delivered_late_never_overwrites_a_newer_one(cert_world):
    learner = cert_world.learner("yanis_a")
    for when, passing in ((EARNED_AT, True), (EARNED_AT - datetime.timedelta(days=3), False)):
        _send(
            signals.COURSE_PASSING_STATUS_UPDATED,
            time=when,
            course_passing_status=data.CoursePassingStatusData(
                is_passing=passing,
                course=data.CourseData(course_key=CourseKey.from_string(COURSE_KEY)),
                user=_user_data(learner),
            ),
        )
    assert _evidence(learner, "completion", COURSE_KEY).passed is True


class _Received:
    def __init__(self, signal):
        self.calls = []
        self.signal = signal

    def __call__(self, sender, signal, **kwargs):
        self.calls.append(kwargs)

    def __enter__(self):
        self.signal.connect(self, dispatch_uid=f"test-{id(self)}")
        return self

    def __exit__(self, *exc):
        self.signal.disconnect(dispatch_uid=f"test-{id(self)}")


def test_issuing_and_revoking_a_credential_sends_the_badge_events(cert_world, django_capture_on_commit_callbacks):
    from xblocks.certification import api, models  # pylint: disable=import-outside-toplevel
    from xblocks.certification.credentials.models import SignedCredential  # pylint: disable=import-outside-toplevel

    amina = cert_world.learner("amina_a")
    with (
        _Received(signals.BADGE_AWARDED) as awarded,
        _Received(signals.BADGE_REVOKED) as revoked,
        _Received(signals.CERTIFICATE_CREATED) as course_certificates,
    ):
        with django_capture_on_commit_callbacks(execute=True):
            complete_cloud_track(cert_world, "amina_a")
        certificate = models.Certificate.objects.get(user=amina)
        credential = SignedCredential.objects.get(certificate_id=certificate.pk)
        assert len(awarded.calls) == 1 and not revoked.calls
        badge = awarded.calls[0]["badge"]
        assert isinstance(badge, data.BadgeData)
        assert badge.uuid == credential.credential_id.removeprefix("urn:uuid:")
        assert (badge.user.id, badge.user.pii.username, badge.user.pii.email) == (amina.pk, "amina_a", amina.email)
        assert (badge.template.origin, badge.template.name) == ("kafaat", "Cloud & DevOps practitioner")
        assert awarded.calls[0]["metadata"].event_type == "org.openedx.learning.badge.awarded.v1"

        with django_capture_on_commit_callbacks(execute=True):
            api.set_certificate_status(certificate.pk, "revoked", reason="fraud", actor=cert_world.staff)
        assert len(revoked.calls) == 1
        assert revoked.calls[0]["badge"].uuid == badge.uuid
        assert revoked.calls[0]["badge"].template.uuid == badge.template.uuid
        # Course certificates are the platform's own event; a track certificate is a badge.
        assert not course_certificates.calls
