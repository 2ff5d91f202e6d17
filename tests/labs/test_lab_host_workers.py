"""Real Celery workers over Redis: an LMS worker that receives lab tasks sends them on to the lab host
and runs nothing; with two lab hosts each session lives, is checked and ends on the host it was placed on."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from celery import Celery
from django.utils import timezone

from tests.labs.helpers import Worker, checked, solve_in_sandbox, wait_for
from tests.labs.helpers import sender as make_sender
from xblocks.labs import api, tasks
from xblocks.labs.models import LabSession, label_prefix

pytestmark = [pytest.mark.redis, pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def _queue_length(sender: Celery, queue: str) -> int:
    with sender.connection_for_write() as connection:
        return int(connection.default_channel.client.llen(queue))


@pytest.fixture
def destroy_our_sandboxes(backend):
    yield
    for handle in backend.inventory():
        if handle.label.startswith(label_prefix()):
            backend.destroy(handle)


@pytest.mark.sandbox
def test_an_lms_worker_sends_lab_tasks_on_to_the_lab_host_and_runs_none_of_them(
    lab_factory, backend, redis_lab_queue, monkeypatch, tmp_path, destroy_our_sandboxes
):
    lms_queue = f"{redis_lab_queue}-lms-default"
    lms = Worker(lms_queue, tmp_path / "lms.log", KAFAAT_LAB_HOST_ROLE="0", KAFAAT_LAB_HOST="lms-worker")
    lab = Worker(
        f"{redis_lab_queue},{redis_lab_queue}.labhost-r",
        tmp_path / "labhost.log",
        KAFAAT_LAB_HOST_ROLE="1",
        KAFAAT_LAB_HOST="labhost-r",
    )
    sender = make_sender()
    try:
        lms.wait_ready()
        lab.wait_ready()
        monkeypatch.setenv("KAFAAT_LAB_HOST_ROLE", "0")  # this test process is an LMS web process
        api.heartbeat("labhost-r", capacity=5)
        # A routing mistake: every lab task lands on the LMS workers' queue.
        monkeypatch.setattr(
            tasks,
            "enqueue",
            lambda task, session_id, queue=None: sender.send_task(task.name, args=[session_id], queue=lms_queue),
        )
        page = lab_factory("files_and_flags")
        session_id = page.ok("start")["session_id"]
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "ready", 90, "the lab host to start the lab")
        row = LabSession.objects.get(pk=session_id)
        assert row.host == "labhost-r" and row.handle["host"] == "labhost-r"
        # The check run's task lands on the LMS queue too; the lab host runs it and the page reads the run.
        assert checked(page, "write")["passed"] is False
        solve_in_sandbox(backend, session_id, "write")
        assert checked(page, "write")["passed"] is True
        page.ok("stop")
        wait_for(lambda: LabSession.objects.get(pk=session_id).state == "stopped", 60, "the lab host's teardown")
        sender.send_task("xblocks.labs.tasks.reap_sessions", queue=lms_queue)
        wait_for(lambda: _succeeded(lab.text(), "reap_sessions"), 30, "the reaper on the lab host")
        lms_log, lab_log = lms.text(), lab.text()
        for task in ("provision_session", "run_checks", "teardown_session", "reap_sessions"):
            assert f"lab task xblocks.labs.tasks.{task}[" in lms_log, task
            assert _succeeded(lab_log, task), task
        assert f"sent on to {redis_lab_queue}.labhost-r" in lms_log
        assert re.search(rf"reap_sessions\[.*sent on to {re.escape(redis_lab_queue)}$", lms_log, re.MULTILINE)
        assert "succeeded" not in lms_log  # every copy it received was acknowledged as ignored, none ran
        assert lms_log.count("ignored") >= 5
        assert _queue_length(sender, lms_queue) == 0
        assert not [h for h in backend.inventory() if h.label == row.label]
    finally:
        lms.kill()
        lab.kill()


def test_a_worker_consuming_the_lab_queue_without_the_role_drops_lab_tasks_instead_of_looping(
    redis_lab_queue, tmp_path
):
    wrong = Worker(redis_lab_queue, tmp_path / "wrong.log", KAFAAT_LAB_HOST_ROLE="0")
    sender = make_sender()
    try:
        wrong.wait_ready()
        sender.send_task("xblocks.labs.tasks.reap_sessions", queue=redis_lab_queue)
        sender.send_task(
            "xblocks.labs.tasks.run_periodic_job", args=["kafaat-labs-reap-sessions"], queue=redis_lab_queue
        )
        wait_for(lambda: wrong.text().count("dropped") >= 2, 30, "both tasks to be dropped")
        text = wrong.text()
        assert f"consumes {redis_lab_queue} but may not run it" in text
        assert f"consumes {redis_lab_queue} but is not a lab host" in text
        assert _queue_length(sender, redis_lab_queue) == 0  # nothing sent round again
    finally:
        wrong.kill()


@pytest.mark.sandbox
def test_each_session_runs_on_the_lab_host_it_was_placed_on_and_dead_hosts_get_none(
    lab_factory, backend, redis_lab_queue, monkeypatch, tmp_path, destroy_our_sandboxes
):
    workers = {
        name: Worker(
            f"{redis_lab_queue},{redis_lab_queue}.{name}",
            tmp_path / f"{name}.log",
            name=f"{name}-{uuid.uuid4().hex[:6]}",
            KAFAAT_LAB_HOST_ROLE="1",
            KAFAAT_LAB_HOST=name,
        )
        for name in ("labhost-a", "labhost-b")
    }
    try:
        for worker in workers.values():
            worker.wait_ready()
        monkeypatch.setenv("KAFAAT_LAB_HOST_ROLE", "0")
        api.heartbeat("labhost-a", capacity=1)
        api.heartbeat("labhost-b", capacity=1)
        api.heartbeat("labhost-dead", capacity=50, now=timezone.now() - timedelta(minutes=5))
        pages = {student: lab_factory("files_and_flags", student=student) for student in ("alice", "bob", "carol")}
        ids = {student: pages[student].ok("start")["session_id"] for student in ("alice", "bob")}
        # both live hosts are full; the dead one is never used
        status, body = pages["carol"].call("start")
        assert (status, body["error"]) == (409, "No lab machine is free right now. Please try again in a few minutes.")
        for session_id in ids.values():
            wait_for(lambda s=session_id: LabSession.objects.get(pk=s).state == "ready", 90, "both labs to start")
        rows = {student: LabSession.objects.get(pk=session_id) for student, session_id in ids.items()}
        assert {rows["alice"].host, rows["bob"].host} == {"labhost-a", "labhost-b"}
        for student, row in rows.items():
            assert row.handle["host"] == row.host
            assert checked(pages[student], "write")["passed"] is False
            pages[student].ok("stop")
        for session_id in ids.values():
            wait_for(lambda s=session_id: LabSession.objects.get(pk=s).state == "stopped", 60, "both teardowns")
        for student, row in rows.items():
            own, other = workers[row.host].text(), workers[({"labhost-a", "labhost-b"} - {row.host}).pop()].text()
            for evidence in (
                f"lab session {row.pk}: requested -> provisioning by system:worker",
                f"lab session {row.pk}: checks of step write run on lab host {row.host}",
                f"lab session {row.pk}: stopping -> stopped by system:worker",
            ):
                assert evidence in own, (student, evidence)
                assert evidence.split(" by ")[0].split(" run on")[0] not in other, (student, evidence)
        assert not LabSession.objects.filter(host="labhost-dead").exists()
    finally:
        for worker in workers.values():
            worker.kill()


def _succeeded(log_text: str, task: str) -> bool:
    return any(
        line.count(f"Task xblocks.labs.tasks.{task}[") and " succeeded in " in line for line in log_text.splitlines()
    )
