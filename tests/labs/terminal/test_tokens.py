"""Tokens: minted only for the owner (or a watcher), at most 60 s, single use, bound to session and mode."""

import datetime
import threading

import pytest
from django.db import close_old_connections
from django.utils import timezone

from xblocks.labs.sandbox.base import SandboxHandle
from xblocks.labs.terminal import api
from xblocks.labs.terminal.models import StaffAttach, TerminalToken

HANDLE = SandboxHandle(id="sbx-test", backend="local", host="lab-1", label="labsession-x")

pytestmark = pytest.mark.mariadb


@pytest.fixture
def session_of(lab_session):
    def make(user, **kwargs):
        return lab_session(user, handle=HANDLE, **kwargs)

    return make


@pytest.mark.django_db
def test_owner_gets_a_token_with_a_path_on_the_page_host_and_at_most_sixty_seconds(make_user, session_of, settings):
    alice = make_user("alice")
    session = session_of(alice)
    settings.KAFAAT = {"TERMINAL_TOKEN_TTL": 3600}
    grant = api.mint_token(user=alice, session_id=session.pk, mode="rw")
    assert grant["url"] == f"/kafaat/terminal/ws/{session.pk}/"
    assert grant["expires_in"] == 60
    assert len(grant["token"]) >= 43
    row = TerminalToken.objects.get()
    assert row.expires_at <= timezone.now() + datetime.timedelta(seconds=61)
    assert grant["token"] not in row.digest  # only a digest is stored


@pytest.mark.django_db
def test_gateway_url_follows_the_session_host(make_user, session_of, settings):
    alice = make_user("alice")
    session = session_of(alice)
    settings.KAFAAT = {"TERMINAL_GATEWAY_URLS": {"lab-1": "wss://lab-1.example.org"}}
    grant = api.mint_token(user=alice, session_id=session.pk, mode="rw")
    assert grant["url"] == f"wss://lab-1.example.org/kafaat/terminal/ws/{session.pk}/"


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["rw", "ro"])
def test_another_learner_cannot_mint_a_token_for_someone_elses_session(make_user, session_of, mode):
    alice, mallory = make_user("alice"), make_user("mallory")
    session = session_of(alice)
    with pytest.raises(api.TerminalDenied):
        api.mint_token(user=mallory, session_id=session.pk, mode=mode)
    assert not TerminalToken.objects.exists()


@pytest.mark.django_db
def test_staff_may_mint_a_read_only_token_but_not_a_writable_one(make_user, session_of):
    alice, staff = make_user("alice"), make_user("teacher", is_staff=True)
    session = session_of(alice)
    assert api.mint_token(user=staff, session_id=session.pk, mode="ro")["token"]
    with pytest.raises(api.TerminalDenied):
        api.mint_token(user=staff, session_id=session.pk, mode="rw")


@pytest.mark.django_db
@pytest.mark.parametrize("mode", ["", "RW", "admin", "rw "])
def test_unknown_modes_are_refused(make_user, session_of, mode):
    alice = make_user("alice")
    with pytest.raises(api.TerminalDenied):
        api.mint_token(user=alice, session_id=session_of(alice).pk, mode=mode)


@pytest.mark.django_db
@pytest.mark.parametrize("state", ["requested", "provisioning", "stopped", "failed"])
def test_no_token_for_a_session_that_is_not_ready(make_user, session_of, state):
    from xblocks.labs.data import SessionNotReady

    alice = make_user("alice")
    with pytest.raises(SessionNotReady):
        api.mint_token(user=alice, session_id=session_of(alice, state=state).pk, mode="rw")


@pytest.mark.django_db
def test_a_token_works_once(make_user, session_of):
    alice = make_user("alice")
    session = session_of(alice)
    token = api.mint_token(user=alice, session_id=session.pk, mode="rw")["token"]
    claim = api.consume_token(token, session.pk)
    assert claim is not None and claim.user_id == alice.pk and not claim.read_only
    assert claim.handle == HANDLE
    assert api.consume_token(token, session.pk) is None


@pytest.mark.django_db
def test_an_expired_token_is_refused(make_user, session_of):
    alice = make_user("alice")
    session = session_of(alice)
    token = api.mint_token(user=alice, session_id=session.pk, mode="rw")["token"]
    TerminalToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    assert api.consume_token(token, session.pk) is None


@pytest.mark.django_db
def test_a_token_for_one_session_opens_no_other(make_user, session_of):
    alice, bob = make_user("alice"), make_user("bob")
    mine, theirs = session_of(alice), session_of(bob)
    token = api.mint_token(user=alice, session_id=mine.pk, mode="rw")["token"]
    assert api.consume_token(token, theirs.pk) is None
    assert api.consume_token(token, mine.pk) is None  # burnt by the attempt


@pytest.mark.django_db
def test_a_token_dies_with_the_owners_session(make_user, session_of):
    from xblocks.labs.models import LabSession

    alice = make_user("alice")
    session = session_of(alice)
    token = api.mint_token(user=alice, session_id=session.pk, mode="rw")["token"]
    LabSession.objects.filter(pk=session.pk).update(state="stopped")
    assert api.consume_token(token, session.pk) is None


@pytest.mark.django_db
@pytest.mark.parametrize("token", [None, 42, "", "short", "x" * 500, ["a"], {"token": "x"}])
def test_malformed_tokens_are_refused(make_user, session_of, token):
    alice = make_user("alice")
    assert api.consume_token(token, session_of(alice).pk) is None


@pytest.mark.django_db
def test_a_staff_watch_is_recorded_with_who_whom_and_when(make_user, session_of):
    alice, staff = make_user("alice"), make_user("teacher", is_staff=True)
    session = session_of(alice)
    token = api.mint_token(user=staff, session_id=session.pk, mode="ro")["token"]
    claim = api.consume_token(token, session.pk)
    assert claim.read_only and claim.viewer_id == staff.pk
    attach = StaffAttach.objects.get()
    assert (attach.staff_id, attach.learner_id, attach.session_id) == (staff.pk, alice.pk, session.pk)
    assert attach.started_at is not None and attach.ended_at is None
    api.end_attach(attach.pk)
    attach.refresh_from_db()
    assert attach.ended_at is not None


@pytest.mark.django_db(transaction=True)
def test_concurrent_replays_of_one_token_let_exactly_one_in(make_user, session_of):
    alice = make_user("alice")
    session = session_of(alice)
    token = api.mint_token(user=alice, session_id=session.pk, mode="rw")["token"]
    results, barrier = [], threading.Barrier(8)

    def race():
        try:
            barrier.wait()
            results.append(api.consume_token(token, session.pk))
        finally:
            close_old_connections()

    threads = [threading.Thread(target=race) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 8
    assert sum(claim is not None for claim in results) == 1


@pytest.mark.django_db
def test_purge_removes_old_transcripts_and_dead_tokens_and_keeps_recent_ones(make_user, session_of, settings):
    from xblocks.labs.terminal.tasks import purge_transcripts

    alice = make_user("alice")
    session = session_of(alice)
    api.mint_token(user=alice, session_id=session.pk, mode="rw")
    api.open_transcript(1, 80, 24)
    api.open_transcript(2, 80, 24)
    api.append_transcript(2, 1, '[0.1,"o","hi"]\n', b"ls\n", size=15, truncated=False)
    from xblocks.labs.terminal.models import Transcript

    Transcript.objects.filter(session_id=1).update(updated_at=timezone.now() - datetime.timedelta(days=91))
    TerminalToken.objects.update(expires_at=timezone.now() - datetime.timedelta(hours=2))
    assert purge_transcripts.delay().get() == {"transcripts": 1, "tokens": 1}
    assert api.transcript(1) is None
    assert api.command_history(2) == b"ls\n"
    assert purge_transcripts.delay().get() == {"transcripts": 0, "tokens": 0}


def _machine_handle(name: str) -> dict:
    return SandboxHandle(id=f"sbx-{name}", backend="local", host="lab-1", label="labsession-x").as_json()


LAB_HANDLE = SandboxHandle(
    id="lab-test",
    backend="local",
    host="lab-1",
    label="labsession-x",
    data={"kind": "lab", "machines": [[name, _machine_handle(name)] for name in ("attacker", "portal", "db")]},
)


@pytest.mark.django_db
def test_a_token_opens_the_machine_it_names_and_no_other(make_user, lab_session):
    alice = make_user("alice")
    session = lab_session(alice, handle=LAB_HANDLE)
    for machine, expected_handle, expected_machine in (
        ("", "sbx-attacker", ""),
        ("attacker", "sbx-attacker", ""),  # the first machine is the recorded one, however it is named
        ("db", "sbx-db", "db"),
    ):
        grant = api.mint_token(user=alice, session_id=session.pk, mode="rw", machine=machine)
        claim = api.consume_token(grant["token"], session.pk)
        assert (claim.handle.id, claim.machine) == (expected_handle, expected_machine)
    with pytest.raises(api.TerminalDenied):
        api.mint_token(user=alice, session_id=session.pk, mode="rw", machine="nowhere")
    # a token whose machine vanished from the session (a reset to another lab) opens nothing
    grant = api.mint_token(user=alice, session_id=session.pk, mode="rw", machine="portal")
    TerminalToken.objects.filter(machine="portal").update(machine="gone")
    assert api.consume_token(grant["token"], session.pk) is None


@pytest.mark.django_db
def test_a_single_machine_token_opens_that_machine_whatever_it_is_called(make_user, session_of):
    alice = make_user("alice")
    session = session_of(alice)
    grant = api.mint_token(user=alice, session_id=session.pk, mode="rw", machine="web")
    claim = api.consume_token(grant["token"], session.pk)
    assert (claim.handle.id, claim.machine) == ("sbx-test", "")
