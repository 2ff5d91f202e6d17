"""The outbox: a message exists exactly when its transaction commits, and reaches its receivers whatever fails.

The receivers here are the real certification ones (evidence) and test receivers that fail on purpose;
the database is the SQLite file of the run (or MariaDB with ``KAFAAT_TEST_DATABASE=mariadb``).
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import transaction
from django.utils import timezone

from tests.labs.test_check_runs import make_ready
from xblocks.certification import models as cert_models
from xblocks.labs import api
from xblocks.labs.models import CheckRun, LabSession, OutboxMessage
from xblocks.labs.signals import LAB_RESULT_TOPIC, lab_result_recorded


def _ready_flag_lab(lab_factory, student="alice"):
    lab = lab_factory("files_and_flags", student=student)
    session_id = lab.ok("start")["session_id"]
    make_ready(session_id)
    LabSession.objects.filter(pk=session_id).update(progress={"steps": {"write": {"checks_passed": True}}})
    return lab, session_id


def _answer(lab, session_id):
    secret = LabSession.objects.get(pk=session_id).params["secret"]
    return lab.ok("submit_flag", {"step": "flag", "flag": "found", "answer": secret})


class Flaky:
    """A receiver that fails its first ``failures`` calls, then records what it got."""

    def __init__(self, failures: int):
        self.failures = failures
        self.__qualname__ = "Flaky"  # Django's send_robust logs a failing receiver by its qualified name
        self.calls = 0
        self.received: list[dict] = []

    def __call__(self, sender, **kwargs):
        self.calls += 1
        if self.calls <= self.failures:
            raise RuntimeError("database is locked")
        self.received.append(kwargs)


@pytest.fixture
def flaky_receiver():
    receivers = []

    def connect(failures: int) -> Flaky:
        receiver = Flaky(failures)
        lab_result_recorded.connect(receiver, dispatch_uid=f"test-outbox-{len(receivers)}", weak=False)
        receivers.append(receiver)
        return receiver

    yield connect
    for index in range(len(receivers)):
        lab_result_recorded.disconnect(dispatch_uid=f"test-outbox-{index}")


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_passed_flag_reaches_certification_as_evidence_through_the_outbox(lab_factory, no_dispatch):
    lab, session_id = _ready_flag_lab(lab_factory)
    assert _answer(lab, session_id)["passed"] is True
    message = OutboxMessage.objects.get(topic=LAB_RESULT_TOPIC)
    assert not message.pending and message.delivered_at is not None and message.attempts == 1
    user_id = LabSession.objects.get(pk=session_id).user_id
    evidence = cert_models.Evidence.objects.get(user_id=user_id, kind="block_score")
    assert evidence.value == pytest.approx(1 / 3) and evidence.passed is True  # every step passed


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_the_outbox_message_rolls_back_with_its_transaction(lab_factory, no_dispatch):
    lab, session_id = _ready_flag_lab(lab_factory)
    row = LabSession.objects.get(pk=session_id)

    class Abort(Exception):
        pass

    with pytest.raises(Abort), transaction.atomic():
        api.publish(LAB_RESULT_TOPIC, f"{row.user_id}:{row.usage_key}", {"user_id": row.user_id})
        assert OutboxMessage.objects.count() == 1  # inside, the message is there
        raise Abort
    assert OutboxMessage.objects.count() == 0
    assert not cert_models.Evidence.objects.exists()


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_failing_receiver_gets_the_message_again_after_a_backoff_with_its_error_kept(
    lab_factory, no_dispatch, flaky_receiver
):
    receiver = flaky_receiver(failures=2)
    lab, session_id = _ready_flag_lab(lab_factory)
    assert _answer(lab, session_id)["passed"] is True  # the learner never sees the receiver fail
    message = OutboxMessage.objects.get(topic=LAB_RESULT_TOPIC)
    assert message.pending and message.attempts == 1 and "database is locked" in message.last_error
    assert "Flaky" in message.last_error  # which receiver failed, for the operator
    first_wait = (message.next_attempt_at - message.updated).total_seconds()
    assert 4 <= first_wait <= 6
    # the evidence the real receiver wrote was rolled back with the failed delivery
    assert not cert_models.Evidence.objects.exists()

    assert api.deliver_message(message.pk) is False  # not due yet: backing off
    assert api.deliver_due_messages() == 0
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert api.deliver_due_messages() == 0  # fails again, waits twice as long
    message.refresh_from_db()
    assert message.attempts == 2 and 9 <= (message.next_attempt_at - message.updated).total_seconds() <= 11

    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=timezone.now() - timedelta(seconds=1))
    assert api.deliver_due_messages() == 1
    message.refresh_from_db()
    assert not message.pending and message.last_error == "" and message.attempts == 3
    assert receiver.calls == 3 and receiver.received[0]["score"] == 1.0
    assert cert_models.Evidence.objects.filter(kind="block_score", value__gt=0).count() == 1


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_delivering_a_lab_result_twice_changes_nothing(lab_factory, no_dispatch, flaky_receiver):
    receiver = flaky_receiver(failures=0)
    lab, session_id = _ready_flag_lab(lab_factory)
    _answer(lab, session_id)
    before = list(cert_models.Evidence.objects.order_by("pk").values())
    assert len(before) == 2 and receiver.calls == 1
    message = OutboxMessage.objects.get()
    # a worker that delivered but died before its acknowledgement: the message is sent once more
    OutboxMessage.objects.filter(pk=message.pk).update(pending=True, next_attempt_at=timezone.now())
    assert api.deliver_message(message.pk) is True
    assert receiver.calls == 2
    assert list(cert_models.Evidence.objects.order_by("pk").values()) == before
    assert api.deliver_message(message.pk) is True and receiver.calls == 2  # delivered: not sent again


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_newer_result_replaces_an_undelivered_one_and_the_latest_wins(lab_factory, no_dispatch, flaky_receiver):
    receiver = flaky_receiver(failures=1)
    lab, session_id = _ready_flag_lab(lab_factory)
    wrong = lab.ok("submit_flag", {"step": "flag", "flag": "found", "answer": "KAFAAT{nope}"})
    assert wrong["passed"] is False
    assert OutboxMessage.objects.get().attempts == 1  # the first delivery failed
    _answer(lab, session_id)  # a newer result: replaces the payload and is delivered at once
    message = OutboxMessage.objects.get()
    assert not message.pending and message.version == 2
    assert [kwargs["score"] for kwargs in receiver.received] == [1.0]
    evidence = cert_models.Evidence.objects.get(kind="block_score")
    assert evidence.value == pytest.approx(1 / 3)


@pytest.mark.django_db(transaction=True)
def test_a_message_whose_delivery_task_was_lost_is_delivered_by_the_periodic_job(lab_factory, no_dispatch, monkeypatch):
    from xblocks.labs import periodic
    from xblocks.labs.api import outbox

    monkeypatch.setattr(outbox, "_queue_delivery", lambda message_id: None)  # the broker lost the task
    lab, session_id = _ready_flag_lab(lab_factory)
    _answer(lab, session_id)
    assert OutboxMessage.objects.get().pending
    assert not cert_models.Evidence.objects.exists()
    outcome = periodic.run_job("kafaat-outbox-deliver")
    assert outcome.ran and outcome.ok
    assert not OutboxMessage.objects.get().pending
    assert cert_models.Evidence.objects.filter(kind="lab").count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_delivery_held_by_a_live_worker_is_not_sent_twice_at_once(lab_factory, no_dispatch, flaky_receiver):
    receiver = flaky_receiver(failures=1)
    lab, session_id = _ready_flag_lab(lab_factory)
    _answer(lab, session_id)
    message = OutboxMessage.objects.get()
    now = timezone.now()
    OutboxMessage.objects.filter(pk=message.pk).update(next_attempt_at=now, lease_until=now + timedelta(minutes=1))
    assert api.deliver_due_messages() == 0 and api.deliver_message(message.pk) is False
    assert receiver.calls == 1
    OutboxMessage.objects.filter(pk=message.pk).update(lease_until=now - timedelta(seconds=1))  # its worker died
    assert api.deliver_due_messages() == 1 and receiver.calls == 2


@pytest.mark.django_db
def test_an_unknown_topic_is_refused_when_published():
    with pytest.raises(KeyError, match="no outbox topic"):
        api.publish("nobody.listens", "k", {})
    assert not CheckRun.objects.exists() and not OutboxMessage.objects.exists()


@pytest.mark.slow
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("sqlite_mode", ["IMMEDIATE", None], ids=["immediate", "sqlite-default-deferred"])
def test_learners_answering_at_once_on_one_database_lose_no_result(lab_factory, no_dispatch, sqlite_mode):
    """Many writers at once (the requests, the deliveries, certification's evidence): every result arrives.

    With SQLite's default (deferred) transactions, as before, receivers meet "database is locked": the
    messages then wait and are delivered on a later try instead of being dropped.
    """
    import threading

    from django.db import connection

    if sqlite_mode is None and connection.vendor != "sqlite":
        pytest.skip("SQLite's transaction mode; MariaDB waits for row locks")
    count = 16
    first = lab_factory("files_and_flags", student="s0")
    learners = [first] + [first.as_(f"s{index}") for index in range(1, count)]
    sessions = []
    for lab in learners:
        session_id = lab.ok("start")["session_id"]
        make_ready(session_id)
        LabSession.objects.filter(pk=session_id).update(progress={"steps": {"write": {"checks_passed": True}}})
        sessions.append((session_id, LabSession.objects.get(pk=session_id).params["secret"]))
    barrier = threading.Barrier(count)
    errors: list[Exception] = []

    def answer(session_id: int, secret: str) -> None:
        try:
            connection.ensure_connection()
            if connection.vendor == "sqlite":
                connection.transaction_mode = sqlite_mode
            barrier.wait()
            for attempt in ("KAFAAT{wrong}", secret):  # two results each, the second one passing
                api.submit_flag(session_id, "flag", "found", attempt)
        except Exception as error:  # collected: the assertion below names it
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=answer, args=pair) for pair in sessions]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if sqlite_mode is None:  # the locked requests failed whole (no attempt used): the learners press again
        for session_id, secret in sessions:
            if not CheckRun.objects.filter(session_id=session_id, passed=True).exists():
                api.submit_flag(session_id, "flag", "found", secret)
    else:
        assert errors == []
    assert CheckRun.objects.filter(state="done", passed=True).count() == count
    for _round in range(5):  # the periodic job's later runs, once each failed message's backoff has passed
        OutboxMessage.objects.filter(pending=True).update(next_attempt_at=timezone.now())
        api.deliver_due_messages()
    assert OutboxMessage.objects.filter(pending=True).count() == 0
    passed = cert_models.Evidence.objects.filter(kind="block_score", passed=True, value__gt=0.3)
    assert passed.count() == count  # every learner's latest result, none lost


@pytest.mark.django_db(transaction=True)
def test_the_admin_shows_a_failing_message_with_its_error_and_delivers_it_on_request(
    admin_client, lab_factory, no_dispatch, flaky_receiver
):
    from django.urls import reverse

    receiver = flaky_receiver(failures=1)
    lab, session_id = _ready_flag_lab(lab_factory)
    _answer(lab, session_id)
    message = OutboxMessage.objects.get()
    listing = admin_client.get(reverse("admin:kafaat_labs_outboxmessage_changelist"))
    assert listing.status_code == 200 and b"database is locked" in listing.content
    detail = admin_client.get(reverse("admin:kafaat_labs_outboxmessage_change", args=[message.pk]))
    assert detail.status_code == 200 and b'name="last_error"' not in detail.content  # read-only
    admin_client.post(
        reverse("admin:kafaat_labs_outboxmessage_changelist"),
        {"action": "deliver_now", "_selected_action": [message.pk]},
    )
    message.refresh_from_db()
    assert not message.pending and receiver.calls == 2  # no need to wait for the backoff


@pytest.mark.django_db
def test_the_periodic_job_deletes_messages_delivered_long_ago_and_keeps_the_rest():
    now = timezone.now()
    old = OutboxMessage.objects.create(
        topic=LAB_RESULT_TOPIC, key="1:a", pending=False, next_attempt_at=now, delivered_at=now - timedelta(days=31)
    )
    recent = OutboxMessage.objects.create(
        topic=LAB_RESULT_TOPIC, key="1:b", pending=False, next_attempt_at=now, delivered_at=now - timedelta(days=1)
    )
    waiting = OutboxMessage.objects.create(
        topic=LAB_RESULT_TOPIC, key="1:c", pending=True, next_attempt_at=now + timedelta(hours=1)
    )
    api.deliver_due_messages()
    assert set(OutboxMessage.objects.values_list("pk", flat=True)) == {recent.pk, waiting.pk}
    assert not OutboxMessage.objects.filter(pk=old.pk).exists()


# Each child answers the flags of its learners, all children starting at the same moment.
CHILD = """
import sys, time
import django
django.setup()
from xblocks.labs import api
start, pairs = float(sys.argv[1]), sys.argv[2:]
time.sleep(max(0.0, start - time.time()))
for pair in pairs:
    session_id, secret = pair.split("=", 1)
    for answer in ("KAFAAT{wrong}", secret):
        api.submit_flag(int(session_id), "flag", "found", answer)
"""


@pytest.mark.slow
@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_learners_answering_from_several_processes_at_once_lose_no_result(lab_factory, no_dispatch):
    """Four real processes (web servers) write at once; the worker's delivery job then brings every result over."""
    import subprocess
    import sys
    import time

    from tests.labs.helpers import CHECKOUT, child_env

    processes, per_process = 4, 4
    first = lab_factory("files_and_flags", student="p0")
    pairs = []
    for index in range(processes * per_process):
        lab = first if index == 0 else first.as_(f"p{index}")
        session_id = lab.ok("start")["session_id"]
        make_ready(session_id)
        LabSession.objects.filter(pk=session_id).update(progress={"steps": {"write": {"checks_passed": True}}})
        pairs.append(f"{session_id}={LabSession.objects.get(pk=session_id).params['secret']}")
    env = {**child_env(), "KAFAAT_BROKER_URL": "memory://"}  # no worker: the delivery tasks go nowhere
    start = time.time() + 8  # the children need a few seconds to start under load
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, str(start), *pairs[index::processes]],
            cwd=CHECKOUT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for index in range(processes)
    ]
    outputs = [child.communicate(timeout=180)[0].decode() for child in children]
    assert [child.returncode for child in children] == [0] * processes, outputs
    assert "database is locked" not in "".join(outputs)
    assert CheckRun.objects.filter(state="done", passed=True).count() == processes * per_process
    assert OutboxMessage.objects.filter(pending=True).count() == processes * per_process
    assert api.deliver_due_messages() == processes * per_process  # the periodic job, on a worker
    passed = cert_models.Evidence.objects.filter(kind="block_score", passed=True, value__gt=0.3)
    assert passed.count() == processes * per_process
