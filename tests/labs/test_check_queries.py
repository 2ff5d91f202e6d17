"""How many SQL statements one Check press costs, pinned so that a change that adds some is seen.

Counted on SQLite on the three-check step of ``three_checks``: the press (the ``check`` handler,
request user included), the lab host's run (``api.run_checks``), and apart the task an LMS worker
runs afterwards to deliver the result's outbox message to certification (sent to ``OUTBOX_QUEUE``;
only Celery's eager mode runs it inside the run's call). Counted with the run before, as the eager
benchmark does: 16 + 39 = 55 statements, then 12 + 32 = 44; the Check path is 12 + 17 and
certification's work the delivery's 15 (decision 87).
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.labs.helpers import solve_in_sandbox
from xblocks.labs import api, tasks
from xblocks.labs.api import outbox
from xblocks.labs.models import CheckRun, OutboxMessage

PRESS = 12
RUN = 17
DELIVERY = 15  # an LMS worker's task, after the run committed: certification's evidence and evaluation

CERTIFICATION_TABLES = "kafaat_certification_"


def _listing(ctx) -> str:
    return "\n".join(q["sql"][:160] for q in ctx.captured_queries)


def _certification_sql(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries if CERTIFICATION_TABLES in q["sql"]]


@pytest.mark.django_db(transaction=True)
def test_one_check_press_and_its_run_cost_a_pinned_number_of_statements(lab_factory, memory_backend, monkeypatch):
    lab = lab_factory("three_checks")
    session_id = lab.ok("start")["session_id"]
    queued: list[int] = []
    deliveries: list[int] = []
    monkeypatch.setattr(tasks, "enqueue", lambda task, run_id, queue=None: queued.append(run_id))
    # the broker takes the delivery; an LMS worker runs it below, as its own task
    monkeypatch.setattr(outbox, "_queue_delivery", deliveries.append)
    solve_in_sandbox(memory_backend, session_id, "setup")
    with CaptureQueriesContext(connection) as press:
        answer = lab.ok("check", {"step": "setup"})
    with CaptureQueriesContext(connection) as run:
        assert api.run_checks(queued[0]) is True
    assert len(press.captured_queries) == PRESS, _listing(press)
    assert len(run.captured_queries) == RUN, _listing(run)
    # no certification work on the Check path: the run committed the result and its outbox message
    assert _certification_sql(press) == [] and _certification_sql(run) == []
    message = OutboxMessage.objects.get()
    assert deliveries == [message.pk] and message.pending
    with CaptureQueriesContext(connection) as delivery:
        assert tasks.deliver_outbox_message(message.pk) is True
    assert len(delivery.captured_queries) == DELIVERY, _listing(delivery)
    assert _certification_sql(delivery)
    # fewer statements, same guarantees: the run is recorded, the result announced and delivered once
    recorded = CheckRun.objects.get(pk=answer["run_id"])
    assert (recorded.state, recorded.passed, recorded.points, recorded.active_key) == ("done", True, 3.0, None)
    message.refresh_from_db()
    assert (message.pending, message.lease_until, message.attempts, message.version) == (False, None, 1, 1)
    assert tasks.deliver_outbox_message(message.pk) is True  # a second copy of the task sends nothing again
    assert OutboxMessage.objects.get().attempts == 1
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
