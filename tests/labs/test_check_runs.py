"""Check runs off the web request: one run per session at a time, progress, time cap, reaper, grades.

The database rules (one active run per session, attempts, who may poll which run) are tested without
sandboxes on SQLite and MariaDB; what a run does in an environment is tested on real sandboxes, with
the run held in the queue (``no_dispatch``) and then run by the worker-side api, as a worker would.
"""

from __future__ import annotations

import json
import threading
import uuid
from datetime import timedelta

import pytest
from django.db import connection
from django.test import Client
from django.urls import reverse
from django.utils import timezone, translation

from tests.labs.helpers import solve_in_sandbox
from xblocks.labs import api, tasks
from xblocks.labs.conf import labs_settings
from xblocks.labs.data import RunInProgress
from xblocks.labs.lifecycle import transition
from xblocks.labs.models import CheckRun, LabSession
from xblocks.labs.signals import lab_result_recorded

WAIT = "A check of this lab is still running. Wait for its result, then try again."


def make_ready(session_id: int) -> None:
    """Mark a requested session ready on an environment that does not exist (tests of database rules)."""
    transition(session_id, "provisioning", actor="system:test", provision_attempts=1)
    handle = {"id": f"none-{uuid.uuid4().hex[:8]}", "backend": "local", "host": "", "label": "none"}
    transition(session_id, "ready", actor="system:test", handle=handle, ends_at=timezone.now() + timedelta(hours=1))


def handler_url(lab, name: str, student: str = "alice") -> str:
    return reverse("handler", args=(lab.usage_key, name, "")) + f"?student={student}"


def post(client: Client, url: str, data: dict, language: str = "en"):
    return client.post(url, data=json.dumps(data), content_type="application/json", HTTP_ACCEPT_LANGUAGE=language)


# --------------------------------------------------------------------------- one run per session


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_twelve_concurrent_check_presses_on_one_session_make_exactly_one_run(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    url = handler_url(lab, "check")
    barrier = threading.Barrier(12)
    answers: list[tuple[int, dict]] = []

    def press():
        try:
            client = Client()
            barrier.wait()
            response = post(client, url, {"step": "write"})
            answers.append((response.status_code, response.json()))
        finally:
            connection.close()

    threads = [threading.Thread(target=press) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    accepted = [body for status, body in answers if status == 200]
    refused = [body for status, body in answers if status != 200]
    assert len(answers) == 12 and len(accepted) == 1, answers
    assert accepted[0]["state"] == "queued" and accepted[0]["checks_total"] == 1
    assert {status for status, _body in answers if status != 200} == {409}
    assert {body["error"] for body in refused} == {WAIT}
    assert CheckRun.objects.filter(session_id=session_id).count() == 1
    assert no_dispatch.count(("run_checks", accepted[0]["run_id"])) == 1
    row = LabSession.objects.get(pk=session_id)
    assert row.progress["steps"]["write"]["attempts"] == 1  # refused presses used no attempt


@pytest.mark.mariadb
@pytest.mark.django_db
def test_the_database_refuses_a_second_active_run_for_a_session(lab_factory, no_dispatch):
    from django.db import IntegrityError, transaction

    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    lab.ok("check", {"step": "write"})
    with pytest.raises(IntegrityError), transaction.atomic():
        CheckRun.objects.create(session_id=session_id, step_id="write", active_key=session_id)


@pytest.mark.django_db
def test_a_second_press_is_told_to_wait_in_the_learner_language(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    lab.ok("check", {"step": "write"})
    for language, expected in [
        ("fr", "Une vérification de ce lab est encore en cours. Attendez son résultat, puis réessayez."),
        ("ar", "ما زالت عملية تحقّق في هذا المختبر قيد التشغيل. انتظر نتيجتها ثم حاول مجددًا."),
    ]:
        with translation.override(language):
            with pytest.raises(RunInProgress) as refused:
                api.request_checks(session_id, "write")
        assert refused.value.learner_message == expected


@pytest.mark.django_db
def test_a_flag_waits_for_the_running_check_and_uses_no_attempt(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    LabSession.objects.filter(pk=session_id).update(progress={"steps": {"write": {"checks_passed": True}}})
    run = lab.ok("check", {"step": "write"})
    status, body = lab.call("submit_flag", {"step": "flag", "flag": "found", "answer": "KAFAAT{x}"})
    assert (status, body["error"]) == (409, WAIT)
    assert LabSession.objects.get(pk=session_id).progress["steps"].get("flag", {}).get("attempts", 0) == 0
    assert lab.ok("status")["active_run"]["run_id"] == run["run_id"]  # a reloaded page finds the run to follow


@pytest.mark.django_db
def test_a_flag_goes_through_when_no_check_runs_and_frees_the_session(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    LabSession.objects.filter(pk=session_id).update(progress={"steps": {"write": {"checks_passed": True}}})
    wrong = lab.ok("submit_flag", {"step": "flag", "flag": "found", "answer": "KAFAAT{x}"})
    assert wrong["state"] == "done" and wrong["passed"] is False
    secret = LabSession.objects.get(pk=session_id).params["secret"]
    right = lab.ok("submit_flag", {"step": "flag", "flag": "found", "answer": secret})
    assert right["passed"] is True and right["status"]["score"] == 1.0
    assert CheckRun.objects.filter(active_key__isnull=False).count() == 0
    assert lab.grades()[-1] == {"value": 1.0, "max_value": 3.0}


# --------------------------------------------------------------------------- who may poll which run


@pytest.mark.mariadb
@pytest.mark.django_db
def test_a_learner_cannot_read_or_poll_another_learner_run(lab_factory, no_dispatch):
    alice = lab_factory("files_and_flags", student="alice")
    make_ready(alice.ok("start")["session_id"])
    run_id = alice.ok("check", {"step": "write"})["run_id"]
    assert alice.ok("check_status", {"run_id": run_id})["state"] == "queued"
    bob = alice.as_("bob")
    status, body = bob.call("check_status", {"run_id": run_id})
    assert status == 404 and "step_id" not in body
    missing = bob.call("check_status", {"run_id": run_id + 1000})
    assert missing == (404, body)  # the same answer as for an id nobody has: no oracle


@pytest.mark.django_db
def test_a_run_id_from_another_block_is_refused(lab_factory, no_dispatch):
    other = lab_factory("three_checks", student="alice")
    make_ready(other.ok("start")["session_id"])
    run_id = other.ok("check", {"step": "setup"})["run_id"]
    here = lab_factory("files_and_flags", student="alice")
    status, _body = here.call("check_status", {"run_id": run_id})
    assert status == 404
    for bad in [None, "", "abc", [run_id], {"id": run_id}]:
        assert here.call("check_status", {"run_id": bad})[0] == 400


# --------------------------------------------------------------------------- runs in real environments


@pytest.mark.django_db(transaction=True)
def test_the_page_sees_progress_then_results_and_the_grade_is_published_when_fetched(
    lab_factory, memory_backend, monkeypatch
):
    from xblocks.labs import runner

    lab = lab_factory("three_checks")
    session_id = lab.ok("start")["session_id"]  # eager: ready
    queued: list[int] = []
    monkeypatch.setattr(tasks, "enqueue", lambda task, run_id, queue=None: queued.append(run_id))
    solve_in_sandbox(memory_backend, session_id, "setup")
    run = lab.ok("check", {"step": "setup"})
    assert (run["state"], run["checks_done"], run["checks_total"], run["finished"]) == ("queued", 0, 3, False)
    assert "results" not in run and "status" not in run  # a poll of an active run stays cheap
    seen: list[tuple[str, int]] = []
    real_run_check = runner.run_check

    def observed(*args, **kwargs):  # what a poll shows while the worker is between two checks
        body = lab.ok("check_status", {"run_id": run["run_id"]})
        seen.append((body["state"], body["checks_done"]))
        return real_run_check(*args, **kwargs)

    monkeypatch.setattr(runner, "run_check", observed)
    announced = []

    def receiver(sender, **kwargs):
        announced.append(kwargs["score"])

    lab_result_recorded.connect(receiver, dispatch_uid="test-check-runs")
    try:
        api.run_checks(queued[0])  # the worker's part
    finally:
        lab_result_recorded.disconnect(dispatch_uid="test-check-runs")
    assert seen == [("running", 0), ("running", 1), ("running", 2)]
    assert announced == [3.0]  # once, from the worker that recorded the run
    assert lab.grades() == []  # nothing published before the page (or a reload) asks
    done = lab.ok("check_status", {"run_id": run["run_id"]})
    assert done["state"] == "done" and done["passed"] is True and done["status"]["score"] == 3.0
    assert [r["passed"] for r in done["results"]] == [True, True, True]
    assert lab.grades() == [{"value": 3.0, "max_value": 3.0}]
    lab.ok("check_status", {"run_id": run["run_id"]})
    lab.ok("status")
    assert len(lab.grades()) == 1  # idempotent: a run's grade is published once


@pytest.mark.django_db(transaction=True)
def test_a_grade_is_published_on_the_next_load_when_the_page_closed_before_the_result(
    lab_factory, memory_backend, monkeypatch
):
    lab = lab_factory("three_checks")
    session_id = lab.ok("start")["session_id"]
    queued: list[int] = []
    monkeypatch.setattr(tasks, "enqueue", lambda task, run_id, queue=None: queued.append(run_id))
    solve_in_sandbox(memory_backend, session_id, "setup")
    lab.ok("check", {"step": "setup"})
    api.run_checks(queued[0])  # the learner closed the page: nobody polls
    assert lab.grades() == []
    lab.block.runtime.render(lab.block, "student_view")
    assert lab.grades() == [{"value": 3.0, "max_value": 3.0}]
    lab.block.runtime.render(lab.block, "student_view")
    assert len(lab.grades()) == 1
    assert ("completion", {"completion": 1.0}) in lab.published["alice"]


@pytest.mark.django_db(transaction=True)
def test_a_press_past_its_time_cap_is_reported_as_timed_out_and_uses_the_attempt(
    lab_factory, memory_backend, monkeypatch
):
    monkeypatch.setenv("KAFAAT_CHECK_RUN_TIME_LIMIT", "4")
    lab = lab_factory("slow_checks")
    session_id = lab.ok("start")["session_id"]
    run = lab.ok("check", {"step": "slow"})  # eager: the press's run has ended when the handler answers
    assert run["state"] == "timed_out" and run["finished"]
    assert "4 seconds" in run["message"]
    quick, long, last = run["results"]
    assert quick["passed"] and quick["points"] == 1
    assert not long["passed"] and long["timed_out"] and "time limit of 4 seconds" in long["feedback"]
    assert not last["passed"] and last["timed_out"]
    recorded = CheckRun.objects.get(pk=run["run_id"])
    assert recorded.duration < 6 and recorded.points == 1 and recorded.active_key is None
    row = LabSession.objects.get(pk=session_id)
    assert row.progress["steps"]["slow"]["attempts"] == 1 and row.best_score == 1.0  # checks ran: attempt used
    assert lab.grades()[-1] == {"value": 1.0, "max_value": 3.0}


@pytest.mark.django_db(transaction=True)
def test_a_result_that_arrives_after_the_reaper_ended_the_run_changes_nothing(lab_factory, memory_backend, monkeypatch):
    from xblocks.labs import runner

    lab = lab_factory("three_checks")
    session_id = lab.ok("start")["session_id"]
    solve_in_sandbox(memory_backend, session_id, "setup")
    real_run_check = runner.run_check
    reports = []

    def worker_presumed_dead(*args, **kwargs):
        if not reports:  # while the first check runs, the reaper decides this worker is gone
            later = timezone.now() + timedelta(seconds=labs_settings.CHECK_RUN_TIME_LIMIT + 60)
            reports.append(api.reap_sessions(now=later))
        return real_run_check(*args, **kwargs)

    monkeypatch.setattr(runner, "run_check", worker_presumed_dead)
    run = lab.ok("check", {"step": "setup"})
    assert reports[0].runs_failed == (run["run_id"],)
    assert run["state"] == "error" and "interrupted" in run["message"] and "results" not in run
    row = LabSession.objects.get(pk=session_id)
    assert row.best_score == 0 and row.progress["steps"]["setup"]["attempts"] == 0
    assert lab.grades() == []
    assert lab.ok("check", {"step": "setup"})["passed"] is True  # the session is free for the next press


# --------------------------------------------------------------------------- the reaper


@pytest.mark.mariadb
@pytest.mark.django_db
def test_the_reaper_sends_a_lost_run_again_then_ends_it_with_the_attempt_given_back(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    run_id = lab.ok("check", {"step": "write"})["run_id"]
    assert api.reap_sessions().runs_requeued == ()  # not yet
    settings = labs_settings
    soon = timezone.now() + timedelta(seconds=settings.CHECK_REQUEUE_AFTER + 1)
    assert api.reap_sessions(now=soon).runs_requeued == (run_id,)
    assert no_dispatch.count(("run_checks", run_id)) == 2
    late = timezone.now() + timedelta(seconds=settings.CHECK_QUEUE_TIMEOUT + 1)
    assert api.reap_sessions(now=late).runs_failed == (run_id,)
    run = lab.ok("check_status", {"run_id": run_id})
    assert run["state"] == "error" and "busy" in run["message"] and "not counted" in run["message"]
    assert run["status"]["steps"][0]["attempts"] == 0
    assert lab.ok("status")["active_run"] is None
    assert lab.ok("check", {"step": "write"})["state"] == "queued"  # the learner can press again


@pytest.mark.django_db
def test_a_run_whose_worker_died_is_ended_by_the_reaper_within_its_limit(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    run_id = lab.ok("check", {"step": "write"})["run_id"]
    CheckRun.objects.filter(pk=run_id).update(state="running", started_at=timezone.now())  # a worker took it
    settings = labs_settings
    within = timezone.now() + timedelta(seconds=settings.CHECK_RUN_TIME_LIMIT)
    assert api.reap_sessions(now=within).runs_failed == ()
    beyond = timezone.now() + timedelta(seconds=settings.CHECK_RUN_TIME_LIMIT + settings.CHECK_RUN_GRACE + 1)
    assert api.reap_sessions(now=beyond).runs_failed == (run_id,)
    recorded = CheckRun.objects.get(pk=run_id)
    assert recorded.state == "error" and recorded.attempt_refunded and "worker lost" in recorded.detail
    assert "worker" not in recorded.learner_message  # the operator's words stay out of the page
    assert LabSession.objects.get(pk=session_id).progress["steps"]["write"]["attempts"] == 0


@pytest.mark.django_db
def test_a_run_left_by_a_stopped_lab_ends_with_a_message(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    run_id = lab.ok("check", {"step": "write"})["run_id"]
    lab.ok("stop")
    api.run_checks(run_id)  # the worker gets to it after the stop
    run = lab.ok("check_status", {"run_id": run_id})
    assert run["state"] == "error" and "not running" in run["message"]
    assert CheckRun.objects.get(pk=run_id).active_key is None


@pytest.mark.django_db(transaction=True)
def test_a_lab_stopped_while_its_checks_run_ends_the_run_without_failing_the_lab(
    lab_factory, memory_backend, monkeypatch
):
    from xblocks.labs import runner

    lab = lab_factory("three_checks")
    session_id = lab.ok("start")["session_id"]
    real_run_check = runner.run_check
    stopped = []

    def learner_presses_stop(*args, **kwargs):
        if not stopped:
            stopped.append(api.stop_session(session_id, actor="user:test", reason="stopped by learner"))
        return real_run_check(*args, **kwargs)

    monkeypatch.setattr(runner, "run_check", learner_presses_stop)
    run = lab.ok("check", {"step": "setup"})
    assert stopped[0].state == "stopped"  # eager teardown: the sandbox is gone before the check runs
    assert run["state"] == "error" and "not running" in run["message"]
    row = LabSession.objects.get(pk=session_id)
    assert row.state == "stopped" and row.progress["steps"]["setup"]["attempts"] == 0
