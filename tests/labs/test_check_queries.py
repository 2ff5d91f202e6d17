"""How many SQL statements one Check press costs, pinned so that a change that adds some is seen.

Counted on SQLite on the three-check step of ``three_checks``: the press (the ``check`` handler,
request user included) and the worker's part (``api.run_checks``), which with Celery eager also
delivers the outbox message to certification in the same call. Before this pin a press cost 16
statements and its run 39; the savepoints of refusals that roll the whole transaction back anyway,
the worker's unused read-back of the run, the re-read of the run it had just updated and the outbox's
second lease release and existence check after a delivery that matched went.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.labs.helpers import solve_in_sandbox
from xblocks.labs import api, tasks
from xblocks.labs.models import CheckRun, OutboxMessage

PRESS = 12
RUN = 32  # of which 14 deliver the outbox message to certification (a task of its own on a real worker)


def _listing(ctx) -> str:
    return "\n".join(q["sql"][:160] for q in ctx.captured_queries)


@pytest.mark.django_db(transaction=True)
def test_one_check_press_and_its_run_cost_a_pinned_number_of_statements(lab_factory, memory_backend, monkeypatch):
    lab = lab_factory("three_checks")
    session_id = lab.ok("start")["session_id"]
    queued: list[int] = []
    monkeypatch.setattr(tasks, "enqueue", lambda task, run_id, queue=None: queued.append(run_id))
    solve_in_sandbox(memory_backend, session_id, "setup")
    with CaptureQueriesContext(connection) as press:
        answer = lab.ok("check", {"step": "setup"})
    with CaptureQueriesContext(connection) as run:
        assert api.run_checks(queued[0]) is True
    assert len(press.captured_queries) == PRESS, _listing(press)
    assert len(run.captured_queries) == RUN, _listing(run)
    # fewer statements, same guarantees: the run is recorded, the result announced and delivered once
    recorded = CheckRun.objects.get(pk=answer["run_id"])
    assert (recorded.state, recorded.passed, recorded.points, recorded.active_key) == ("done", True, 3.0, None)
    message = OutboxMessage.objects.get()
    assert (message.pending, message.lease_until, message.attempts, message.version) == (False, None, 1, 1)
    assert api.run_checks(queued[0]) is False  # a second worker's copy finds nothing to do


@pytest.mark.django_db(transaction=True)
def test_a_refused_press_leaves_no_attempt_and_no_run_without_its_savepoints(lab_factory, memory_backend, monkeypatch):
    lab = lab_factory("three_checks")
    session_id = lab.ok("start")["session_id"]
    monkeypatch.setattr(tasks, "enqueue", lambda task, run_id, queue=None: None)
    lab.ok("check", {"step": "setup"})  # queued, never run: the session's run stays active
    before = CheckRun.objects.filter(session_id=session_id).count()
    from xblocks.labs.data import RunInProgress
    from xblocks.labs.models import LabSession

    attempts = LabSession.objects.get(pk=session_id).progress["steps"]["setup"]["attempts"]
    with pytest.raises(RunInProgress):
        api.request_checks(session_id, "setup")
    assert CheckRun.objects.filter(session_id=session_id).count() == before
    assert LabSession.objects.get(pk=session_id).progress["steps"]["setup"]["attempts"] == attempts
