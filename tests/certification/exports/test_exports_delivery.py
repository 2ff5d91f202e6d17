"""Deliveries against a real HTTP server on 127.0.0.1: outage then recovery, exactly once, consent, signatures."""

from __future__ import annotations

import datetime as dt
import json
import threading
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.exceptions import PermissionDenied
from django.utils import timezone

from xblocks.certification.exports import api, delivery
from xblocks.certification.exports.data import ReceiptStatus

pytestmark = [pytest.mark.mariadb]

SECRET = "shared-test-secret"


class Clock:
    """The time both the delivery code and the test server believe it is."""

    def __init__(self, start: dt.datetime):
        self.now = start

    def advance(self, **delta) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now


class HRServer(ThreadingHTTPServer):
    """An HR receiver: verifies the signature, de-duplicates by Idempotency-Key, fails while told to."""

    daemon_threads = True

    def __init__(self, clock: Clock):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.clock = clock
        self.down_until: dt.datetime | None = None
        self.lose_first_answer_for: set[str] = set()  # process the record, then answer 500
        self.requests: list[dict] = []
        self.processed: Counter = Counter()  # records the HR system stored, by key
        self.lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/hr/records"


class _Handler(BaseHTTPRequestHandler):
    server: HRServer

    def log_message(self, *args):  # keep test output clean
        return

    def do_POST(self):  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        key = self.headers["Idempotency-Key"]
        server = self.server
        with server.lock:
            server.requests.append(
                {
                    "key": key,
                    "body": body,
                    "signature": self.headers["X-Kafaat-Signature"],
                    "timestamp": self.headers["X-Kafaat-Timestamp"],
                }
            )
            if server.down_until and server.clock.now < server.down_until:
                status = 503
            elif not delivery.verify_signature(SECRET, body, self.headers["X-Kafaat-Signature"]):
                status = 401
            else:
                if server.processed[key] == 0:
                    server.processed[key] += 1
                if key in server.lose_first_answer_for:
                    server.lose_first_answer_for.discard(key)
                    status = 500
                else:
                    status = 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(json.dumps({"status": status}).encode())


@pytest.fixture
def clock():
    return Clock(timezone.now().replace(microsecond=0))


@pytest.fixture
def hr_server(clock):
    server = HRServer(clock)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


@pytest.fixture
def loopback_allowed(settings):
    settings.KAFAAT = {
        **settings.KAFAAT,
        "DELIVERY_ALLOW_HTTP_LOOPBACK": True,
        "DELIVERY_BACKOFF_BASE": 60,
        "DELIVERY_BACKOFF_CAP": 600,
    }


@pytest.fixture
def endpoint(world, hr_server, loopback_allowed):
    return api.create_endpoint(
        world.coordinator_a,
        name="Acme HR",
        url=hr_server.url,
        employer="acme",
        secret=SECRET,
        payload="record",
        preset="workday",
    )


def test_an_hour_long_outage_then_recovery_delivers_every_record_exactly_once(world, hr_server, endpoint, clock):
    hr_server.down_until = clock.now + dt.timedelta(hours=1)
    run = api.collect(endpoint.id, now=clock.now)
    assert run.queued == 2  # alice and erin: bob, carol and dave are not Acme's to see
    # the beat task runs every minute; the endpoint answers 503 for an hour
    while clock.now < hr_server.down_until + dt.timedelta(minutes=20):
        api.send_due(now=clock.now)
        clock.advance(minutes=1)
    receipts = api.receipts(endpoint.id)
    assert {r.status for r in receipts} == {ReceiptStatus.DELIVERED}
    assert all(r.delivered_at >= hr_server.down_until for r in receipts)
    assert sorted(hr_server.processed.values()) == [1, 1]
    assert {r.certificate_number for r in receipts} == {world.number("alice"), world.number("erin")}
    # backoff: far fewer attempts than minutes of outage, capped so recovery is noticed within the cap
    attempts = Counter(request["key"] for request in hr_server.requests)
    assert all(3 <= n <= 12 for n in attempts.values())
    assert all(r.delivered_at - hr_server.down_until <= dt.timedelta(minutes=10) for r in receipts)
    # every retry carried the same body, signature and key
    for key in attempts:
        bodies = {request["body"] for request in hr_server.requests if request["key"] == key}
        assert len(bodies) == 1
    # later runs send nothing more
    sent_before = len(hr_server.requests)
    api.collect(endpoint.id, now=clock.advance(hours=1))
    api.send_due(now=clock.advance(hours=1))
    assert len(hr_server.requests) == sent_before


def test_a_lost_answer_is_retried_with_the_same_key_and_the_receiver_keeps_one_copy(world, hr_server, endpoint, clock):
    api.collect(endpoint.id, now=clock.now)
    keys = [r.idempotency_key for r in api.receipts(endpoint.id)]
    hr_server.lose_first_answer_for = {keys[0]}
    api.send_due(now=clock.now)
    assert {r.status for r in api.receipts(endpoint.id, status="pending")} and hr_server.processed[keys[0]] == 1
    api.send_due(now=clock.advance(minutes=2))
    assert {r.status for r in api.receipts(endpoint.id)} == {ReceiptStatus.DELIVERED}
    assert [request["key"] for request in hr_server.requests].count(keys[0]) == 2
    assert hr_server.processed[keys[0]] == 1


def test_the_body_is_signed_with_hmac_sha256_and_carries_the_preset_record(world, hr_server, endpoint, clock):
    api.deliver_endpoint(endpoint.id, now=clock.now)
    request = next(r for r in hr_server.requests if world.number("alice").encode() in r["body"])
    assert request["signature"] == delivery.signature(SECRET, request["body"])
    assert request["signature"].startswith("sha256=") and int(request["timestamp"]) > 0
    body = json.loads(request["body"])
    assert body["type"] == "kafaat.record" and body["employer"] == "acme" and body["id"] == request["key"]
    assert body["data"]["Employee ID"] == "E-1001" and body["data"]["Status"] == "Active"


def test_a_learner_who_withdraws_consent_while_queued_is_never_sent(world, hr_server, endpoint, clock):
    from xblocks.certification import api as cert_api

    hr_server.down_until = clock.now + dt.timedelta(minutes=30)
    api.collect(endpoint.id, now=clock.now)
    api.send_due(now=clock.now)  # both fail: the endpoint is down
    cert_api.set_consent(world.enrollments["alice"], "acme", False)
    clock.advance(hours=1)
    for _ in range(3):
        api.send_due(now=clock.advance(minutes=15))
    by_number = {r.certificate_number: r for r in api.receipts(endpoint.id)}
    assert by_number[world.number("alice")].status == ReceiptStatus.WITHHELD
    assert by_number[world.number("erin")].status == ReceiptStatus.DELIVERED
    alice_key = by_number[world.number("alice")].idempotency_key
    assert hr_server.processed[alice_key] == 0
    # consent granted again: the next collection sends it
    cert_api.set_consent(world.enrollments["alice"], "acme", True)
    api.deliver_endpoint(endpoint.id, now=clock.advance(minutes=1))
    assert hr_server.processed[alice_key] == 1


def test_a_new_certificate_event_is_a_new_record_and_old_ones_are_not_resent(world, hr_server, endpoint, clock):
    from xblocks.certification import api as cert_api

    api.deliver_endpoint(endpoint.id, now=clock.now)
    assert len(hr_server.requests) == 2
    cert_api.set_certificate_status(world.certificates["alice"].id, "suspended", reason="fees", actor=None)
    run = api.deliver_endpoint(endpoint.id, now=clock.advance(minutes=5))
    assert run.queued == 1 and run.delivered == 1
    last = json.loads(hr_server.requests[-1]["body"])
    assert last["certificate"] == world.number("alice") and last["data"]["Status"] == "Suspended"


def test_resend_on_demand_reuses_the_idempotency_key(world, hr_server, endpoint, clock):
    api.deliver_endpoint(endpoint.id, now=clock.now)
    receipt = api.receipts(endpoint.id)[0]
    assert api.resend(receipt_ids=[receipt.id], now=clock.advance(minutes=1)) == 1
    api.send_due(now=clock.now)
    assert [r["key"] for r in hr_server.requests].count(receipt.idempotency_key) == 2
    assert hr_server.processed[receipt.idempotency_key] == 1


def test_records_failing_past_the_give_up_time_are_marked_failed_and_can_be_resent(
    world, hr_server, endpoint, clock, settings
):
    settings.KAFAAT = {**settings.KAFAAT, "DELIVERY_GIVE_UP_AFTER": 3600}
    hr_server.down_until = clock.now + dt.timedelta(hours=3)
    api.collect(endpoint.id, now=clock.now)
    for _ in range(20):
        api.send_due(now=clock.advance(minutes=10))
    failed = api.receipts(endpoint.id, status="failed")
    assert len(failed) == 2 and all("HTTP 503" in r.response_detail for r in failed)
    assert api.resend(endpoint_id=endpoint.id, now=clock.advance(hours=1)) == 2
    api.send_due(now=clock.now)
    assert {r.status for r in api.receipts(endpoint.id)} == {ReceiptStatus.DELIVERED}


def test_xapi_endpoints_get_one_statement_per_event(world, hr_server, loopback_allowed, clock):
    endpoint = api.create_endpoint(
        world.staff, name="LRS", url=hr_server.url, employer="acme", secret=SECRET, payload="xapi"
    )
    run = api.deliver_endpoint(endpoint.id, now=clock.now)
    assert run.delivered == 3  # alice, erin, dave: one "issued" event each
    statements = [json.loads(r["body"])["data"] for r in hr_server.requests]
    assert {s["verb"]["id"] for s in statements} == {"https://openbadgespec.org/xapi/verbs/earned"}


@pytest.mark.parametrize(
    "url", ["http://hr.example.com/in", "ftp://127.0.0.1/x", "http://10.0.0.5/in", "https://user:pw@hr.example.com/"]
)
def test_endpoints_must_be_https_unless_loopback_is_allowed(world, url, loopback_allowed):
    with pytest.raises(delivery.EndpointError):
        api.create_endpoint(world.coordinator_a, name="x", url=url, employer="acme")


def test_plain_http_to_loopback_is_refused_without_the_setting(world):
    with pytest.raises(delivery.EndpointError):
        api.create_endpoint(world.coordinator_a, name="x", url="http://127.0.0.1:9/in", employer="acme")


def test_a_coordinator_cannot_create_an_endpoint_for_another_schools_cohort(world, loopback_allowed):
    with pytest.raises(PermissionDenied):
        api.create_endpoint(
            world.coordinator_b,
            name="x",
            url="https://hr.example.com/in",
            employer="acme",
            cohort_ids=[world.cohort_a.id],
        )


def test_an_owner_who_loses_the_school_role_stops_all_sending(world, hr_server, endpoint, clock):
    from xblocks.certification import models

    api.collect(endpoint.id, now=clock.now)
    models.SchoolCoordinator.objects.filter(user=world.coordinator_a).delete()
    api.send_due(now=clock.now)
    assert hr_server.requests == []
    assert {r.status for r in api.receipts(endpoint.id)} == {ReceiptStatus.WITHHELD}


def test_file_drop_writes_one_file_per_record_inside_the_drop_root(world, tmp_path, settings, clock):
    settings.KAFAAT = {**settings.KAFAAT, "DELIVERY_FILE_DROP_ROOT": str(tmp_path)}
    endpoint = api.create_endpoint(world.coordinator_a, name="Drop", url="acme/in", employer="acme", kind="file-drop")
    run = api.deliver_endpoint(endpoint.id, now=clock.now)
    files = sorted((tmp_path / "acme" / "in").glob("*.json"))
    assert run.delivered == 2 and len(files) == 2
    assert {json.loads(f.read_text())["certificate"] for f in files} == {world.number("alice"), world.number("erin")}
    with pytest.raises(delivery.EndpointError):
        api.create_endpoint(world.coordinator_a, name="Escape", url="../../etc", employer="acme", kind="file-drop")


def test_issuing_a_certificate_queues_a_delivery_to_event_endpoints(
    world, hr_server, endpoint, add_certificate, django_user_model, django_capture_on_commit_callbacks
):
    from xblocks.certification import api as cert_api
    from xblocks.certification import models, signals

    user = django_user_model.objects.create_user("fatima", "f@example.com", "pw", first_name="Fatima")
    enrollment_id = cert_api.enroll(user, world.cohort_a.id, employee_id="E-1010")
    cert_api.set_consent(enrollment_id, "acme", True)
    cert = add_certificate(user, enrollment_id, number="KF-2026-00099")
    with django_capture_on_commit_callbacks(execute=True):
        signals.certificate_issued.send(sender=models.Certificate, certificate_id=cert.id, number=cert.number)
    numbers = {json.loads(r["body"])["certificate"] for r in hr_server.requests}
    assert "KF-2026-00099" in numbers


def test_credential_endpoints_get_the_signed_open_badges_credential(world, hr_server, loopback_allowed, clock):
    endpoint = api.create_endpoint(
        world.coordinator_a, name="Wallet", url=hr_server.url, employer="acme", secret=SECRET, payload="credential"
    )
    run = api.deliver_endpoint(endpoint.id, now=clock.now)
    assert run.delivered == 2
    credentials = [json.loads(r["body"])["data"] for r in hr_server.requests]
    assert all("OpenBadgeCredential" in c["type"] and "proof" in c for c in credentials)


def test_scheduled_endpoints_are_due_once_per_period(world, endpoint, clock, loopback_allowed):
    from xblocks.certification.exports.models import Endpoint

    Endpoint.objects.filter(pk=endpoint.id).update(schedule="hourly")
    assert endpoint.id in api.scheduled_endpoint_ids(now=clock.now)
    api.collect(endpoint.id, trigger="schedule", now=clock.now)
    assert endpoint.id not in api.scheduled_endpoint_ids(now=clock.advance(minutes=30))
    assert endpoint.id in api.scheduled_endpoint_ids(now=clock.advance(minutes=31))


def test_the_admin_form_refuses_plain_http_and_drop_folders_outside_the_root(world, tmp_path, settings):
    from django.core.exceptions import ValidationError

    from xblocks.certification.exports.models import Endpoint

    settings.KAFAAT = {**settings.KAFAAT, "DELIVERY_FILE_DROP_ROOT": str(tmp_path)}
    for kind, url in (("https", "http://hr.example.com/in"), ("file-drop", "../outside")):
        endpoint = Endpoint(name="x", kind=kind, url=url, employer="acme", owner=world.coordinator_a)
        with pytest.raises(ValidationError):
            endpoint.full_clean()
