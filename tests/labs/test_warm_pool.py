"""The warm pool with real sandboxes: a Start takes a ready sandbox of its lab, and no learner's
environment or parameters ever reach another learner (Celery eager: the keeper runs after each Start)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from xblocks.labs import api
from xblocks.labs.api import pool
from xblocks.labs.models import LabSession, PoolSandbox, SessionEvent, label_prefix, pool_label_prefix
from xblocks.labs.sandbox.base import SandboxHandle

pytestmark = [pytest.mark.sandbox, pytest.mark.mariadb, pytest.mark.django_db(transaction=True)]

SHARED_LAB = """<kafaat_lab display_name="Pooled" image="base" time_limit="600" idle_timeout="600">
  <file path="/home/learner/notes.txt" owner="learner">the same for everyone</file>
  <setup user="root">echo prepared > /etc/kafaat-setup-ran</setup>
  <step id="one" title="One">
    <instructions>Write hello to hello.txt.</instructions>
    <check id="c" points="1">grep -qx hello /home/learner/hello.txt</check>
  </step>
</kafaat_lab>"""


@pytest.fixture
def warm(monkeypatch):
    monkeypatch.setenv("KAFAAT_WARM_POOL_SIZE", "2")


@pytest.fixture
def cleanup(backend):
    yield
    for handle in backend.inventory():
        if handle.label.startswith(label_prefix()):
            backend.destroy(handle)


def handle_of(session_id: int) -> SandboxHandle:
    return SandboxHandle.from_json(LabSession.objects.get(pk=session_id).handle)


def ready_pool() -> list[PoolSandbox]:
    return list(PoolSandbox.objects.filter(state=PoolSandbox.State.READY))


def test_a_start_takes_a_ready_pool_sandbox_with_the_lab_applied(lab_factory, backend, warm, cleanup):
    alice = lab_factory(SHARED_LAB, student="alice")
    first = alice.ok("start")
    assert first["state"] == "ready"
    assert not handle_of(first["session_id"]).label.startswith(pool_label_prefix())  # nothing pooled yet
    assert len(ready_pool()) == 1  # one start of this lab: one made ahead
    waiting = ready_pool()[0]
    bob = alice.as_("bob")
    started = bob.ok("start", {"terminal": True})
    assert started["state"] == "ready" and started["terminal"]["token"]
    handle = handle_of(started["session_id"])
    assert handle.id == waiting.handle["id"] and handle.label == waiting.label
    assert backend.exec(handle, "cat /home/learner/notes.txt /etc/kafaat-setup-ran").stdout.split("\n")[:2] == [
        "the same for everyone",
        "prepared",
    ]
    claimed = PoolSandbox.objects.get(pk=waiting.pk)
    assert claimed.state == "claimed" and claimed.session_id == started["session_id"]
    events = SessionEvent.objects.filter(session_id=started["session_id"]).values_list("to_state", flat=True)
    assert list(events) == ["requested", "provisioning", "ready"]
    assert [entry.handle["id"] for entry in ready_pool()] and handle.id not in {e.handle["id"] for e in ready_pool()}


# SQL statements of a Start served by the pool: the handler's own reads, the new learner's account (4) and
# the transaction's BEGIN and COMMIT included (30 when the claim
# moved the session requested → provisioning → ready as two locked moves; 20 as one write).
POOL_START_STATEMENTS = 20


def test_a_start_served_by_the_pool_costs_a_pinned_number_of_statements(lab_factory, warm, cleanup, monkeypatch):
    alice = lab_factory(SHARED_LAB, student="alice")
    alice.ok("start")  # demand seen: the keeper (eager here) makes one ahead
    assert len(ready_pool()) == 1
    monkeypatch.setattr(pool, "want_more", lambda host: None)  # the refill is the worker's, 2 s later
    with CaptureQueriesContext(connection) as queries:
        started = alice.as_("bob").ok("start")
    assert started["state"] == "ready" and PoolSandbox.objects.filter(session_id=started["session_id"]).exists()
    listing = "\n".join(q["sql"][:160] for q in queries.captured_queries)
    assert len(queries.captured_queries) == POOL_START_STATEMENTS, listing


def test_two_learners_never_get_the_same_sandbox(lab_factory, backend, warm, cleanup):
    alice = lab_factory(SHARED_LAB, student="alice")
    made_for_alice = alice.ok("start")["session_id"]
    alice.as_("bob").ok("start")  # two starts: the keeper keeps two ready
    assert len(ready_pool()) == 2
    learners = [alice.as_(name) for name in ("carol", "dave", "erin")]
    sessions = [learner.ok("start")["session_id"] for learner in learners]
    handles = [handle_of(session_id) for session_id in sessions]
    assert len({handle.id for handle in handles}) == 3
    assert sum(handle.label.startswith(pool_label_prefix()) for handle in handles) >= 2
    backend.exec(handles[0], "echo carol-was-here > /home/learner/mine.txt")
    for other in handles[1:]:
        assert backend.exec(other, "test -e /home/learner/mine.txt").exit_code != 0
    # The compare-and-set hands an entry to one session only, even one wrongly seen as ready again.
    first = LabSession.objects.get(pk=made_for_alice)
    second = LabSession.objects.get(pk=sessions[0])
    PoolSandbox.objects.exclude(pk=ready_pool()[0].pk).filter(state="ready").delete()
    entry = ready_pool()[0]
    assert pool.claim(first, "", timezone.now()).id == entry.handle["id"]
    PoolSandbox.objects.filter(pk=entry.pk).update(state="ready")
    assert pool.claim(second, "", timezone.now()) is None
    assert PoolSandbox.objects.get(pk=entry.pk).session_id == first.pk


def test_a_lab_with_parameters_is_never_pooled_and_keeps_each_learner_values(lab_factory, backend, warm, cleanup):
    alice = lab_factory("files_and_flags", student="alice")
    bob = alice.as_("bob")
    a_id, b_id = alice.ok("start")["session_id"], bob.ok("start")["session_id"]
    assert not PoolSandbox.objects.exists()
    a_row, b_row = LabSession.objects.get(pk=a_id), LabSession.objects.get(pk=b_id)
    assert a_row.params["secret"] != b_row.params["secret"]
    for row in (a_row, b_row):
        result = backend.exec(handle_of(row.pk), "cat /home/learner/.flag")
        assert result.stdout.strip() == row.params["secret"]
    assert pool.fill_pool() == [] and not PoolSandbox.objects.exists()


def test_a_returning_learner_past_the_first_steps_gets_a_sandbox_made_for_them(definition_of):
    lab = definition_of("files_and_flags")
    assert not pool.poolable(lab)
    from xblocks.labs.definition import parse_lab  # pylint: disable=import-outside-toplevel

    shared = parse_lab(
        SHARED_LAB.replace("</kafaat_lab>", '<step id="two" title="Two"><setup>true</setup></step></kafaat_lab>')
    )
    assert pool.poolable(shared)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KAFAAT_WARM_POOL_SIZE", "1")
        assert pool.servable(shared, {})
        assert not pool.servable(
            shared, {"steps": {"one": {"checks_passed": True}}}
        )  # step two reached: its setup must run
        patch.setenv("KAFAAT_WARM_POOL_SIZE", "0")
        assert not pool.servable(shared, {})


def test_a_claimed_sandbox_used_then_released_is_destroyed_and_never_pooled_again(lab_factory, backend, warm, cleanup):
    alice = lab_factory(SHARED_LAB, student="alice")
    alice.ok("start")
    bob = alice.as_("bob")
    session_id = bob.ok("start")["session_id"]
    handle = handle_of(session_id)
    assert handle.label.startswith(pool_label_prefix())
    backend.exec(handle, "echo bob-secret > /home/learner/secret.txt")
    assert bob.ok("stop")["state"] == "stopped"
    assert not backend.alive(handle)
    assert handle.id not in {entry.handle["id"] for entry in ready_pool()}
    carol = alice.as_("carol").ok("start")["session_id"]
    other = handle_of(carol)
    assert other.id != handle.id
    assert backend.exec(other, "test -e /home/learner/secret.txt").exit_code != 0
    pool.fill_pool()
    assert not PoolSandbox.objects.filter(session_id=session_id).exists()  # its record went with the session


def test_expired_orphaned_and_previous_run_pool_sandboxes_are_destroyed(lab_factory, backend, warm, cleanup):
    alice = lab_factory(SHARED_LAB, student="alice")
    alice.ok("start")
    bob = alice.as_("bob").ok("start")["session_id"]
    entries = ready_pool()
    assert len(entries) == 2
    expired, orphan = entries
    PoolSandbox.objects.filter(pk=expired.pk).update(expires_at=timezone.now() - timedelta(seconds=1))
    PoolSandbox.objects.filter(pk=orphan.pk).delete()  # as if its worker died before recording it
    destroyed = pool.reap_pool()
    assert set(destroyed) == {expired.handle["id"], orphan.handle["id"]}
    for entry in (expired, orphan):
        assert not backend.alive(SandboxHandle.from_json(entry.handle))
    made = pool.fill_pool()
    assert len(made) == 2
    handles = [SandboxHandle.from_json(entry.handle) for entry in ready_pool()]
    assert api.purge_pool() == 2  # the worker restarts: nothing of the previous run is handed out
    assert not ready_pool() and not any(backend.alive(handle) for handle in handles)
    left = {h.id for h in backend.inventory() if h.label.startswith(pool_label_prefix())}
    assert left == {handle_of(bob).id}  # only the one a live session claimed


def test_the_pool_stays_within_its_total_and_the_host_capacity(lab_factory, monkeypatch, cleanup):
    monkeypatch.setenv("KAFAAT_WARM_POOL_SIZE", "5")
    monkeypatch.setenv("KAFAAT_WARM_POOL_MAX_TOTAL", "1")
    alice = lab_factory(SHARED_LAB, student="alice")
    for name in ("alice", "bob", "carol"):
        alice.as_(name).ok("start")
    assert PoolSandbox.objects.exclude(state="claimed").count() <= 1


def test_the_pool_is_off_by_default(lab_factory, cleanup):
    alice = lab_factory(SHARED_LAB, student="alice")
    alice.ok("start")
    alice.as_("bob").ok("start")
    assert not PoolSandbox.objects.exists() and pool.fill_pool() == []
