"""Lab hosts in the database: registration, placement of new sessions, and where later work on a session goes."""

from __future__ import annotations

import json
import logging
import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from xblocks.labs import api, hosts, tasks
from xblocks.labs.conf import labs_settings
from xblocks.labs.data import ActionRefused
from xblocks.labs.lifecycle import transition
from xblocks.labs.models import LabHost, LabSession

pytestmark = pytest.mark.django_db
USAGE = "course-v1:Kafaat+Labs+2026.kafaat_lab.d0.u0"


@pytest.fixture
def dispatched(monkeypatch):
    """The tasks the api queues, with their queue, instead of sending them."""
    sent: list[tuple[str, int, str]] = []
    monkeypatch.setattr(
        tasks,
        "enqueue",
        lambda task, session_id, queue=None: sent.append((task.name.rsplit(".", 1)[-1], session_id, queue or "")),
    )
    return sent


def register(name: str, *, capacity: int = 5, accepting: bool = True, seen_ago: float = 0, **extra) -> None:
    api.heartbeat(
        name, capacity=capacity, accepting=accepting, now=timezone.now() - timedelta(seconds=seen_ago), **extra
    )


def start(user_factory, definition_of, username: str):
    return api.start_session(
        user_factory(username), USAGE, "course-v1:Kafaat+Labs+2026", definition_of("files_and_flags")
    )


def test_with_no_lab_host_registered_a_start_goes_to_the_shared_lab_queue(user_factory, definition_of, dispatched):
    status = start(user_factory, definition_of, "solo")
    assert LabSession.objects.get(pk=status.session_id).host == ""
    assert dispatched == [("provision_session", status.session_id, "kafaat.labs")]


def test_sessions_go_to_the_least_loaded_live_host_and_never_to_a_dead_one(user_factory, definition_of, dispatched):
    register("lab-a", capacity=4)
    register("lab-b", capacity=2)
    register("lab-c", capacity=100, seen_ago=120)  # silent for longer than LAB_HOST_DEAD_AFTER (45 s)
    placed = []
    for index in range(6):
        status = start(user_factory, definition_of, f"learner{index}")
        placed.append(LabSession.objects.get(pk=status.session_id).host)
    # by share of capacity: a (0/4) b (0/2) a (1/4) a (2/4, ties go to more room) b (1/2) a (3/4)
    assert placed == ["lab-a", "lab-b", "lab-a", "lab-a", "lab-b", "lab-a"]
    assert [queue for _name, _id, queue in dispatched] == [f"kafaat.labs.{host}" for host in placed]
    statuses = {status.name: status for status in api.lab_hosts()}
    assert (statuses["lab-a"].live_sessions, statuses["lab-a"].available) == (4, 0)
    assert (statuses["lab-b"].live_sessions, statuses["lab-b"].available) == (2, 0)
    assert not statuses["lab-c"].alive and statuses["lab-c"].available == 0
    assert [status.name for status in api.lab_hosts()] == ["lab-a", "lab-b", "lab-c"]  # alive first


def test_a_start_with_every_host_full_dead_or_refusing_is_refused_with_a_message(
    user_factory, definition_of, dispatched, caplog
):
    register("full", capacity=1)
    start(user_factory, definition_of, "first")
    register("dead", seen_ago=3600)
    register("broken", accepting=False, detail="sandbox self-test FAILED (fork_bomb)")
    register("gone")
    api.lab_host_stopped("gone")
    before = LabSession.objects.count()
    with caplog.at_level(logging.ERROR, logger="xblocks.labs.api"), pytest.raises(ActionRefused) as refused:
        start(user_factory, definition_of, "second")
    assert refused.value.learner_message == "No lab machine is free right now. Please try again in a few minutes."
    assert LabSession.objects.count() == before  # nothing half-made
    logged = caplog.text
    assert "full: alive, accepting, 1/1" in logged
    assert "dead: dead" in logged and "broken: alive, refusing" in logged and "fork_bomb" in logged
    assert "gone: dead, refusing" in logged
    assert len(dispatched) == 1


def test_a_host_that_filled_up_meanwhile_is_passed_over_for_the_next(
    user_factory, definition_of, dispatched, monkeypatch
):
    register("lab-a", capacity=1)
    register("lab-b", capacity=1)
    monkeypatch.setattr(hosts, "choices", lambda now=None: ["lab-a", "lab-b"])
    first = start(user_factory, definition_of, "one")
    second = start(user_factory, definition_of, "two")  # lab-a is full when locked and counted
    assert LabSession.objects.get(pk=first.session_id).host == "lab-a"
    assert LabSession.objects.get(pk=second.session_id).host == "lab-b"
    with pytest.raises(ActionRefused):
        start(user_factory, definition_of, "three")
    assert LabSession.objects.filter(usage_key=USAGE).count() == 2


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_concurrent_starts_never_place_more_sessions_on_a_host_than_its_capacity(
    user_factory, definition_of, dispatched, monkeypatch
):
    register("lab-a", capacity=2)
    definition = definition_of("files_and_flags")
    users = [user_factory(f"racer{index}") for index in range(8)]
    barrier = threading.Barrier(len(users))
    # Make every start insert its session before any counts the host's sessions (the worst case):
    # without the host row's lock each would count only itself and all eight would be placed.
    counting = threading.Barrier(len(users))
    real_counts = hosts._live_counts

    def counts_after_everyone_inserted(names):
        if connection.in_atomic_block:
            try:
                counting.wait(timeout=1)
            except threading.BrokenBarrierError:
                pass  # the others wait for the host's lock: the point of it
        return real_counts(names)

    monkeypatch.setattr(hosts, "_live_counts", counts_after_everyone_inserted)
    placed, refused, errors = [], [], []

    def go(user):
        try:
            barrier.wait()
            placed.append(api.start_session(user, USAGE, "", definition).session_id)
        except ActionRefused:
            refused.append(user.pk)
        except Exception as error:  # pragma: no cover - reported below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=go, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert (len(placed), len(refused)) == (2, 6)
    assert LabSession.objects.filter(host="lab-a").count() == 2


def _ready_on(session_id: int, host: str) -> None:
    handle = {"id": f"sb-{session_id}", "backend": "local", "host": host, "label": f"x{session_id}", "data": {}}
    transition(session_id, "provisioning", actor="system:worker", host=host, provision_attempts=1)
    transition(session_id, "ready", actor="system:worker", host=host, handle=handle, ready_at=timezone.now())


def test_every_later_operation_of_a_session_goes_to_its_host(user_factory, definition_of, dispatched, monkeypatch):
    register("lab-a", gateway_url="wss://lab-a.example.org")
    register("lab-b", capacity=1)
    session_id = start(user_factory, definition_of, "alice").session_id
    row = LabSession.objects.get(pk=session_id)
    _ready_on(session_id, row.host)
    assert row.host == "lab-a"
    # a check pressed in a web process (no lab-host role) is recorded there and run on the host
    monkeypatch.setenv("KAFAAT_LAB_HOST_ROLE", "0")
    run = api.request_checks(session_id, "write")
    assert run.state == "queued" and dispatched[-1] == ("run_checks", run.run_id, "kafaat.labs.lab-a")
    assert api.lab_task_queue("run_checks", [run.run_id]) == "kafaat.labs.lab-a"  # where a stray copy is sent
    api.run_checks(run.run_id)  # a process without the role never runs it
    assert api.check_run_status(run.run_id).state == "queued"
    # the browser is sent to that host's gateway
    from xblocks.labs.terminal import api as terminal_api  # pylint: disable=import-outside-toplevel

    grant = terminal_api.mint_token(user=row.user, session_id=session_id, mode="rw")
    assert grant["url"] == f"wss://lab-a.example.org/kafaat/terminal/ws/{session_id}/"
    api.stop_session(session_id, actor="user:test")
    assert dispatched[-1] == ("teardown_session", session_id, "kafaat.labs.lab-a")


def test_a_configured_gateway_url_wins_over_the_registered_one(user_factory, definition_of, dispatched, settings):
    register("lab-a", gateway_url="wss://registered.example.org")
    settings.KAFAAT = {**settings.KAFAAT, "TERMINAL_GATEWAY_URLS": {"lab-a": "wss://configured.example.org"}}
    session_id = start(user_factory, definition_of, "alice").session_id
    _ready_on(session_id, "lab-a")
    from xblocks.labs.terminal import api as terminal_api  # pylint: disable=import-outside-toplevel

    user = LabSession.objects.get(pk=session_id).user
    assert terminal_api.mint_token(user=user, session_id=session_id, mode="rw")["url"].startswith(
        "wss://configured.example.org/"
    )


def test_the_reaper_places_an_unclaimed_start_again_when_its_host_died(user_factory, definition_of, dispatched):
    register("lab-a")
    session_id = start(user_factory, definition_of, "alice").session_id
    assert LabSession.objects.get(pk=session_id).host == "lab-a"
    LabHost.objects.filter(name="lab-a").update(last_seen=timezone.now() - timedelta(hours=1))
    wait = labs_settings.REQUEST_REQUEUE_AFTER + 1
    register("lab-b", seen_ago=-wait)  # heard from at the time the reaper runs
    report = api.reap_sessions(now=timezone.now() + timedelta(seconds=wait))
    assert report.retried == (session_id,)
    assert LabSession.objects.get(pk=session_id).host == "lab-b"
    assert dispatched[-1] == ("provision_session", session_id, "kafaat.labs.lab-b")


def test_the_reaper_keeps_an_unclaimed_start_on_its_host_while_that_host_lives(user_factory, definition_of, dispatched):
    register("lab-a")
    register("lab-b")
    session_id = start(user_factory, definition_of, "alice").session_id
    host = LabSession.objects.get(pk=session_id).host
    wait = labs_settings.REQUEST_REQUEUE_AFTER + 1
    for name in ("lab-a", "lab-b"):
        register(name, seen_ago=-wait)  # both alive when the reaper runs; lab-b now has more room
    api.reap_sessions(now=timezone.now() + timedelta(seconds=wait))
    assert LabSession.objects.get(pk=session_id).host == host
    assert dispatched[-1] == ("provision_session", session_id, f"kafaat.labs.{host}")


def test_a_reaper_on_the_start_s_own_host_keeps_it_there_though_its_heartbeat_is_late(
    user_factory, definition_of, dispatched, monkeypatch
):
    register("lab-a")
    session_id = start(user_factory, definition_of, "alice").session_id
    monkeypatch.setenv("KAFAAT_LAB_HOST_ROLE", "1")  # the reaper runs in lab-a's own loop
    monkeypatch.setenv("KAFAAT_LAB_HOST", "lab-a")
    LabHost.objects.filter(name="lab-a").update(last_seen=timezone.now() - timedelta(hours=1))  # a late heartbeat
    later = timezone.now() + timedelta(seconds=labs_settings.REQUEST_REQUEUE_AFTER + 1)
    assert api.reap_sessions(now=later).retried == (session_id,)
    assert LabSession.objects.get(pk=session_id).state == "requested"
    assert dispatched[-1] == ("provision_session", session_id, "kafaat.labs.lab-a")


def test_a_start_no_live_host_can_take_any_more_fails_with_a_message(user_factory, definition_of, dispatched):
    register("lab-a")
    session_id = start(user_factory, definition_of, "alice").session_id
    LabHost.objects.filter(name="lab-a").update(last_seen=timezone.now() - timedelta(hours=1))
    later = timezone.now() + timedelta(seconds=labs_settings.REQUEST_REQUEUE_AFTER + 1)
    report = api.reap_sessions(now=later)
    assert report.failed == (session_id,)
    row = LabSession.objects.get(pk=session_id)
    assert row.state == "failed"
    assert row.learner_message == "No lab environment is available right now. Please try again later."
    assert "lab-a: dead" in row.detail


@pytest.mark.parametrize(
    ("role", "lab_host", "task", "args", "expected"),
    [
        ("0", "lab-a", "xblocks.labs.tasks.reap_sessions", [], "kafaat.labs"),
        ("0", "lab-a", "xblocks.labs.tasks.reconcile_sessions", ["lab-b"], "kafaat.labs.lab-b"),
        ("0", "lab-a", "xblocks.labs.tasks.teardown_session", ["SESSION"], "kafaat.labs.lab-a"),
        ("0", "lab-a", "xblocks.labs.tasks.provision_session", ["SESSION"], "kafaat.labs.lab-a"),
        ("1", "lab-a", "xblocks.labs.tasks.teardown_session", ["SESSION"], None),
        ("1", "lab-b", "xblocks.labs.tasks.teardown_session", ["SESSION"], "kafaat.labs.lab-a"),
        ("1", "lab-b", "xblocks.labs.tasks.run_checks", ["RUN"], "kafaat.labs.lab-a"),
        ("0", "lab-a", "xblocks.labs.tasks.run_checks", ["RUN"], "kafaat.labs.lab-a"),
        ("1", "lab-a", "xblocks.labs.tasks.run_checks", ["RUN"], None),
        ("1", "lab-b", "xblocks.labs.tasks.provision_session", ["SESSION"], None),
        ("1", "lab-b", "xblocks.labs.tasks.reconcile_sessions", ["lab-b"], None),
        ("1", "lab-b", "xblocks.labs.tasks.reconcile_sessions", [], None),
        ("1", "lab-b", "xblocks.labs.tasks.reap_sessions", [], None),
    ],
)
def test_where_a_lab_task_received_here_must_go(
    user_factory, definition_of, dispatched, monkeypatch, role, lab_host, task, args, expected
):
    register("lab-a")
    session_id = start(user_factory, definition_of, "alice").session_id
    monkeypatch.setenv("KAFAAT_LAB_HOST_ROLE", role)
    monkeypatch.setenv("KAFAAT_LAB_HOST", lab_host)
    if "RUN" in args:  # run_checks names a check run (one press of Check) of the session
        from xblocks.labs.models import CheckRun  # pylint: disable=import-outside-toplevel

        run = CheckRun.objects.create(session_id=session_id, step_id="write", script_hash="")
    args = [session_id if arg == "SESSION" else run.pk if arg == "RUN" else arg for arg in args]
    assert api.lab_task_destination(task, args, {}) == expected


def test_a_heartbeat_needs_a_name_and_updates_one_row(db):
    with pytest.raises(ValueError):
        api.heartbeat("", capacity=1)
    register("lab-a", capacity=3, sandboxes=2, version="0.1.0")
    register("lab-a", capacity=4, accepting=False, detail="sandbox self-test not finished yet")
    (status,) = api.lab_hosts()
    assert (status.capacity, status.accepting, status.detail, status.queue) == (
        4,
        False,
        "sandbox self-test not finished yet",
        "kafaat.labs.lab-a",
    )
    assert status.as_json()["available"] == 0


def test_kafaat_lab_host_lists_the_hosts_with_their_load(user_factory, definition_of, dispatched, capsys):
    from django.core.management import call_command  # pylint: disable=import-outside-toplevel

    call_command("kafaat_lab_host", "list")
    assert "no lab host registered" in capsys.readouterr().out
    register("lab-a", capacity=3, gateway_url="wss://lms.example.org/kafaat/labhosts/lab-a")
    register("lab-b", accepting=False, detail="sandbox self-test not finished yet", seen_ago=120)
    start(user_factory, definition_of, "alice")
    call_command("kafaat_lab_host", "list")
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("lab-a                alive accepting   1/3")
    assert lines[0].endswith("kafaat.labs.lab-a  wss://lms.example.org/kafaat/labhosts/lab-a")
    assert lines[1].startswith("lab-b                dead  refusing    0/5")
    assert lines[1].endswith("(sandbox self-test not finished yet)")
    call_command("kafaat_lab_host", "list", "--json")
    listed = json.loads(capsys.readouterr().out)
    assert [(host["name"], host["available"]) for host in listed] == [("lab-a", 2), ("lab-b", 0)]


def test_a_lab_host_whose_gateway_does_not_listen_yet_takes_no_sessions(monkeypatch):
    """A host announced before its terminal gateway binds would place learners whose terminal cannot connect."""
    import socket

    from xblocks.labs import labhost

    monkeypatch.setattr(labhost, "self_test_state", lambda since: (True, ""))
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
        service = labhost.Service(labhost.Options(name="lab-gw", capacity=1, gateway_port=port), say=lambda text: None)
        assert service.state() == (False, "terminal gateway not listening yet")
        probe.listen(1)
        assert service.state() == (True, "")
    assert labhost.Service(labhost.Options(name="lab-nogw", capacity=1, gateway=False), say=lambda t: None).state() == (
        True,
        "",
    )
