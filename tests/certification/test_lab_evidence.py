"""Evidence that must not be lost: lab evidence heals from recorded results, platform grades wait in the outbox."""

from __future__ import annotations

import datetime

import pytest
from django.db import transaction
from django.utils import timezone

from xblocks.certification import api, models
from xblocks.labs import periodic
from xblocks.labs.api import outbox, results
from xblocks.labs.definition import parse_lab
from xblocks.labs.models import LabSession, OutboxMessage

OLX = """<kafaat_lab display_name="Keyed" lab_key="linux_basics">
  <step id="s" title="S"><instructions>x</instructions><check id="c" points="2">true</check></step>
</kafaat_lab>"""


def _recorded_result(user, *, score: float, passed: bool, usage_key="kafaat_lab.heal.d0.u0") -> LabSession:
    """A learner's lab result recorded as the labs app records one: the session and its outbox message."""
    now = timezone.now()
    steps = {"s": {"check_points": score, "checks_passed": passed, "attempts": 1}}
    with transaction.atomic():
        row = LabSession.objects.create(
            user=user,
            usage_key=usage_key,
            definition=OLX,
            definition_hash="heal",
            seed="00" * 32,
            state="stopped",
            progress={"steps": steps},
            best_score=score,
            completed_at=now if passed else None,
            result_at=now,
        )
        results._publish_result(row, parse_lab(OLX))
    return row


@pytest.fixture
def lost_deliveries(monkeypatch):
    """Every delivery task is lost and the periodic delivery never runs: only healing is left."""
    monkeypatch.setattr(outbox, "_queue_delivery", lambda message_id: None)


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_lost_lab_result_is_restored_by_the_heal_job_and_a_second_run_changes_nothing(
    django_user_model, lost_deliveries
):
    learner = django_user_model.objects.create_user("healed", "healed@example.com", "pw")
    _recorded_result(learner, score=2.0, passed=True)
    OutboxMessage.objects.all().delete()  # the message is gone (a purged table, an old backup)
    assert not models.Evidence.objects.exists()

    outcome = periodic.run_job("kafaat-certification-heal-lab-evidence")
    assert outcome.ran and outcome.ok
    lab = models.Evidence.objects.get(user=learner, kind="lab")
    assert (lab.key, lab.value, lab.passed) == ("linux_basics", 1.0, True)
    assert models.Evidence.objects.get(user=learner, kind="block_score").passed
    before = list(models.Evidence.objects.order_by("pk").values())

    assert api.heal_lab_evidence() == 0  # nothing left to repair
    assert list(models.Evidence.objects.order_by("pk").values()) == before


@pytest.mark.django_db(transaction=True)
def test_healing_updates_stale_evidence_but_never_replaces_newer_evidence(django_user_model, lost_deliveries):
    learner = django_user_model.objects.create_user("stale", "stale@example.com", "pw")
    row = _recorded_result(learner, score=1.0, passed=False)
    assert api.heal_lab_evidence() == 1
    assert models.Evidence.objects.get(user=learner, kind="lab").value == 0.5
    # the learner passes later; that message is lost too
    LabSession.objects.filter(pk=row.pk).update(
        best_score=2.0,
        progress={"steps": {"s": {"check_points": 2.0, "checks_passed": True, "attempts": 2}}},
        completed_at=timezone.now(),
        result_at=timezone.now(),
    )
    assert api.heal_lab_evidence() == 1
    assert models.Evidence.objects.get(user=learner, kind="lab").passed
    # newer evidence of the same lab (another course's block) is not this result's to replace
    models.Evidence.objects.filter(user=learner, kind="lab").update(occurred_at=timezone.now(), value=0.9)
    assert api.heal_lab_evidence() == 0
    assert models.Evidence.objects.get(user=learner, kind="lab").value == 0.9


@pytest.mark.django_db(transaction=True)
def test_the_heal_window_leaves_older_results_to_a_full_heal(django_user_model, lost_deliveries):
    from xblocks.certification import tasks

    learner = django_user_model.objects.create_user("old", "old@example.com", "pw")
    row = _recorded_result(learner, score=2.0, passed=True)
    LabSession.objects.filter(pk=row.pk).update(result_at=timezone.now() - datetime.timedelta(days=30))
    assert tasks.heal_lab_evidence() == 0  # the periodic job looks back CERT_LAB_HEAL_WINDOW (7 days)
    assert tasks.heal_lab_evidence(days=31) == 1


@pytest.mark.django_db(transaction=True)
def test_kafaat_cert_heal_labs_all_repairs_what_the_window_leaves_out(
    django_user_model, lost_deliveries, monkeypatch, capsys
):
    import argparse

    from xblocks.certification import cli

    learner = django_user_model.objects.create_user("cli", "cli@example.com", "pw")
    row = _recorded_result(learner, score=2.0, passed=True)
    LabSession.objects.filter(pk=row.pk).update(result_at=timezone.now() - datetime.timedelta(days=90))
    monkeypatch.setattr("xblocks.core.bootstrap.setup_django", lambda: None)
    parser = argparse.ArgumentParser()
    cli.register("cert", parser)
    for argv, expected in (
        (["heal-labs"], "0 lab result(s) repaired"),
        (["heal-labs", "--all"], "1 lab result(s) repaired"),
    ):
        args = parser.parse_args(argv)
        assert args.func(args) == 0
        assert expected in capsys.readouterr().out
    assert models.Evidence.objects.filter(user=learner, kind="lab", passed=True).exists()


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_platform_grade_whose_recording_failed_is_recorded_on_a_later_delivery(django_user_model, monkeypatch):
    """openedx-events logged a failing receiver and dropped the grade; now the outbox holds it until it lands."""
    from datetime import timedelta

    from xblocks.certification import handlers
    from xblocks.labs import api as labs_api

    learner = django_user_model.objects.create_user("graded", "graded@example.com", "pw")
    at = timezone.now() - timedelta(minutes=5)
    real = api.on_course_grade_changed

    def locked(*args):
        raise RuntimeError("database is locked")

    monkeypatch.setattr(api, "on_course_grade_changed", locked)
    grade = type("Grade", (), {"user_id": learner.pk, "percent_grade": 0.9, "passed_timestamp": at})()
    grade.course = type("Course", (), {"course_key": "course-v1:K+A+1"})()
    metadata = type("Metadata", (), {"time": at})()
    handlers.on_persistent_grade_summary_changed(sender=None, grade=grade, metadata=metadata)
    message = OutboxMessage.objects.get(topic="certification.course_grade_received")
    assert message.pending and "database is locked" in message.last_error
    assert not models.Evidence.objects.exists()

    monkeypatch.setattr(api, "on_course_grade_changed", real)
    OutboxMessage.objects.update(next_attempt_at=timezone.now())
    assert labs_api.deliver_due_messages() == 1
    evidence = models.Evidence.objects.get(user=learner, kind="course_grade")
    assert (evidence.value, evidence.passed, evidence.occurred_at) == (0.9, True, at)
