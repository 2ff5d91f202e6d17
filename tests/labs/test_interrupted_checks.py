"""A press of Check or a flag whose process dies midway: it records its run or uses no attempt, never half of it.

The presses run in real child processes killed with SIGKILL at the worst moment, on this run's database
(the SQLite file, or MariaDB with ``KAFAAT_TEST_DATABASE=mariadb``).
"""

from __future__ import annotations

import signal
import subprocess
import sys
import textwrap
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.labs.helpers import CHECKOUT, child_env
from tests.labs.test_check_runs import make_ready
from xblocks.labs import api
from xblocks.labs.models import CheckRun, LabSession, OutboxMessage

# The child presses once, with one step of the press replaced by its own death.
CHILD = textwrap.dedent(
    """
    import os, signal, sys
    import django
    django.setup()
    from xblocks.labs import api, runner, tasks
    from xblocks.labs.models import CheckRun

    def die(*args, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    moment, session_id = sys.argv[1], int(sys.argv[2])
    if moment == "before-the-run":  # the attempt is counted, the run not yet written
        CheckRun.objects.create = die
        api.request_checks(session_id, "write")
    elif moment == "after-the-commit":  # the press is recorded, its task not yet sent
        tasks.run_checks.apply_async = die
        api.request_checks(session_id, "write")
    elif moment == "mid-flag":  # a flag's attempt and running run are written, its result not yet
        runner.check_flag = die
        api.submit_flag(session_id, "flag", "found", "KAFAAT{x}")
    """
)


def _killed_press(moment: str, session_id: int) -> None:
    child = subprocess.run(
        [sys.executable, "-c", CHILD, moment, str(session_id)],
        cwd=CHECKOUT,
        env=child_env(),
        capture_output=True,
        timeout=120,
        check=False,
    )
    assert child.returncode == -signal.SIGKILL, child.stderr.decode()[-3000:]


def _attempts(session_id: int, step: str) -> int:
    return LabSession.objects.get(pk=session_id).progress.get("steps", {}).get(step, {}).get("attempts", 0)


@pytest.fixture
def ready_lab(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    return lab, session_id


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_check_press_killed_before_its_run_was_written_uses_no_attempt(ready_lab):
    lab, session_id = ready_lab
    _killed_press("before-the-run", session_id)
    assert CheckRun.objects.filter(session_id=session_id).count() == 0
    assert _attempts(session_id, "write") == 0
    run = lab.ok("check", {"step": "write"})  # nothing left locked: the learner presses again
    assert run["state"] == "queued" and _attempts(session_id, "write") == 1


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_flag_killed_midway_leaves_no_attempt_and_no_run(ready_lab):
    lab, session_id = ready_lab
    LabSession.objects.filter(pk=session_id).update(progress={"steps": {"write": {"checks_passed": True}}})
    _killed_press("mid-flag", session_id)
    assert CheckRun.objects.filter(session_id=session_id).count() == 0  # no run left "running" either
    assert _attempts(session_id, "flag") == 0
    assert not OutboxMessage.objects.exists()  # no result announced for a run that never was
    answer = lab.ok("submit_flag", {"step": "flag", "flag": "found", "answer": "KAFAAT{x}"})
    assert answer["state"] == "done" and _attempts(session_id, "flag") == 1


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_check_press_killed_after_its_commit_keeps_its_run_and_the_reaper_finishes_or_refunds_it(ready_lab):
    _lab, session_id = ready_lab
    _killed_press("after-the-commit", session_id)
    run = CheckRun.objects.get(session_id=session_id)
    assert run.state == "queued" and _attempts(session_id, "write") == 1  # the attempt is the run's
    CheckRun.objects.filter(pk=run.pk).update(created=timezone.now() - timedelta(hours=1))
    api.reap_sessions()  # no worker ever got it: ended, and its attempt given back
    run.refresh_from_db()
    assert run.state == "error" and run.attempt_refunded
    assert _attempts(session_id, "write") == 0


@pytest.mark.django_db
def test_an_attempt_without_a_run_is_not_counted_by_the_next_press(ready_lab):
    lab, session_id = ready_lab
    # a counter that drifted from the runs (an older version, a hand edit): the runs are the truth
    LabSession.objects.filter(pk=session_id).update(progress={"steps": {"write": {"attempts": 3}}})
    run = lab.ok("check", {"step": "write"})
    assert run["state"] == "queued"
    assert _attempts(session_id, "write") == 1
