"""Issuance: evidence to certificate, once per learner/version/period, numbers, validity, status changes, signals."""

from __future__ import annotations

import datetime
import re
import threading

import pytest
from django.db import connection, connections

from tests.certification.helpers import COURSE_KEY, complete_cloud_track
from xblocks.certification import api, models, signals
from xblocks.certification.api import evidence, issuance
from xblocks.labs.signals import lab_result_recorded

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]


def test_meeting_every_requirement_issues_one_certificate(cert_world):
    complete_cloud_track(cert_world, "amina_a")
    progress = api.learner_progress(cert_world.learner("amina_a"))[0]
    assert progress.evaluation.met
    cert = api.get_certificate(progress.certificate_number)
    assert cert.status == "active"
    assert cert.learner.username == "amina_a"
    assert cert.school.slug == "school-a"
    assert cert.employee_id == "E-amina_a"
    assert cert.hours_total == 20.0
    assert cert.hours_by_source == {"company": 4.0, "school": 16.0}
    assert ("Course grade", 0.9, 0.7) in cert.results
    assert cert.track.total_hours_required == 20.0  # 20 h, of which 4 h of security
    assert set(cert.evidence["labs"]) == {"cloud_reverse_proxy", "devops_make_hooks"}
    # evaluating again never makes a second one
    assert api.evaluate_and_issue(cert_world.learner("amina_a").pk) == []
    assert models.Certificate.objects.filter(user=cert_world.learner("amina_a")).count() == 1


def test_a_learner_missing_one_requirement_gets_no_certificate(cert_world):
    complete_cloud_track(cert_world, "yanis_a", attest=False)
    progress = api.learner_progress(cert_world.learner("yanis_a"))[0]
    assert not progress.evaluation.met
    assert progress.certificate_number == ""
    missing = [r.missing for r in progress.evaluation.flat() if not r.met]
    # the electives not taken are listed too (each alternative of a met "any"), and nothing else
    assert [m for m in missing if "(elective)" not in m] == [
        "A tutor has to sign off “Incident response (tutor sign-off)”"
    ]
    assert api.issue_certificate(cert_world.enrollments["yanis_a"]) is None


def test_lab_signal_records_evidence_and_issues_on_commit(cert_world, django_capture_on_commit_callbacks):
    user = cert_world.learner("amina_a")
    complete_cloud_track(cert_world, "amina_a")
    yanis = cert_world.learner("yanis_a")
    api.on_course_grade_changed(yanis.pk, COURSE_KEY, 0.8, True)
    api.add_hours(
        cert_world.staff,
        yanis,
        cert_world.cohort_a.id,
        source="school",
        minutes=20 * 60,
        date=datetime.date(2026, 2, 1),
        category="security",
    )
    api.add_attestation(cert_world.staff, yanis, cert_world.cohort_a.id, "incident-response")
    issued = []
    signals.certificate_issued.connect(lambda sender, **kw: issued.append(kw), dispatch_uid="test-issued", weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            for lab in ("cloud_reverse_proxy", "devops_make_hooks"):
                lab_result_recorded.send(
                    sender=None,
                    user=yanis,
                    course_key=COURSE_KEY,
                    usage_key=f"wb.kafaat_lab.{lab}.d0.u0",
                    score=2.0,
                    max_score=2.0,
                    passed=True,
                    completed_at=None,
                )
    finally:
        signals.certificate_issued.disconnect(dispatch_uid="test-issued")
    cert = models.Certificate.objects.get(user=yanis)
    assert [kw["number"] for kw in issued] == [cert.number]
    assert models.Evidence.objects.get(user=yanis, kind="lab", key="devops_make_hooks").passed
    assert user.kafaat_certificates.count() == 1


def test_an_older_event_never_overwrites_newer_evidence(cert_world):
    user = cert_world.learner("yanis_a")
    now = datetime.datetime(2026, 3, 1, 12, tzinfo=datetime.UTC)
    api.record_evidence(user, "lab", "cloud_reverse_proxy", value=1.0, passed=True, occurred_at=now)
    api.record_evidence(
        user, "lab", "cloud_reverse_proxy", value=0.2, passed=False, occurred_at=now - datetime.timedelta(hours=1)
    )
    row = models.Evidence.objects.get(user=user, kind="lab")
    assert (row.value, row.passed) == (1.0, True)


def test_openedx_grade_and_passing_payloads_become_evidence(cert_world, django_capture_on_commit_callbacks):
    from types import SimpleNamespace  # pylint: disable=import-outside-toplevel

    from xblocks.certification import handlers  # pylint: disable=import-outside-toplevel

    user = cert_world.learner("yanis_a")
    course = SimpleNamespace(course_key=COURSE_KEY, display_name="Sample")
    grade = SimpleNamespace(
        user_id=user.pk,
        course=course,
        course_edited_timestamp=datetime.datetime(2026, 3, 1),
        course_version="v1",
        grading_policy_hash="x",
        percent_grade=0.82,
        letter_grade="Pass",
        passed_timestamp=datetime.datetime(2026, 3, 1),
    )
    status = SimpleNamespace(is_passing=True, course=course, user=SimpleNamespace(id=user.pk, is_active=True, pii=None))
    with django_capture_on_commit_callbacks(execute=True):  # held in the outbox, delivered after commit
        handlers.on_persistent_grade_summary_changed(sender=None, grade=grade, metadata=None)
        handlers.on_course_passing_status_updated(sender=None, course_passing_status=status)
    assert models.Evidence.objects.get(user=user, kind="course_grade", key=COURSE_KEY).value == pytest.approx(0.82)
    assert models.Evidence.objects.get(user=user, kind="completion", key=COURSE_KEY).passed


def test_certificate_numbers_are_random_check_digited_codes_of_the_year(certified, settings):
    from xblocks.certification import numbers as certificate_numbers  # pylint: disable=import-outside-toplevel

    numbers = sorted(models.Certificate.objects.values_list("number", flat=True))
    year = datetime.date.today().year
    assert len(numbers) == len(set(numbers)) == 2
    for number in numbers:
        assert re.fullmatch(rf"KAF-{year}-[0-9A-Z]{{5}}-[0-9A-Z]{{5}}", number), number
        assert certificate_numbers.code_is_well_formed(number[-11:])
    # an operator who insists on a sequence still gets one, allocated under the row lock
    settings.KAFAAT = {**settings.KAFAAT, "CERTIFICATE_NUMBER_FORMAT": "SCH/{year}/{seq}"}
    complete_cloud_track(certified, "yanis_a")
    assert models.Certificate.objects.get(user=certified.learner("yanis_a")).number == f"SCH/{year}/1"


def test_a_number_collision_draws_another_number(cert_world, monkeypatch):
    drawn = iter(["KAF-2026-SAME0-00000", "KAF-2026-SAME0-00000", "KAF-2026-OTHER-00000"])
    monkeypatch.setattr(issuance, "_next_number", lambda year: next(drawn))
    complete_cloud_track(cert_world, "amina_a")
    complete_cloud_track(cert_world, "lina_b")
    assert sorted(models.Certificate.objects.values_list("number", flat=True)) == [
        "KAF-2026-OTHER-00000",
        "KAF-2026-SAME0-00000",
    ]


@pytest.mark.parametrize(
    ("mode", "months", "fixed", "completed", "previous_until", "expected"),
    [
        ("none", 0, None, "2026-03-10", None, None),
        ("after_completion", 24, None, "2026-03-10", None, "2028-03-10"),
        ("anniversary", 24, None, "2026-03-10", None, "2028-03-10"),
        # hr-and-ce.md §5: renewed on 2028-02-01; COMPLETION gives 2030-02-01, EXPIRY keeps 2030-03-10
        ("after_completion", 24, None, "2028-02-01", "2028-03-10", "2030-02-01"),
        ("anniversary", 24, None, "2028-02-01", "2028-03-10", "2030-03-10"),
        ("anniversary", 24, None, "2028-05-01", "2028-03-10", "2030-05-01"),  # lapsed: restart from completion
        ("fixed", 12, "2026-12-31", "2026-03-10", None, "2026-12-31"),
        ("fixed", 12, "2026-12-31", "2027-01-15", None, "2027-12-31"),
        ("after_completion", 1, None, "2026-01-31", None, "2026-02-28"),
    ],
)
def test_validity_modes_follow_the_totara_rules(mode, months, fixed, completed, previous_until, expected):
    day = datetime.date.fromisoformat
    version = models.TrackVersion(validity_mode=mode, validity_months=months, fixed_until=day(fixed) if fixed else None)
    previous = models.Certificate(valid_until=day(previous_until)) if previous_until else None
    until = api.compute_validity(version, day(completed), previous)
    assert (until.isoformat() if until else None) == expected


def test_status_changes_record_reason_actor_and_event_and_send_the_signal(
    certified, django_capture_on_commit_callbacks
):
    cert = models.Certificate.objects.get(user=certified.learner("amina_a"))
    changes = []
    signals.certificate_status_changed.connect(lambda sender, **kw: changes.append(kw), dispatch_uid="t", weak=False)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            api.set_certificate_status(cert.pk, "suspended", reason="unpaid fees", actor=certified.staff)
            api.set_certificate_status(cert.pk, "active", reason="fees paid", actor=certified.staff)
            data = api.set_certificate_status(cert.pk, "revoked", reason="exam fraud", actor=certified.staff)
    finally:
        signals.certificate_status_changed.disconnect(dispatch_uid="t")
    assert data.status == "revoked"
    assert [(c["previous"], c["status"], c["reason"]) for c in changes] == [
        ("active", "suspended", "unpaid fees"),
        ("suspended", "active", "fees paid"),
        ("active", "revoked", "exam fraud"),
    ]
    events = api.certificate_events(cert.pk)
    assert [(e.kind, e.status, e.actor) for e in events] == [
        ("issued", "active", "system"),
        ("suspended", "suspended", "platform_staff"),
        ("reinstated", "active", "platform_staff"),
        ("revoked", "revoked", "platform_staff"),
    ]
    assert events[1].previous_hash == events[0].hash


@pytest.mark.parametrize(("first", "then"), [("revoked", "active"), ("revoked", "suspended"), (None, "expired")])
def test_forbidden_status_changes_are_refused(certified, first, then):
    cert = models.Certificate.objects.get(user=certified.learner("amina_a"))
    if first:
        api.set_certificate_status(cert.pk, first, reason="r", actor="x")
    with pytest.raises(ValueError):
        api.set_certificate_status(cert.pk, then, reason="r", actor="x")


def test_a_status_change_needs_a_reason(certified):
    cert = models.Certificate.objects.get(user=certified.learner("amina_a"))
    with pytest.raises(ValueError):
        api.set_certificate_status(cert.pk, "suspended", reason="  ", actor="x")


def test_iter_certificate_records_costs_the_same_queries_for_more_rows(certified):
    from django.test.utils import CaptureQueriesContext  # pylint: disable=import-outside-toplevel

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            list(api.iter_certificate_records(certified.staff, chunk_size=100))
        return len(ctx.captured_queries)

    list(api.iter_certificate_records(certified.staff))  # warm the requirement-tree cache
    two = queries()
    complete_cloud_track(certified, "yanis_a")
    assert queries() == two
    names = [r.learner.username for r in api.iter_certificate_records(certified.staff, chunk_size=1)]
    assert names == ["amina_a", "lina_b", "yanis_a"]


def test_employer_filter_returns_only_consenting_learners(certified):
    api.set_consent(certified.enrollments["amina_a"], "insurer", True)
    api.set_consent(certified.enrollments["lina_b"], "insurer", True)
    api.set_consent(certified.enrollments["lina_b"], "insurer", False)  # withdrawn
    names = [r.learner.username for r in api.iter_certificate_records(certified.staff, employer_slug="insurer")]
    assert names == ["amina_a"]
    assert api.count_certificate_records(certified.staff, employer_slug="insurer") == 1
    assert api.count_certificate_records(certified.staff, statuses=["active"]) == 2


def _issue_in_threads(enrollment_id: int, workers: int, monkeypatch) -> list:
    """Every worker passes the "already issued?" check, then all allocate a number and insert at once."""
    barrier = threading.Barrier(workers)
    checked = threading.Barrier(workers)
    original = issuance._next_number
    results, errors = [], []

    def wait_then_allocate(year):
        checked.wait(timeout=20)  # nobody has inserted yet: each worker saw no certificate
        return original(year)

    monkeypatch.setattr(issuance, "_next_number", wait_then_allocate)

    def work():
        try:
            barrier.wait(timeout=10)
            results.append(api.issue_certificate(enrollment_id))
        except Exception as error:  # noqa: BLE001
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work) for _ in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    monkeypatch.setattr(issuance, "_next_number", original)
    assert not errors, errors
    return results


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(
    connection.vendor != "mysql",
    reason="row locks and concurrent writers need MariaDB: run with KAFAAT_TEST_DATABASE=mariadb",
)
def test_concurrent_workers_issue_exactly_one_certificate_on_mariadb(cert_world, monkeypatch):
    import logging  # pylint: disable=import-outside-toplevel

    class Collect(logging.Handler):
        def __init__(self):
            super().__init__(logging.INFO)
            self.messages = []

        def emit(self, record):
            self.messages.append(record.getMessage())

    collect = Collect()
    logging.getLogger("xblocks.certification.api").addHandler(collect)
    monkeypatch.setattr(logging.getLogger("xblocks.certification.api"), "level", logging.INFO)
    # No evaluation on commit while the evidence goes in (here commits are real): the threads race from scratch.
    monkeypatch.setattr(evidence, "_schedule_evaluation", lambda user_id: None)
    complete_cloud_track(cert_world, "yanis_a", issue=False)
    complete_cloud_track(cert_world, "amina_a", issue=False)
    assert not models.Certificate.objects.exists()
    results = _issue_in_threads(cert_world.enrollments["yanis_a"], workers=6, monkeypatch=monkeypatch)
    certs = models.Certificate.objects.filter(user=cert_world.learner("yanis_a"))
    assert certs.count() == 1
    assert {r.number for r in results} == {certs.get().number}
    assert models.CertificateEvent.objects.filter(certificate=certs.get()).count() == 1
    assert len(results) == 6
    logging.getLogger("xblocks.certification.api").removeHandler(collect)
    # five workers really lost the insert race and got the winner's certificate back
    assert sum("issued by a concurrent worker" in m for m in collect.messages) == 5
    # a second learner racing for the same year gets the next number, never a duplicate
    results = _issue_in_threads(cert_world.enrollments["amina_a"], workers=4, monkeypatch=monkeypatch)
    numbers = sorted(models.Certificate.objects.values_list("number", flat=True))
    assert len(numbers) == len(set(numbers)) == 2
    assert all(number.startswith("KAF-") for number in numbers)
