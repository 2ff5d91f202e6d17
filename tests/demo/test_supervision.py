"""``make demo`` survives an operator's faults and always stops clean: tests against the real demo processes.

One demo (``python -m demo.run`` on a free port, its own var folder) serves the tests of this module
in order: its schedule, unreadable broker messages, a worker and a beat killed with -9, then two
SIGTERMs, after which nothing of it may be left.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid

import pytest

from tests.demo.helpers import CHECKOUT, RUN_MARK, RunningDemo, cmdline, nothing_left, wait_for

pytestmark = [pytest.mark.sandbox, pytest.mark.slow]

SCHEDULE = (
    "import json; from demo.celery import app; app.loader.import_default_modules(); app.finalize(); "
    "print(json.dumps({name: [entry['task'], entry['args'], (entry.get('options') or {}).get('queue', '')] "
    "for name, entry in app.conf.beat_schedule.items()}))"
)


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    folder = tmp_path_factory.mktemp("demo")
    running = RunningDemo(folder / "var", folder / "demo.log")
    try:
        yield running.start()
    finally:
        running.ensure_stopped()


def _message_name(queue: str) -> str:
    return f"0_{uuid.uuid4()}.{queue}.msg"  # sorts before every real message: read first


def _lab_state(demo: RunningDemo, student: str) -> str:
    rows = demo.query(
        "SELECT s.state FROM kafaat_labs_labsession s JOIN auth_user u ON u.id = s.user_id"
        " WHERE u.username = ? ORDER BY s.id DESC LIMIT 1",
        student,
    )
    return rows[0][0] if rows else ""


def test_the_reaper_and_reconciler_are_in_the_schedule_the_workers_load_and_run_in_the_demo(demo):
    env = {k: v for k, v in demo.env.items() if k != RUN_MARK}
    loaded = subprocess.run(
        [sys.executable, "-c", SCHEDULE], cwd=CHECKOUT, env=env, capture_output=True, text=True, check=True
    )
    schedule = json.loads(loaded.stdout.strip().splitlines()[-1])
    for job in ("kafaat-labs-reap-sessions", "kafaat-labs-reconcile-sessions"):
        assert schedule[job] == ["xblocks.labs.tasks.run_periodic_job", [job], "kafaat.labs"]
    # beat announces the same entries, and the lab host runs them (intervals of 2 and 3 s here)
    assert "kafaat-labs-reap-sessions, kafaat-labs-reconcile-sessions" in demo.output()

    def both_ran():
        rows = demo.query("SELECT name, runs, last_ok FROM kafaat_labs_periodicjob")
        done = {name for name, runs, ok in rows if runs and ok}
        return {"kafaat-labs-reap-sessions", "kafaat-labs-reconcile-sessions"} <= done

    wait_for(both_ran, 60, "the reaper and the reconciler to run", demo)


def test_lab_work_and_hr_deliveries_are_served_by_separate_workers(demo):
    lab = cmdline(demo.lab_worker_pid())
    other = cmdline(demo.part_pid("worker"))
    lab_queues = lab.split("--queues ", 1)[1].split()[0].split(",")
    assert lab_queues[0] == "kafaat.labs" and all(q.startswith("kafaat.labs") for q in lab_queues)
    assert other.split("--queues ", 1)[1].split()[0] == "celery"  # HR deliveries' queue (Celery's default)
    assert " --concurrency " in lab and " --concurrency " in other  # each with a pool of its own


def test_empty_and_half_written_broker_messages_are_set_aside_and_the_workers_go_on(demo):
    workers = (demo.lab_worker_pid(), demo.part_pid("worker"))
    assert all(workers)
    broker = demo.var_dir / "broker"
    bad = []
    for queue in ("kafaat.labs", "celery"):
        for content in (b"", b'{"body": "eyJ0YXNrIjog", "headers": {"id": '):
            name = _message_name(queue)
            (broker / name).write_bytes(content)
            bad.append(name)
    aside = demo.var_dir / "broker-unreadable"
    wait_for(lambda: all((aside / name).exists() for name in bad), 30, "the workers to set the messages aside", demo)
    assert not any((broker / name).exists() for name in bad)
    assert "is unreadable (0 bytes: empty)" in demo.output()
    assert (demo.lab_worker_pid(), demo.part_pid("worker")) == workers  # nobody exited or restarted
    assert demo.start_lab("bob")["state"] == "ready"


def test_a_worker_killed_with_kill_9_is_started_again_and_labs_go_on(demo):
    lab_worker, task_worker = demo.lab_worker_pid(), demo.part_pid("worker")
    killed = time.time()
    os.kill(lab_worker, signal.SIGKILL)
    os.kill(task_worker, signal.SIGKILL)
    wait_for(
        lambda: demo.lab_worker_pid() not in (None, lab_worker) and demo.part_pid("worker") not in (None, task_worker),
        60,
        "both workers to be started again",
        demo,
    )
    text = demo.output()
    assert "Kafaat demo: labhost exited with 1" in text and "Kafaat demo: worker exited with -9" in text
    assert demo.process.poll() is None  # the demo itself goes on
    assert _lab_state(demo, "bob") == "ready"  # a learner's lab outlives the worker
    # the lab host takes sessions again once its new worker's self-test passed
    wait_for(lambda: demo.lab_host_accepting(killed), 240, "the lab host to take sessions again", demo)
    assert demo.start_lab("carol")["state"] == "ready"


def test_a_beat_killed_with_kill_9_is_started_again_and_never_runs_twice(demo):
    (beat,) = demo.beats()
    os.kill(beat, signal.SIGKILL)
    lock = demo.var_dir / "run" / "beat.lock"

    def new_beat_holds_the_lock():
        beats = demo.beats()
        return beats != [beat] and [lock.read_text().strip()] == [str(pid) for pid in beats]

    wait_for(new_beat_holds_the_lock, 60, "a new beat holding the lock", demo)
    time.sleep(2)
    beats = demo.beats()
    assert len(beats) == 1 and lock.read_text().strip() == str(beats[0])
    # a second beat started by hand for the same demo refuses to run
    env = {k: v for k, v in demo.env.items() if k != RUN_MARK}
    second = subprocess.run(
        [sys.executable, "-m", "demo.beat"], cwd=CHECKOUT, env=env, capture_output=True, text=True, timeout=60
    )
    assert second.returncode == 75, second.stderr[-2000:]
    assert f"another beat (pid {beats[0]})" in second.stderr
    assert demo.beats() == beats


def test_the_demo_reaper_ends_a_lab_past_its_idle_timeout(demo):
    demo.start_lab("dave")
    # as if dave had left it 20 minutes ago (the lab's idle timeout is 10 minutes)
    database = demo.var_dir / "workbench.db"
    with sqlite3.connect(database, timeout=30) as connection:
        connection.execute(
            "UPDATE kafaat_labs_labsession SET last_activity = datetime('now', '-20 minutes')"
            " WHERE live_key IS NOT NULL AND user_id = (SELECT id FROM auth_user WHERE username = 'dave')"
        )
    wait_for(lambda: _lab_state(demo, "dave") not in ("ready", "stopping"), 60, "the reaper to end dave's lab", demo)
    assert demo.query(
        "SELECT COUNT(*) FROM kafaat_labs_labsession s JOIN auth_user u ON u.id = s.user_id"
        " WHERE u.username = 'dave' AND s.live_key IS NOT NULL"
    ) == [(0,)]
    assert _lab_state(demo, "bob") == "ready"  # the others go on


def test_two_sigterms_stop_everything_labs_included(demo):
    assert len(demo.sandboxes()) >= 2  # bob's and carol's labs are live
    demo.signal(signal.SIGTERM)
    time.sleep(0.3)
    demo.signal(signal.SIGTERM)  # make forwards SIGTERM: the runner gets it twice
    demo.signal(signal.SIGINT)
    assert demo.wait(180) == 0, demo.output()[-6000:]
    assert nothing_left(demo) == []
    text = demo.output()
    assert "already stopping" in text and "Kafaat demo: stopped" in text
    assert demo.query("SELECT COUNT(*) FROM kafaat_labs_labsession WHERE live_key IS NOT NULL") == [(0,)]
    # what it wrote is under its var folder: beat's state and lock, its log, the broker's folders
    assert (demo.var_dir / "run" / "beat.lock").exists() and (demo.var_dir / "demo.log").exists()
    assert list((demo.var_dir / "run").glob("celerybeat-schedule*"))
    assert not list(CHECKOUT.glob("celerybeat-schedule*"))
