"""Celery tasks are thin and safe to run twice."""

from __future__ import annotations

import pytest

from tests.certification.helpers import complete_cloud_track
from xblocks.certification import models, tasks

pytestmark = pytest.mark.django_db


def test_evaluate_learner_issues_once_when_run_twice(cert_world):
    complete_cloud_track(cert_world, "yanis_a", issue=False)
    user_id = cert_world.learner("yanis_a").pk
    first = tasks.evaluate_learner.delay(user_id).get()
    assert len(first) == 1
    assert tasks.evaluate_learner.delay(user_id).get() == []
    assert models.Certificate.objects.filter(user_id=user_id).count() == 1


def test_the_nightly_jobs_run_and_are_idempotent(certified):
    assert tasks.expire_certificates.delay().get() == 0
    assert tasks.send_expiry_reminders.delay().get() == 0
    assert tasks.process_renewals.delay().get() == []
