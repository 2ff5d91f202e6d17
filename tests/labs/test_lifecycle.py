"""The session state machine and the one-live-session rule, on SQLite and on MariaDB."""

from __future__ import annotations

import threading

import pytest
from django.db import IntegrityError, connection, transaction
from django.test.utils import CaptureQueriesContext

from xblocks.labs import api
from xblocks.labs.data import SessionState as S
from xblocks.labs.lifecycle import live_key, transition, transition_new
from xblocks.labs.models import LabSession, SessionEvent

USAGE = "course-v1:Kafaat+Labs+2026.kafaat_lab.d0.u0"


@pytest.fixture
def started(user_factory, definition_of, no_dispatch):
    def make(username="alice", usage=USAGE):
        status = api.start_session(
            user_factory(username), usage, "course-v1:Kafaat+Labs+2026", definition_of("files_and_flags")
        )
        return status.session_id

    return make


@pytest.mark.mariadb
@pytest.mark.django_db
def test_start_creates_a_requested_session_queues_provisioning_and_logs_it(started, no_dispatch):
    session_id = started()
    row = LabSession.objects.get(pk=session_id)
    assert row.state == S.REQUESTED and row.live_key == live_key(row.user_id, USAGE)
    assert no_dispatch == [("provision_session", session_id)]
    assert list(SessionEvent.objects.filter(session_id=session_id).values_list("from_state", "to_state")) == [
        ("", "requested")
    ]


@pytest.mark.mariadb
@pytest.mark.django_db
def test_a_second_start_returns_the_live_session(started, no_dispatch):
    assert started() == started()
    assert LabSession.objects.count() == 1 and len(no_dispatch) == 1


@pytest.mark.mariadb
@pytest.mark.django_db
def test_the_database_refuses_a_second_live_session_for_a_learner_and_block(started):
    row = LabSession.objects.get(pk=started())
    duplicate = LabSession(
        user=row.user, usage_key=row.usage_key, live_key=row.live_key, definition="x", definition_hash="x", seed="00"
    )
    with pytest.raises(IntegrityError), transaction.atomic():
        duplicate.save()


@pytest.mark.mariadb
@pytest.mark.django_db
def test_learners_and_blocks_each_get_their_own_live_session(started):
    ids = {started("alice"), started("bob"), started("alice", USAGE + "-other")}
    assert len(ids) == 3


@pytest.mark.parametrize(
    ("path", "allowed"),
    [
        ([S.PROVISIONING, S.READY, S.STOPPING, S.STOPPED], True),
        ([S.PROVISIONING, S.REQUESTED, S.PROVISIONING, S.FAILED], True),
        ([S.READY], False),
        ([S.PROVISIONING, S.READY, S.PROVISIONING], False),
        ([S.STOPPING, S.STOPPED, S.READY], False),
    ],
)
@pytest.mark.django_db
def test_transitions_follow_the_state_machine(started, path, allowed):
    session_id = started()
    results = [transition(session_id, to, actor="system:test") for to in path]
    assert all(results) is allowed
    if allowed:
        assert LabSession.objects.get(pk=session_id).state == path[-1]
        assert SessionEvent.objects.filter(session_id=session_id).count() == len(path) + 1


@pytest.mark.mariadb
@pytest.mark.django_db
def test_a_session_created_in_this_transaction_moves_through_several_states_in_one_write(started):
    row = LabSession.objects.get(pk=started())
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        moved = transition_new(
            row,
            [(S.PROVISIONING, "claimed", {"provision_attempts": 1}), (S.READY, "ready", {"phase": "ready"})],
            actor="system:pool",
        )
    assert moved is not None and moved.state == S.READY
    row = LabSession.objects.get(pk=row.pk)
    assert (row.state, row.provision_attempts, row.phase) == (S.READY, 1, "ready")
    assert row.live_key == live_key(row.user_id, USAGE)
    events = SessionEvent.objects.filter(session_id=row.pk).order_by("pk")
    assert [(e.from_state, e.to_state, e.actor) for e in events][1:] == [
        ("requested", "provisioning", "system:pool"),
        ("provisioning", "ready", "system:pool"),
    ]
    writes = [q["sql"] for q in queries.captured_queries if q["sql"].split()[0] in ("UPDATE", "INSERT")]
    assert len(writes) == 2  # one UPDATE of the session, one INSERT of both events


@pytest.mark.django_db
def test_several_moves_at_once_follow_the_state_machine_or_write_nothing(started):
    row = LabSession.objects.get(pk=started())
    with transaction.atomic():
        assert transition_new(row, [(S.READY, "skips provisioning", {})], actor="system:pool") is None
        assert (
            transition_new(row, [(S.PROVISIONING, "", {}), (S.REQUESTED, "", {}), (S.READY, "", {})], actor="x") is None
        )
    assert LabSession.objects.get(pk=row.pk).state == S.REQUESTED
    assert SessionEvent.objects.filter(session_id=row.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_several_moves_at_once_only_inside_the_creating_transaction(started):
    row = LabSession.objects.get(pk=started())
    with pytest.raises(RuntimeError, match="inside the transaction"):
        transition_new(row, [(S.PROVISIONING, "", {})], actor="system:pool")
    assert LabSession.objects.get(pk=row.pk).state == S.REQUESTED


@pytest.mark.django_db
def test_a_stale_row_is_not_moved_through_several_states(started):
    row = LabSession.objects.get(pk=started())
    transition(row.pk, S.STOPPING, actor="user:1")  # someone else moved it since this copy was read
    with transaction.atomic():
        assert transition_new(row, [(S.PROVISIONING, "", {}), (S.READY, "", {})], actor="system:pool") is None
    assert LabSession.objects.get(pk=row.pk).state == S.STOPPING


@pytest.mark.django_db
def test_leaving_the_live_states_frees_the_slot_for_a_new_start(started):
    first = started()
    transition(first, S.STOPPING, actor="user:1")
    assert LabSession.objects.get(pk=first).live_key is None
    second = started()
    assert second != first and LabSession.objects.get(pk=second).state == S.REQUESTED


@pytest.mark.django_db
def test_a_mover_with_a_stale_view_of_the_session_cannot_move_it(started):
    session_id = started()
    transition(session_id, S.PROVISIONING, actor="system:worker", provision_attempts=1)
    # The reaper took over (attempt 2); the first worker's "ready" must not land.
    transition(session_id, S.REQUESTED, actor="system:reaper")
    transition(session_id, S.PROVISIONING, actor="system:worker", provision_attempts=2)
    assert transition(session_id, S.READY, actor="system:worker", when=lambda row: row.provision_attempts == 1) is None
    assert LabSession.objects.get(pk=session_id).state == S.PROVISIONING


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_two_starts_at_once_give_one_session(user_factory, definition_of, no_dispatch):
    user = user_factory("racer")
    definition = definition_of("files_and_flags")
    barrier = threading.Barrier(4)
    results, errors = [], []

    def start():
        try:
            barrier.wait()
            results.append(api.start_session(user, USAGE, "", definition).session_id)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=start) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert len(set(results)) == 1
    assert LabSession.objects.filter(user=user).count() == 1
    assert len(no_dispatch) == 1


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_two_workers_racing_to_provision_move_the_session_once(started):
    session_id = started()
    barrier = threading.Barrier(2)
    moved = []

    def move():
        try:
            barrier.wait()
            row = LabSession.objects.get(pk=session_id)
            moved.append(
                transition(
                    session_id,
                    S.PROVISIONING,
                    actor="system:worker",
                    expect={S.REQUESTED},
                    provision_attempts=row.provision_attempts + 1,
                )
            )
        finally:
            connection.close()

    threads = [threading.Thread(target=move) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(1 for result in moved if result is not None) == 1
    assert SessionEvent.objects.filter(session_id=session_id, to_state=S.PROVISIONING).count() == 1
