"""The service proxy end to end: uvicorn serving the demo app, a web app inside a real sandbox behind it.

Every refusal (a closed lab, a wrong, expired or replayed token, another learner's token, no or a
forged cookie, a staff member writing) is a page in the visitor's language; the proxy reaches only the
declared port, strips hop-by-hop headers and its own cookie, and holds requests and responses to limits.
"""

from __future__ import annotations

import asyncio
import datetime
import hashlib
import http.client
import json
import pathlib
import socket
import statistics
import time
import uuid

import pytest
import websockets
from django.utils import timezone

from tests.labs.terminal.helpers import start_gateway, stop_gateway
from xblocks.labs.sandbox.base import SandboxSpec, User, get_backend
from xblocks.labs.terminal import api
from xblocks.labs.terminal.models import StaffAttach, TerminalToken

pytestmark = [pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

APP = (pathlib.Path(__file__).parent / "service_app.py").read_bytes()
LAB = """<kafaat_lab display_name="Services">
  <service id="portal" port="8080" label="Portal"/>
  <service id="down" port="8081" label="Nothing there"/>
  <service id="edit" kind="editor" root="/home/learner"/>
  <step id="a" title="A"><check id="c">true</check></step>
</kafaat_lab>"""
START = """cat > /tmp/service_app.py
nohup python3 /tmp/service_app.py 8080 >/tmp/app.log 2>&1 &
for i in $(seq 100); do (echo > /dev/tcp/127.0.0.1/8080) 2>/dev/null && exit 0; sleep 0.05; done; exit 1
"""


@pytest.fixture(scope="module")
def app_sandbox():
    backend = get_backend()
    handle = backend.create(SandboxSpec(label=f"kafaat-service-test-{uuid.uuid4().hex[:8]}"))
    try:
        result = backend.exec(handle, START, user=User.LEARNER, stdin=APP, timeout=30)
        assert result.ok, result.stderr
        yield handle
    finally:
        backend.destroy(handle)


@pytest.fixture(scope="module")
def proxy(django_db_setup, django_db_blocker):
    from django.db import connection

    with django_db_blocker.unblock():
        server = start_gateway(
            "uvicorn",
            str(connection.settings_dict["NAME"]),
            KAFAAT_SERVICE_TARGET_CACHE_SECONDS="0",
            KAFAAT_SERVICE_MAX_REQUEST_BYTES=str(1024 * 1024),
            KAFAAT_SERVICE_MAX_RESPONSE_BYTES=str(2 * 1024 * 1024),
            KAFAAT_SERVICE_RESPONSE_TIMEOUT="2",
        )
    yield server
    stop_gateway(server)


@pytest.fixture
def origin(proxy, monkeypatch):
    monkeypatch.setenv("KAFAAT_SERVICE_ORIGIN", f"http://{{id}}.svc.localhost:{proxy.port}")
    return lambda session, service="portal": f"{session.pk}-{service}.svc.localhost:{proxy.port}"


@pytest.fixture
def session_of(app_sandbox):
    from xblocks.labs.models import LabSession

    def make(user, *, state="ready", course_key="course-v1:Kafaat+T1+2026"):
        return LabSession.objects.create(
            user=user,
            course_key=course_key,
            usage_key=f"block-v1:Kafaat+T1+2026+type@kafaat_lab+block@{uuid.uuid4().hex[:8]}",
            live_key=uuid.uuid4().hex,
            definition=LAB,
            definition_hash=hashlib.sha256(LAB.encode()).hexdigest(),
            seed="1" * 64,
            state=state,
            handle=app_sandbox.as_json(),
            host=app_sandbox.host,
        )

    return make


class Client:
    """Plain HTTP to the proxy's port with the Host of a service origin, keeping cookies like a browser."""

    def __init__(self, port: int, host: str):
        self.port, self.host, self.cookies = port, host, {}

    def request(self, method, path, *, body=b"", headers=None):
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20)
        sent = {"Host": self.host, **(headers or {})}
        if method not in ("GET", "HEAD") and path != "/_kafaat/auth":
            sent.setdefault("Origin", f"http://{self.host}")  # as a browser sends on a write
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        try:
            connection.request(method, path, body=body, headers=sent)
            response = connection.getresponse()
            data = response.read()
        finally:
            connection.close()
        for value in response.headers.get_all("Set-Cookie") or []:
            name, _sep, rest = value.partition("=")
            self.cookies[name] = rest.split(";", 1)[0]
        return response, data

    def exchange(self, token, *, lang="", next_path="/"):
        form = f"token={token}&next={next_path}&lang={lang}".encode()
        return self.request(
            "POST", "/_kafaat/auth", body=form, headers={"Content-Type": "application/x-www-form-urlencoded"}
        )


def grant(user, session, service="portal", mode="rw", attached_by=None):
    return api.mint_service_token(
        user=user, session_id=session.pk, service_id=service, mode=mode, attached_by=attached_by
    )


def signed_in(proxy, origin, user, session, **kwargs):
    client = Client(proxy.port, origin(session, kwargs.get("service", "portal")))
    response, _ = client.exchange(grant(user, session, **kwargs)["token"])
    assert response.status == 303, response.status
    return client


def test_the_learner_opens_the_web_app_running_inside_the_lab(proxy, origin, make_user, session_of):
    alice = make_user("alice")
    session = session_of(alice)
    granted = grant(alice, session)
    assert granted["url"] == f"http://{origin(session)}/_kafaat/auth" and granted["expires_in"] <= 60
    client = Client(proxy.port, origin(session))
    response, _ = client.exchange(granted["token"], next_path="/?tab=1")
    assert response.status == 303 and response.headers["Location"] == "/?tab=1"
    cookie = response.headers["Set-Cookie"]
    for part in ("HttpOnly", "Secure", "SameSite=None", "Partitioned", "Path=/"):
        assert part in cookie
    assert "Domain" not in cookie  # host-only: no other origin receives it
    response, page = client.request("GET", "/")
    assert response.status == 200 and b"hello from inside the lab" in page
    assert "frame-ancestors" in response.headers["Content-Security-Policy"]
    # the app's attempt to overwrite the proxy's cookie is dropped; its own cookies pass
    assert [c.split("=")[0] for c in response.headers.get_all("Set-Cookie")] == ["app"]
    response, head = client.request("HEAD", "/")
    assert response.status == 200 and head == b""
    response, echoed = client.request("POST", "/echo", body=b"x" * 1000)
    assert echoed == b"got 1000"


def test_writes_from_another_origin_or_without_one_are_refused(proxy, origin, make_user, session_of):
    alice = make_user("alice")
    client = signed_in(proxy, origin, alice, session_of(alice))
    for headers in ({"Origin": "http://evil.example"}, {"Origin": "null"}, {"Origin": ""}):
        response, page = client.request("POST", "/echo", body=b"x", headers=headers)
        assert response.status == 400 and b'data-kind="bad-request"' in page
    assert client.request("POST", "/echo", body=b"x")[1] == b"got 1"  # from its own origin


def test_hop_by_hop_headers_and_the_proxy_cookie_never_reach_the_app(proxy, origin, make_user, session_of):
    alice = make_user("alice")
    session = session_of(alice)
    client = signed_in(proxy, origin, alice, session)
    client.cookies["theirs"] = "kept"
    response, body = client.request(
        "GET",
        "/headers",
        headers={"Connection": "keep-alive, X-Secret", "X-Secret": "1", "Proxy-Authorization": "Basic eA==", "TE": "x"},
    )
    received = dict(json.loads(body))
    assert "x-secret" not in received and "proxy-authorization" not in received and "te" not in received
    assert received["cookie"] == "theirs=kept"
    assert received["host"] == origin(session) and received["connection"] == "close"


@pytest.mark.parametrize("lang", ["en", "fr", "ar"])
def test_a_replayed_token_is_refused_with_a_page_in_the_learners_language(proxy, origin, make_user, session_of, lang):
    alice = make_user("alice")
    session = session_of(alice)
    token = grant(alice, session)["token"]
    assert Client(proxy.port, origin(session)).exchange(token)[0].status == 303
    response, page = Client(proxy.port, origin(session)).exchange(token, lang=lang)
    assert response.status == 403
    assert f'<html lang="{lang}" dir="{"rtl" if lang == "ar" else "ltr"}">'.encode() in page
    assert b'data-kind="token"' in page


def test_an_expired_a_wrong_and_another_sessions_token_are_refused(proxy, origin, make_user, session_of):
    alice, bob = make_user("alice"), make_user("bob")
    mine, theirs = session_of(alice), session_of(bob)
    old = grant(alice, mine)["token"]
    TerminalToken.objects.update(expires_at=timezone.now() - datetime.timedelta(seconds=1))
    client = Client(proxy.port, origin(mine))
    for token in (old, "not-a-token", "x" * 64, grant(bob, theirs)["token"]):
        response, page = client.exchange(token)
        assert response.status == 403 and b'data-kind="token"' in page
    assert "kafaat_service" not in client.cookies
    # a token for the terminal never opens a service, nor a service token the terminal
    terminal = api.mint_token(user=alice, session_id=mine.pk, mode="rw")["token"]
    assert client.exchange(terminal)[0].status == 403
    assert api.consume_token(grant(alice, mine)["token"], mine.pk) is None
    # a token for one service of the session does not open another
    other = Client(proxy.port, origin(mine, "down"))
    assert other.exchange(grant(alice, mine)["token"])[0].status == 403


def test_another_learner_cannot_mint_nor_reuse_a_cookie_across_origins(proxy, origin, make_user, session_of):
    alice, bob = make_user("alice"), make_user("bob")
    mine, theirs = session_of(alice), session_of(bob)
    with pytest.raises(api.TerminalDenied):
        grant(bob, mine)
    bobs = signed_in(proxy, origin, bob, theirs)
    stolen = Client(proxy.port, origin(mine))
    stolen.cookies = dict(bobs.cookies)  # bob's cookie presented on alice's origin
    response, page = stolen.request("GET", "/")
    assert response.status == 403 and b'data-kind="cookie"' in page
    forged = Client(proxy.port, origin(mine))
    forged.cookies = {"kafaat_service": bobs.cookies["kafaat_service"].replace(str(theirs.pk), str(mine.pk), 1)}
    assert forged.request("GET", "/")[0].status == 403
    assert Client(proxy.port, origin(mine)).request("GET", "/")[0].status == 403


def test_staff_view_read_only_and_are_recorded(proxy, origin, make_user, session_of):
    alice, staff = make_user("alice"), make_user("teacher", is_staff=True)
    session = session_of(alice)
    client = signed_in(proxy, origin, staff, session, mode="ro")
    assert StaffAttach.objects.filter(staff=staff, session_id=session.pk).exists()
    response, page = client.request("GET", "/")
    assert response.status == 200 and b"hello from inside" in page
    for method in ("POST", "PUT", "DELETE", "PATCH"):
        response, page = client.request(method, "/echo", body=b"x")
        assert response.status == 405 and b'data-kind="read-only"' in page


def test_a_closed_lab_and_a_port_where_nothing_listens_say_so(proxy, origin, make_user, session_of):
    alice = make_user("alice")
    session = session_of(alice)
    client = signed_in(proxy, origin, alice, session)
    down = signed_in(proxy, origin, alice, session, service="down")
    response, page = down.request("GET", "/", headers={"Accept-Language": "fr"})
    assert response.status == 502 and b'data-kind="unreachable"' in page and b'lang="fr"' in page
    type(session).objects.filter(pk=session.pk).update(state="ended")
    response, page = client.request("GET", "/", headers={"Accept-Language": "ar"})
    assert response.status == 410 and b'data-kind="closed"' in page and b'dir="rtl"' in page
    with pytest.raises(Exception):  # noqa: B017  no token for a lab that is not running
        grant(alice, session)


def test_sizes_and_times_are_bounded(proxy, origin, make_user, session_of):
    alice = make_user("alice")
    client = signed_in(proxy, origin, alice, session_of(alice))
    response, page = client.request("POST", "/echo", body=b"x" * (1024 * 1024 + 1))
    assert response.status == 413
    try:
        response, data = client.request("GET", f"/big?n={5 * 1024 * 1024}")
        assert len(data) <= 2 * 1024 * 1024 + 65536
    except http.client.IncompleteRead as cut:  # a cut response may surface as a short read
        assert len(cut.partial) <= 2 * 1024 * 1024 + 65536
    started = time.monotonic()
    response, page = client.request("GET", "/slow?s=5")
    assert response.status == 504 and time.monotonic() - started < 4.5


def test_only_a_declared_service_and_a_service_origin_reach_the_proxy(proxy, origin, make_user, session_of):
    alice = make_user("alice")
    session = session_of(alice)
    with pytest.raises(Exception):  # noqa: B017  the lab declares no service "admin"
        grant(alice, session, service="admin")
    # an undeclared service id in the host: no cookie can exist for it, and no token is minted
    assert Client(proxy.port, origin(session, "admin")).request("GET", "/")[0].status == 403
    # the LMS's own host is not the proxy (Django answers, with no service behind it)
    response, page = Client(proxy.port, f"127.0.0.1:{proxy.port}").request("GET", "/headers")
    assert b"hello" not in page and b"x-forwarded" not in page


def test_websockets_reach_the_app_from_its_own_origin_only(proxy, origin, make_user, session_of):
    alice, staff = make_user("alice"), make_user("teacher", is_staff=True)
    session = session_of(alice)
    learner = signed_in(proxy, origin, alice, session)
    watcher = signed_in(proxy, origin, staff, session, mode="ro")
    host = origin(session)

    async def talk(cookies, origin_header):
        async with websockets.connect(
            f"ws://{host}/ws",
            sock=socket.create_connection(("127.0.0.1", proxy.port)),
            additional_headers={"Cookie": f"kafaat_service={cookies['kafaat_service']}"},
            origin=origin_header,
        ) as ws:
            await ws.send("hi")
            return await asyncio.wait_for(ws.recv(), 3)

    assert asyncio.run(talk(learner.cookies, f"http://{host}")) == "echo:hi"
    with pytest.raises((websockets.InvalidStatus, websockets.ConnectionClosed)):
        asyncio.run(talk(learner.cookies, f"http://127.0.0.1:{proxy.port}"))  # another origin: refused
    with pytest.raises(TimeoutError):  # read-only: the message never reaches the app
        asyncio.run(talk(watcher.cookies, f"http://{host}"))


def test_first_byte_through_the_proxy_costs_about_a_millisecond_more(proxy, origin, make_user, session_of):
    alice = make_user("alice")
    client = signed_in(proxy, origin, alice, session_of(alice))
    through = []
    for _ in range(50):
        started = time.perf_counter()
        response, _ = client.request("GET", "/")
        through.append(time.perf_counter() - started)
        assert response.status == 200
    median = statistics.median(through) * 1000
    print(f"GET / through the proxy: median {median:.2f} ms")
    assert median < 200  # a bound for a loaded machine; benchmarks/services.py measures it properly


# -- the editor service --------------------------------------------------------------------------------

EDITOR_HEADERS = {"X-Kafaat-Editor": "1"}


def test_the_editor_lists_reads_and_writes_the_learners_files_under_its_root(
    proxy, origin, make_user, session_of, app_sandbox
):
    alice = make_user("alice")
    session = session_of(alice)
    client = signed_in(proxy, origin, alice, session, service="edit")
    response, page = client.request("GET", "/", headers={"Accept-Language": "ar"})
    assert response.status == 200 and b"data-editor=" in page and b'dir="rtl"' in page
    response, _ = client.request(
        "PUT", "/_kafaat/editor/file?path=notes.txt", body="héllo\n".encode(), headers=EDITOR_HEADERS
    )
    assert response.status == 200
    response, body = client.request("GET", "/_kafaat/editor/file?path=notes.txt", headers=EDITOR_HEADERS)
    assert response.status == 200 and body.decode() == "héllo\n"
    response, body = client.request("GET", "/_kafaat/editor/files", headers=EDITOR_HEADERS)
    assert {"path": "notes.txt", "dir": False, "size": 7} in json.loads(body)
    owner = get_backend().exec(app_sandbox, "stat -c %U /home/learner/notes.txt", user=User.ROOT)
    assert owner.stdout.strip() == "learner"  # written as the learner, never as root
    # without the editor's header (what a cross-site form could send) nothing is read or written
    response, _ = client.request("PUT", "/_kafaat/editor/file?path=x.txt", body=b"x")
    assert response.status == 403


def test_the_editor_never_leaves_its_root(proxy, origin, make_user, session_of, app_sandbox):
    alice = make_user("alice")
    session = session_of(alice)
    client = signed_in(proxy, origin, alice, session, service="edit")
    plant = "ln -sfn /etc /home/learner/etc-link; ln -sf /etc/hostname /home/learner/host-link"
    assert get_backend().exec(app_sandbox, plant, user=User.LEARNER).ok
    before = get_backend().exec(app_sandbox, "cat /etc/hostname", user=User.ROOT).stdout
    for path, status in [
        ("../etc/passwd", 400),
        ("/etc/passwd", 400),
        ("a/../../etc/passwd", 400),
        ("etc-link/passwd", 403),  # a link to a folder outside
        ("host-link", 403),  # a link to a file outside
        ("nothing-here.txt", 404),
    ]:
        response, body = client.request("GET", f"/_kafaat/editor/file?path={path}", headers=EDITOR_HEADERS)
        assert response.status == status, (path, body)
        assert b"root:" not in body
    response, body = client.request("PUT", "/_kafaat/editor/file?path=etc-link/evil", body=b"x", headers=EDITOR_HEADERS)
    assert response.status == 403 and json.loads(body)["error"] == "outside"
    # writing over a planted link replaces the link, never the file it points to
    response, _ = client.request("PUT", "/_kafaat/editor/file?path=host-link", body=b"mine\n", headers=EDITOR_HEADERS)
    assert response.status == 200
    assert get_backend().exec(app_sandbox, "cat /etc/hostname", user=User.ROOT).stdout == before
    assert get_backend().exec(app_sandbox, "test ! -L /home/learner/host-link", user=User.ROOT).ok


def test_the_editor_bounds_sizes_and_staff_only_read(proxy, origin, make_user, session_of, app_sandbox):
    alice, staff = make_user("alice"), make_user("teacher", is_staff=True)
    session = session_of(alice)
    big = "head -c 600000 /dev/zero | tr '\\0' a > /home/learner/big.txt"
    assert get_backend().exec(app_sandbox, big, user=User.LEARNER).ok
    client = signed_in(proxy, origin, alice, session, service="edit")
    response, body = client.request("GET", "/_kafaat/editor/file?path=big.txt", headers=EDITOR_HEADERS)
    assert response.status == 413 and json.loads(body)["error"] == "too-large"
    response, _ = client.request(
        "PUT", "/_kafaat/editor/file?path=huge.txt", body=b"a" * 600_000, headers=EDITOR_HEADERS
    )
    assert response.status == 413
    watcher = signed_in(proxy, origin, staff, session, service="edit", mode="ro")
    assert watcher.request("GET", "/_kafaat/editor/files", headers=EDITOR_HEADERS)[0].status == 200
    response, _ = watcher.request("PUT", "/_kafaat/editor/file?path=notes.txt", body=b"x", headers=EDITOR_HEADERS)
    assert response.status == 405
