"""Certification works on a lab result in an LMS worker's task after the Check, never inside it, and loses none.

A learner of the cloud track holds everything but one lab. They pass that lab with a real Check: on
real Celery workers over Redis, the press and the lab host's run write no certification row, and the
certificate is issued by the outbox delivery an LMS worker runs; with the broker down when the run
commits, the result waits in the outbox and the periodic delivery job issues the certificate.
"""

from __future__ import annotations

import logging

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.certification.helpers import complete_cloud_track
from tests.labs.helpers import Lab, Worker, checked, olx, solve_in_sandbox, wait_for
from xblocks.certification import api, models
from xblocks.labs import api as labs_api
from xblocks.labs import periodic, tasks
from xblocks.labs.models import CheckRun, LabSession, OutboxMessage, label_prefix

pytestmark = pytest.mark.django_db(transaction=True)

LAB_KEY = "devops_make_hooks"
CERTIFICATION_TABLES = "kafaat_certification_"


def _lab_of_the_track(student: str) -> Lab:
    """The three-check lab, known to the track as the lab it still asks for."""
    text = olx("three_checks").replace("<kafaat_lab ", f'<kafaat_lab lab_key="{LAB_KEY}" ', 1)
    return Lab(text, student)


def _everything_but_the_lab(world, username: str):
    """Give a cohort A learner all the cloud track asks for except the ``LAB_KEY`` lab; no certificate yet."""
    complete_cloud_track(world, username, labs=("cloud_reverse_proxy",), issue=False)
    user = world.learners[username]
    assert api.evaluate_and_issue(user.pk) == []  # the lab is all that is missing
    assert not models.Evidence.objects.filter(user=user, key=LAB_KEY).exists()
    return user


def _certification_sql(ctx) -> list[str]:
    return [query["sql"] for query in ctx.captured_queries if CERTIFICATION_TABLES in query["sql"]]


@pytest.mark.redis
@pytest.mark.sandbox
@pytest.mark.slow
def test_a_check_does_no_certification_work_and_the_certificate_arrives_through_an_lms_workers_task(
    cert_world, redis_lab_queue, tmp_path
):
    from xblocks.labs.sandbox.base import get_backend  # pylint: disable=import-outside-toplevel

    learner = _everything_but_the_lab(cert_world, "amina_a")
    lab_host = Worker(redis_lab_queue, tmp_path / "labhost.log", KAFAAT_LAB_HOST_ROLE="1")
    lms = Worker(f"{redis_lab_queue}-outbox", tmp_path / "lms.log", KAFAAT_LAB_HOST_ROLE="0", KAFAAT_LAB_HOST="lms")
    backend = get_backend()
    session_id = None
    try:
        lab_host.wait_ready()
        lms.wait_ready()
        lab = _lab_of_the_track("amina_a")
        session_id = lab.ok("start")["session_id"]
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "ready", 90, "the lab host to start the lab")
        solve_in_sandbox(backend, session_id, "setup")
        with CaptureQueriesContext(connection) as check:
            assert checked(lab, "setup")["passed"] is True  # the press, then the page's polls until the result
        assert _certification_sql(check) == []

        def issued():
            return models.Certificate.objects.filter(user=learner).first()

        certificate = wait_for(issued, 60, "the LMS worker to issue the certificate")
        assert certificate.enrollment_id == cert_world.enrollments["amina_a"]
        assert models.Evidence.objects.get(user=learner, kind="lab", key=LAB_KEY).passed
        result = OutboxMessage.objects.get(topic="labs.lab_result_recorded")
        assert (result.pending, result.attempts) == (False, 1)
        lab_host_log, lms_log = lab_host.text(), lms.text()
        assert "xblocks.labs.tasks.run_checks[" in lab_host_log and " succeeded " in lab_host_log
        assert "deliver_outbox_message[" not in lab_host_log  # the lab host evaluated nobody
        assert "xblocks.labs.tasks.deliver_outbox_message[" in lms_log
        assert "run_checks[" not in lms_log
        lab.ok("stop")
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "stopped", 60, "the lab host's teardown")
    finally:
        lab_host.kill()
        lms.kill()
        for handle in backend.inventory():
            if session_id is not None and handle.label == f"{label_prefix()}{session_id}":
                backend.destroy(handle)


@pytest.fixture
def memory_sandboxes(monkeypatch):
    from xblocks.labs.sandbox.memory import MemoryBackend  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("KAFAAT_SANDBOX_BACKEND", "memory")
    backend = MemoryBackend.instance()
    yield backend
    backend.reset()


def test_with_the_broker_down_the_result_waits_in_the_outbox_and_the_periodic_job_issues_the_certificate(
    cert_world, memory_sandboxes, monkeypatch, caplog
):
    learner = _everything_but_the_lab(cert_world, "yanis_a")
    lab = _lab_of_the_track("yanis_a")
    session_id = lab.ok("start")["session_id"]
    solve_in_sandbox(memory_sandboxes, session_id, "setup")
    runs: list[int] = []
    monkeypatch.setattr(tasks, "enqueue", lambda task, run_id, queue=None: runs.append(run_id))
    lab.ok("check", {"step": "setup"})
    with monkeypatch.context() as down:
        app = tasks.deliver_outbox_message.app
        down.setitem(app.conf, "task_always_eager", False)
        down.setitem(app.conf, "broker_url", "redis://127.0.0.1:9/0")
        down.setitem(app.conf, "broker_transport", None)
        down.setitem(app.conf, "task_publish_retry", False)
        down.setattr(app, "_pool", None)  # a connection pool made again, for the broker above
        down.setattr(app.amqp, "_producer_pool", None)
        with caplog.at_level(logging.ERROR, logger="xblocks.labs.api.outbox"):
            assert labs_api.run_checks(runs[0]) is True  # the lab host's run: the Check still gets its result
        if app._pool is not None:
            app._pool.force_close_all()
    assert "could not queue the delivery of outbox message" in caplog.text
    assert CheckRun.objects.get(pk=runs[0]).passed is True
    message = OutboxMessage.objects.get(topic="labs.lab_result_recorded")
    assert message.pending and message.attempts == 0
    assert not models.Evidence.objects.filter(user=learner, key=LAB_KEY).exists()
    assert not models.Certificate.objects.filter(user=learner).exists()

    outcome = periodic.run_job("kafaat-outbox-deliver")  # the broker is back; the LMS's periodic job runs
    assert outcome.ran and outcome.ok
    message.refresh_from_db()
    assert not message.pending
    assert models.Evidence.objects.get(user=learner, kind="lab", key=LAB_KEY).passed
    certificate = models.Certificate.objects.get(user=learner)
    assert certificate.enrollment_id == cert_world.enrollments["yanis_a"]
