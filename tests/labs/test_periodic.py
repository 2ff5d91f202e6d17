"""Periodic jobs: one catalog for beat and loops, due times, leases; two loops never run a job twice at once."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import threading
import time
import types
from datetime import UTC, datetime, timedelta

import pytest
from celery import current_app
from celery.schedules import crontab
from django.utils import timezone

from tests.labs.helpers import CHECKOUT, child_env
from xblocks.core import periodic as catalog
from xblocks.labs import periodic
from xblocks.labs.models import PeriodicJob


def test_every_job_is_a_registered_task_and_lab_jobs_are_the_reaper_reconciler_and_pool_keeper():
    import xblocks.certification.exports.tasks  # noqa: F401  pylint: disable=import-outside-toplevel
    import xblocks.certification.tasks  # noqa: F401  pylint: disable=import-outside-toplevel
    import xblocks.labs.terminal.tasks  # noqa: F401  pylint: disable=import-outside-toplevel
    import xblocks.partnership.tasks  # noqa: F401  pylint: disable=import-outside-toplevel

    assert {job.task for job in catalog.JOBS} <= set(current_app.tasks)
    assert catalog.RUN_TASK in current_app.tasks
    assert sorted(job.name for job in catalog.JOBS if job.lab) == [
        "kafaat-labs-fill-pools",
        "kafaat-labs-reap-sessions",
        "kafaat-labs-reconcile-sessions",
    ]
    assert len({job.name for job in catalog.JOBS}) == len(catalog.JOBS)


def test_beat_entries_run_each_job_through_its_lease_and_lab_jobs_on_the_lab_queue():
    schedule = catalog.beat_schedule({"REAP_INTERVAL": 10, "LAB_QUEUE": "labs-q"})
    reap = schedule["kafaat-labs-reap-sessions"]
    assert reap == {
        "task": "xblocks.labs.tasks.run_periodic_job",
        "schedule": timedelta(seconds=10),
        "args": ["kafaat-labs-reap-sessions"],
        "options": {"queue": "labs-q"},
    }
    assert schedule["kafaat-labs-reconcile-sessions"]["schedule"] == timedelta(seconds=300)
    expiry = schedule["kafaat-certification-expiry"]
    assert "options" not in expiry  # the LMS workers' default queue
    assert expiry["schedule"] == crontab(hour=2, minute=20)
    assert set(schedule) == {job.name for job in catalog.JOBS}


def test_plugin_settings_add_the_entries_and_keep_the_operators_own(monkeypatch):
    from xblocks.labs.settings.production import plugin_settings  # pylint: disable=import-outside-toplevel

    monkeypatch.delenv("KAFAAT_REAP_INTERVAL", raising=False)
    own = {"task": "mine", "schedule": 5}
    settings = types.SimpleNamespace(
        LOCALE_PATHS=[],
        KAFAAT={"RECONCILE_INTERVAL": 60},
        CELERYBEAT_SCHEDULE={"kafaat-exports-purge": own, "edx-thing": {"task": "x", "schedule": 1}},
    )
    plugin_settings(settings)
    beat = settings.CELERYBEAT_SCHEDULE
    assert beat["kafaat-exports-purge"] is own and "edx-thing" in beat
    assert beat["kafaat-labs-reconcile-sessions"]["schedule"] == timedelta(seconds=60)
    assert beat["kafaat-labs-reap-sessions"]["schedule"] == timedelta(seconds=10)
    bare = types.SimpleNamespace(LOCALE_PATHS=[])
    plugin_settings(bare)  # no schedule yet: it is created
    assert set(bare.CELERYBEAT_SCHEDULE) == {job.name for job in catalog.JOBS}
    assert not hasattr(bare, "EXPLICIT_QUEUES")  # not an edx-platform project: no routes to add


def test_plugin_settings_route_lab_tasks_to_the_lab_queue_for_edx_platforms_router(monkeypatch):
    from xblocks.core import routing  # pylint: disable=import-outside-toplevel
    from xblocks.labs import tasks  # pylint: disable=import-outside-toplevel
    from xblocks.labs.settings.production import plugin_settings  # pylint: disable=import-outside-toplevel

    monkeypatch.delenv("KAFAAT_LAB_QUEUE", raising=False)
    mine = {"queue": "my.labs"}
    settings = types.SimpleNamespace(
        LOCALE_PATHS=[],
        EXPLICIT_QUEUES={"xblocks.labs.tasks.run_checks": mine, "lms.djangoapps.x.tasks.y": {"queue": "edx.high"}},
    )
    plugin_settings(settings)
    routes = settings.EXPLICIT_QUEUES
    assert routes["xblocks.labs.tasks.run_checks"] is mine and routes["lms.djangoapps.x.tasks.y"]["queue"] == "edx.high"
    assert routes["xblocks.labs.tasks.provision_session"] == {"queue": "kafaat.labs"}
    lab_tasks = {name for name, task in current_app.tasks.items() if isinstance(task, tasks.LabHostTask)}
    assert lab_tasks == set(routing.LAB_TASKS)  # every lab task has a route, and only those


def test_an_interval_below_one_second_is_refused():
    with pytest.raises(ValueError, match="REAP_INTERVAL"):
        catalog.interval(catalog.job("kafaat-labs-reap-sessions"), {"REAP_INTERVAL": 0})


def test_daily_jobs_are_due_at_their_time_after_the_last_run():
    job = catalog.job("kafaat-certification-expiry")  # 02:20 UTC
    row = PeriodicJob(name=job.name, created=datetime(2026, 3, 1, 1, 0, tzinfo=UTC))
    assert periodic.next_due(job, row) == datetime(2026, 3, 1, 2, 20, tzinfo=UTC)
    row.last_started = datetime(2026, 3, 1, 2, 20, 0, 400000, tzinfo=UTC)
    assert periodic.next_due(job, row) == datetime(2026, 3, 2, 2, 20, tzinfo=UTC)
    row.created, row.last_started = datetime(2026, 3, 1, 3, 0, tzinfo=UTC), None
    assert periodic.next_due(job, row) == datetime(2026, 3, 2, 2, 20, tzinfo=UTC)  # created after today's time


@pytest.fixture
def counting_job(monkeypatch):
    """A periodic job of 10 s whose task counts its runs and the most runs seen at once."""
    state = {"runs": 0, "now": 0, "most": 0, "fail": False, "sleep": 0.0}
    lock = threading.Lock()

    def task():
        with lock:
            state["runs"] += 1
            state["now"] += 1
            state["most"] = max(state["most"], state["now"])
        try:
            time.sleep(state["sleep"])
            if state["fail"]:
                raise RuntimeError("the HR endpoint answered 503")
            return {"ok": True}
        finally:
            with lock:
                state["now"] -= 1

    module = types.ModuleType("kafaat_test_jobs")
    module.task = task
    monkeypatch.setitem(sys.modules, "kafaat_test_jobs", module)
    job = catalog.Job("kafaat-test-counting", "kafaat_test_jobs.task", every=10, lease=30)
    monkeypatch.setattr(catalog, "JOBS", (*catalog.JOBS, job))
    return state


@pytest.mark.django_db
def test_a_job_runs_when_due_then_waits_for_its_interval(counting_job):
    first = periodic.run_job("kafaat-test-counting")
    assert first.ran and first.ok and first.result == {"ok": True}
    again = periodic.run_job("kafaat-test-counting")
    assert not again.ran and again.reason.startswith("not due before")
    later = periodic.run_job("kafaat-test-counting", now=timezone.now() + timedelta(seconds=9.5))
    assert later.ran  # within the 10 % slack: a beat tick a little early still runs it
    row = PeriodicJob.objects.get(name="kafaat-test-counting")
    assert (row.runs, row.last_ok, row.holder, row.lease_until) == (2, True, "", None)
    assert counting_job["runs"] == 2


@pytest.mark.django_db
def test_a_failing_job_is_recorded_for_operators_and_does_not_raise(counting_job, caplog):
    counting_job["fail"] = True
    outcome = periodic.run_job("kafaat-test-counting")
    assert outcome.ran and not outcome.ok and "503" in outcome.reason
    row = PeriodicJob.objects.get(name="kafaat-test-counting")
    assert row.last_ok is False and "RuntimeError: the HR endpoint answered 503" in row.last_error
    assert "periodic job kafaat-test-counting failed" in caplog.text


@pytest.mark.django_db
def test_a_held_lease_keeps_others_out_until_it_expires(counting_job):
    now = timezone.now()
    PeriodicJob.objects.create(name="kafaat-test-counting", holder="other:1:1", lease_until=now + timedelta(seconds=30))
    held = periodic.run_job("kafaat-test-counting", now=now)
    assert not held.ran and held.reason == "running elsewhere (other:1:1)"
    taken_over = periodic.run_job("kafaat-test-counting", now=now + timedelta(seconds=31))  # its process died
    assert taken_over.ran


@pytest.mark.django_db
def test_an_unknown_job_is_reported_not_raised():
    outcome = periodic.run_job("kafaat-no-such-job")
    assert not outcome.ran and not outcome.ok and "no Kafaat periodic job named" in outcome.reason


@pytest.mark.django_db
def test_a_lab_job_seen_off_a_lab_host_is_sent_to_the_lab_queue(monkeypatch):
    from xblocks.labs import tasks  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("KAFAAT_LAB_HOST_ROLE", "0")
    sent = []
    monkeypatch.setattr(tasks.run_periodic_job, "apply_async", lambda args, queue: sent.append((args, queue)))
    outcome = periodic.run_job("kafaat-labs-reap-sessions")
    assert (outcome.ran, outcome.reason) == (False, "sent to kafaat.labs")
    assert sent == [(["kafaat-labs-reap-sessions"], "kafaat.labs")]
    assert not PeriodicJob.objects.filter(name="kafaat-labs-reap-sessions").exists()  # the lab host claims it
    loop = periodic.Loop(periodic.selected(["kafaat-labs-reap-sessions"]), resend=60)
    loop.once()
    loop.once()  # not sent twice within a minute while nobody has started it
    assert len(sent) == 2


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_threads_racing_for_one_job_run_it_once_at_a_time(counting_job):
    counting_job["sleep"] = 0.2
    deadline = time.monotonic() + 1.5
    outcomes = []

    def race():
        from django.db import connection  # pylint: disable=import-outside-toplevel

        try:
            while time.monotonic() < deadline:
                # as if the interval had passed every time: only the lease and the counter keep order
                PeriodicJob.objects.filter(name="kafaat-test-counting", holder="").update(last_started=None)
                outcomes.append(periodic.run_job("kafaat-test-counting"))
        finally:
            connection.close()

    threads = [threading.Thread(target=race) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert counting_job["most"] == 1
    assert counting_job["runs"] == sum(1 for outcome in outcomes if outcome.ran) >= 3
    assert PeriodicJob.objects.get(name="kafaat-test-counting").runs == counting_job["runs"]


@pytest.mark.slow
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_two_kafaat_periodic_loops_run_the_reaper_once_per_interval_between_them(tmp_path):
    env = child_env(KAFAAT_REAP_INTERVAL="1", KAFAAT_LAB_HOST_ROLE="1", PYTHONUNBUFFERED="1")
    command = [
        sys.executable,
        "-m",
        "django",
        "kafaat_periodic",
        "run",
        "--job",
        "kafaat-labs-reap-sessions",
        "--tick",
        "0.1",
    ]
    logs = [(tmp_path / f"loop-{index}.log").open("wb") for index in range(2)]
    loops = [subprocess.Popen(command, cwd=CHECKOUT, env=env, stdout=log, stderr=subprocess.STDOUT) for log in logs]
    # the clock starts once both loops have their signal handlers (they say so), however busy the machine
    deadline = time.monotonic() + 90
    while not all("job(s)" in (tmp_path / f"loop-{index}.log").read_text() for index in range(2)):
        assert time.monotonic() < deadline, "the periodic loops did not start"
        time.sleep(0.1)
    started = time.monotonic()
    time.sleep(5)
    for loop in loops:
        loop.terminate()
    elapsed = time.monotonic() - started
    for loop, log in zip(loops, logs, strict=True):
        assert loop.wait(timeout=20) == 0
        log.close()
    texts = [(tmp_path / f"loop-{index}.log").read_text() for index in range(2)]
    runs = PeriodicJob.objects.get(name="kafaat-labs-reap-sessions").runs
    # one run per 0.9 s at most between both loops (the 10 % slack), where two unguarded loops
    # ticking every 0.1 s would have run it dozens of times
    assert 3 <= runs <= int(elapsed / 0.9) + 1, (runs, texts)
    done = [text.count("periodic job kafaat-labs-reap-sessions done") for text in texts]
    assert sum(done) == runs
    assert all("kafaat_periodic: stopped" in text for text in texts)


@pytest.mark.django_db
def test_kafaat_periodic_lists_every_job_and_runs_one_pass(counting_job, capsys):
    from django.core.management import CommandError, call_command  # pylint: disable=import-outside-toplevel

    call_command("kafaat_periodic", "once", "--job", "kafaat-test-counting")
    outcome = json.loads(capsys.readouterr().out.strip())
    assert outcome["name"] == "kafaat-test-counting" and outcome["ran"] is True
    call_command("kafaat_periodic", "list")
    listing = capsys.readouterr().out
    assert "kafaat-test-counting" in listing and " ok" in listing
    assert re.search(r"^kafaat-certification-expiry +daily 02:20 UTC +LMS +- +never run$", listing, re.MULTILINE)
    assert "kafaat-labs-reap-sessions" in listing and "lab hosts" in listing
    with pytest.raises(CommandError, match="unknown periodic job"):
        call_command("kafaat_periodic", "once", "--job", "kafaat-nope")
