"""The service proxy: a learner's web app, notebook or any HTTP port of a lab machine, in a tab of the page.

An ASGI application on the lab host beside the terminal gateway. It answers only on the services'
own origins (``SERVICE_ORIGIN``, e.g. ``https://42-portal.labs.example-usercontent.org``: session 42,
service ``portal``), never on the LMS origin, so script a learner's app serves never runs with the
LMS's cookies. Per request:

1. The host names the session and the service; anything else is a 404 (no open proxy: the port
   comes from the lab's definition, never from the request).
2. ``POST /_kafaat/auth`` trades a single-use service token (minted by the lab block for the
   session's owner, or read-only for staff who may watch) for a signed, HttpOnly cookie of that
   origin alone, then redirects to the service's path. Every other request needs that cookie; the
   proxy checks the session is still running (cached for ``SERVICE_TARGET_CACHE_SECONDS``) and the
   holder's rights, and refuses with a page in the learner's language otherwise.
3. It opens a connection to the port inside the machine's network namespace (``backend.connect``:
   a socket made there by a thread, no host port, no process) and forwards the request with
   hop-by-hop headers and its own cookie stripped, with size and time limits; websockets too.
   A read-only (staff) cookie allows GET and HEAD only, and a read-only websocket's messages from
   the browser are dropped.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import html
import json
import logging
import re
import time
import urllib.parse
from dataclasses import dataclass

import h11
from channels.db import database_sync_to_async
from django.core import signing
from django.utils import translation

from xblocks.core.i18n import gettext as _
from xblocks.labs.sandbox.base import Capability, get_backend, supports
from xblocks.labs.terminal import api, editor
from xblocks.labs.terminal.conf import terminal_settings

log = logging.getLogger(__name__)

COOKIE = "kafaat_service"
_SALT = "kafaat.labs.service-cookie"
AUTH_PATH = api.AUTH_PATH
HOP_BY_HOP = {
    b"connection",
    b"keep-alive",
    b"proxy-authenticate",
    b"proxy-authorization",
    b"proxy-connection",
    b"te",
    b"trailer",
    b"transfer-encoding",
    b"upgrade",
}
READ_ONLY_METHODS = {"GET", "HEAD"}
_ID = r"(?P<session>[0-9]{1,18})-(?P<service>[a-z0-9](?:[a-z0-9-]{0,22}[a-z0-9])?)"
_pool = concurrent.futures.ThreadPoolExecutor(max_workers=8, thread_name_prefix="kafaat-service-connect")
_targets: dict[tuple, tuple[float, object]] = {}
_activity: dict[int, float] = {}


@dataclass(frozen=True)
class Claim:
    """What a service cookie grants: ``user`` (for ``viewer``) may use ``service`` of ``session`` in ``mode``."""

    session: int
    service: str
    mode: str
    user: int
    viewer: int

    @property
    def read_only(self) -> bool:
        return self.mode != "rw"


def host_pattern() -> re.Pattern | None:
    """A regex of the Host values of service origins (session and service captured); None when off."""
    template = str(terminal_settings.SERVICE_ORIGIN or "")
    if "{id}" not in template:
        return None
    parts = urllib.parse.urlsplit(
        template.replace("{id}", "kafaat-id-placeholder").replace("{host}", "kafaat-host-placeholder")
    )
    netloc = parts.netloc.lower()
    default = {"http": ":80", "https": ":443"}.get(parts.scheme, "")
    pattern = re.escape(netloc).replace("kafaat\\-id\\-placeholder", _ID)
    pattern = pattern.replace("kafaat\\-host\\-placeholder", "[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
    if default and netloc.endswith(default):
        pattern = pattern[: -len(re.escape(default))] + f"(?:{re.escape(default)})?"
    elif ":" not in netloc.rsplit("]", 1)[-1] and default:
        pattern += f"(?:{re.escape(default)})?"
    return re.compile(f"^{pattern}$", re.IGNORECASE)


def match_host(host: str) -> tuple[int, str] | None:
    pattern = host_pattern()
    found = pattern.match(host or "") if pattern else None
    return (int(found["session"]), found["service"].lower()) if found else None


def _header(scope, name: bytes) -> str:
    values = [value for key, value in scope.get("headers", []) if key.lower() == name]
    return values[0].decode("latin-1") if len(values) == 1 else ""


def _cookies(scope) -> list[tuple[str, str]]:
    found = []
    for key, value in scope.get("headers", []):
        if key.lower() != b"cookie":
            continue
        for part in value.decode("latin-1").split(";"):
            name, _sep, rest = part.strip().partition("=")
            if name:
                found.append((name, rest))
    return found


def _foreign_cookies(scope) -> bytes:
    """The request's cookies without the proxy's own: the learner's app never sees a visitor's grant."""
    return "; ".join(f"{name}={value}" for name, value in _cookies(scope) if name != COOKIE).encode("latin-1")


def cookie_value(claim: Claim) -> str:
    payload = {"s": claim.session, "v": claim.service, "m": claim.mode, "u": claim.user, "w": claim.viewer}
    return signing.dumps(payload, salt=_SALT, compress=False)


def read_cookie(scope, session: int, service: str) -> Claim | None:
    """The claim of the request's service cookie for this origin; None when missing, forged, old or for another."""
    values = [value for name, value in _cookies(scope) if name == COOKIE]
    for value in values:
        try:
            data = signing.loads(value, salt=_SALT, max_age=int(terminal_settings.SERVICE_COOKIE_AGE))
            claim = Claim(
                session=int(data["s"]),
                service=str(data["v"]),
                mode=str(data["m"]),
                user=int(data["u"]),
                viewer=int(data["w"]),
            )
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            continue
        if claim.session == session and claim.service == service:
            return claim
    return None


def _authorise(claim: Claim):
    """The claim's target if it still holds: the session runs, declares the service, and the holder may see it."""
    directory = api.sessions()
    owner_id, _usage_key, _course_key = directory.session_owner(claim.session)
    if claim.mode == "rw" and claim.user != owner_id:
        raise PermissionError("not the owner")
    if claim.read_only and claim.viewer != owner_id:
        from django.contrib.auth import get_user_model  # noqa: PLC0415  (a model import at call time)

        viewer = get_user_model().objects.filter(pk=claim.viewer).first()
        if viewer is None or not directory.can_watch(viewer, claim.session):
            raise PermissionError("may not watch")
    return directory.service_target(claim.session, claim.service)


async def authorise(claim: Claim):
    """``_authorise`` with a short cache, so a page of forty assets costs one look-up."""
    key = (claim.session, claim.service, claim.mode, claim.user, claim.viewer)
    now = time.monotonic()
    cached = _targets.get(key)
    if cached and cached[0] > now:
        return cached[1]
    try:
        target = await database_sync_to_async(_authorise)(claim)
    except Exception:  # fail closed: not running, gone, no right
        log.info("service %s of session %s refused for user %s", claim.service, claim.session, claim.viewer)
        target = None
    if len(_targets) > 10_000:
        _targets.clear()
    _targets[key] = (now + float(terminal_settings.SERVICE_TARGET_CACHE_SECONDS), target)
    return target


async def _note_activity(claim: Claim) -> None:
    """A learner using their app is active: feeds the idle timeout, at most once per interval."""
    if claim.read_only:
        return
    now = time.monotonic()
    if now - _activity.get(claim.session, 0.0) < float(terminal_settings.TERMINAL_ACTIVITY_INTERVAL):
        return
    _activity[claim.session] = now
    with contextlib.suppress(Exception):
        await database_sync_to_async(api.record_activity)(claim.session)


# -- pages --------------------------------------------------------------------------------------------


def language(scope, chosen: str = "") -> str:
    """The visitor's language: the one the lab page passed, else their browser's, else the site's."""
    from django.conf import settings  # noqa: PLC0415

    candidates = [chosen] if chosen else []
    header = _header(scope, b"accept-language")
    candidates += [code for code, _q in translation.trans_real.parse_accept_lang_header(header)] if header else []
    for code in candidates:
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return settings.LANGUAGE_CODE


def _messages() -> dict[str, tuple[int, str, str]]:
    return {
        "token": (
            403,
            _("This link has expired"),
            _("This link to the service has expired or was already used. Open the tab again from the lab page."),
        ),
        "cookie": (403, _("Open this service from the lab page"), _("Open this service from its tab on the lab page.")),
        "closed": (
            410,
            _("The lab is not running"),
            _("This lab is not running any more. Start it again from the lab page."),
        ),
        "read-only": (
            405,
            _("Read-only view"),
            _("You are viewing this learner's service read-only: only pages can be opened, nothing can be sent."),
        ),
        "unreachable": (
            502,
            _("Nothing answers yet"),
            _("Nothing answers on port %(port)s of machine %(machine)s yet. Start the service, then reload."),
        ),
        "too-large": (413, _("Request too large"), _("This request is larger than the lab allows.")),
        "timeout": (504, _("The service took too long"), _("The service did not answer in time. Try again.")),
        "bad-request": (400, _("Bad request"), _("The request could not be understood.")),
    }


def error_page(kind: str, lang: str, **values) -> tuple[int, bytes]:
    with translation.override(lang):
        status, title, text = _messages()[kind]
        text = text % values if values else text
        direction = "rtl" if translation.get_language_bidi() else "ltr"
        page = (
            f'<!doctype html><html lang="{html.escape(lang)}" dir="{direction}"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{html.escape(title)}</title><style>body{{font:16px/1.5 system-ui,sans-serif;margin:2rem;"
            f"color:#1f2328}}h1{{font-size:1.25rem}}</style></head><body><main>"
            f'<h1>{html.escape(title)}</h1><p class="kafaat-service-error" data-kind="{kind}">{html.escape(text)}</p>'
            "</main></body></html>"
        )
    return status, page.encode("utf-8")


async def _respond(send, status: int, body: bytes, headers=()) -> None:
    kind = (
        [(b"content-type", b"text/html; charset=utf-8")] if not any(k == b"content-type" for k, _v in headers) else []
    )
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                *kind,
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                *_frame_headers(),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _refuse(scope, send, kind: str, lang: str = "", **values) -> None:
    status, body = error_page(kind, language(scope, lang), **values)
    await _respond(send, status, body)


def _frame_headers() -> list[tuple[bytes, bytes]]:
    """Only the LMS's pages may frame a service (the tabs): ``frame-ancestors`` of the site's origins."""
    from xblocks.core import site  # noqa: PLC0415

    origins = " ".join(sorted(site.allowed_origins(terminal_settings.TERMINAL_ALLOWED_ORIGINS)))
    return [(b"content-security-policy", f"frame-ancestors 'self' {origins}".encode("latin-1"))]


def _set_cookie(claim: Claim, scope) -> bytes:
    """Host-only, HttpOnly; ``SameSite=None; Secure; Partitioned`` so the LMS page's iframe (another
    site) carries it, in a jar partitioned by that top-level site (CHIPS). Browsers accept Secure
    cookies from https origins and from ``*.localhost``."""
    age = int(terminal_settings.SERVICE_COOKIE_AGE)
    return (
        f"{COOKIE}={cookie_value(claim)}; Path=/; Max-Age={age}; HttpOnly; Secure; SameSite=None; Partitioned"
    ).encode("latin-1")


# -- HTTP -----------------------------------------------------------------------------------------------


async def _read_body(receive, limit: int) -> bytes | None:
    """The whole request body, or None when it exceeds ``limit``."""
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            return b"".join(chunks)
        body = message.get("body", b"")
        size += len(body)
        if size > limit:
            return None
        chunks.append(body)
        if not message.get("more_body"):
            return b"".join(chunks)


async def _exchange(scope, receive, send, session: int, service: str) -> None:
    """``POST /_kafaat/auth``: a single-use token for this origin's cookie, then on to the service."""
    if scope["method"] != "POST":
        await _refuse(scope, send, "bad-request")
        return
    body = await _read_body(receive, 8192)
    form = urllib.parse.parse_qs((body or b"").decode("latin-1"))
    lang = (form.get("lang") or [""])[0][:16]
    token = (form.get("token") or [""])[0]
    claim = None
    try:
        claim = await database_sync_to_async(api.consume_token)(token, session, service=service)
    except Exception:
        log.exception("service token check for session %s failed", session)
    if claim is None:
        log.warning("service %s of session %s: bad token", service, session)
        await _refuse(scope, send, "token", lang)
        return
    if claim.attach_id is not None:  # a staff view is recorded when it opens; it has no socket to end
        await database_sync_to_async(api.end_attach)(claim.attach_id)
    granted = Claim(session=session, service=service, mode=claim.mode, user=claim.user_id, viewer=claim.viewer_id)
    target = await authorise(granted)
    if target is None:
        await _refuse(scope, send, "closed", lang)
        return
    following = (form.get("next") or [""])[0]
    if not following.startswith("/") or following.startswith("//") or "\\" in following:
        following = target.path
    await send(
        {
            "type": "http.response.start",
            "status": 303,
            "headers": [
                (b"location", following.encode("latin-1", "replace")),
                (b"set-cookie", _set_cookie(granted, scope)),
                (b"cache-control", b"no-store"),
                (b"content-length", b"0"),
                (b"referrer-policy", b"no-referrer"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": b""})


def _upstream_headers(scope, host: str, body: bytes | None) -> list[tuple[bytes, bytes]]:
    named = {
        token.strip().lower().encode("latin-1")
        for key, value in scope.get("headers", [])
        if key.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    headers = []
    for key, value in scope.get("headers", []):
        name = key.lower()
        if (
            name in HOP_BY_HOP
            or name in named
            or name in (b"host", b"cookie", b"content-length")
            or name.startswith(b"x-forwarded-")
        ):
            continue
        headers.append((name, value))
    headers.insert(0, (b"host", host.encode("latin-1")))
    cookies = _foreign_cookies(scope)
    if cookies:
        headers.append((b"cookie", cookies))
    client = scope.get("client") or ("", 0)
    headers += [
        (b"x-forwarded-for", str(client[0]).encode("latin-1")),
        (b"x-forwarded-proto", b"https" if scope.get("scheme") in ("https", "wss") else b"http"),
        (b"x-forwarded-host", host.encode("latin-1")),
        (b"connection", b"close"),
    ]
    if body is not None and (body or scope["method"] not in ("GET", "HEAD")):
        headers.append((b"content-length", str(len(body)).encode()))
    return headers


def _response_headers(headers) -> list[tuple[bytes, bytes]]:
    named = {
        token.strip().lower().encode("latin-1")
        for key, value in headers
        if key.lower() == b"connection"
        for token in value.decode("latin-1").split(",")
    }
    kept = []
    for key, value in headers:
        name = key.lower()
        if name in HOP_BY_HOP or name in named:
            continue
        if name == b"set-cookie" and value.split(b"=", 1)[0].strip() == COOKIE.encode():
            continue  # the learner's app cannot overwrite a visitor's grant
        kept.append((name, value))
    return kept + _frame_headers()


async def upstream_socket(target):
    """A connected socket to the service's port inside its machine, made there by a pool thread."""
    backend = get_backend(target.handle.backend)
    if not supports(backend, Capability.CONNECT):
        raise ConnectionRefusedError(f"backend {backend.name} cannot connect to a port inside a machine")
    timeout = float(terminal_settings.SERVICE_CONNECT_TIMEOUT)
    loop = asyncio.get_running_loop()
    sock = await loop.run_in_executor(_pool, lambda: backend.connect(target.handle, target.port, timeout=timeout))
    sock.setblocking(False)
    return sock


async def connect_upstream(target) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    """A stream to the service's port inside its machine (a socket made in the machine's network)."""
    return await asyncio.open_connection(sock=await upstream_socket(target), limit=256 * 1024)


async def _forward(scope, receive, send, claim: Claim, target, host: str) -> None:
    limit = int(terminal_settings.SERVICE_MAX_REQUEST_BYTES)
    declared = _header(scope, b"content-length")
    if declared.isdigit() and int(declared) > limit:
        await _refuse(scope, send, "too-large")
        return
    body = await _read_body(receive, limit)
    if body is None:
        await _refuse(scope, send, "too-large")
        return
    try:
        reader, writer = await connect_upstream(target)
    except Exception:
        log.info("service %s of session %s: nothing answers on port %s", claim.service, claim.session, target.port)
        await _refuse(scope, send, "unreachable", port=target.port, machine=target.machine)
        return
    started = False
    try:
        connection = h11.Connection(our_role=h11.CLIENT, max_incomplete_event_size=64 * 1024)
        path = scope.get("raw_path") or urllib.parse.quote(scope["path"]).encode("latin-1")
        if scope.get("query_string"):
            path += b"?" + scope["query_string"]
        out = connection.send(
            h11.Request(method=scope["method"], target=path, headers=_upstream_headers(scope, host, body))
        )
        out += connection.send(h11.Data(data=body)) if body else b""
        out += connection.send(h11.EndOfMessage())
        writer.write(out)
        await writer.drain()
        response_timeout = float(terminal_settings.SERVICE_RESPONSE_TIMEOUT)
        idle = float(terminal_settings.SERVICE_IDLE_TIMEOUT)
        cap = int(terminal_settings.SERVICE_MAX_RESPONSE_BYTES)
        sent = 0
        while True:
            event = connection.next_event()
            if event is h11.NEED_DATA:
                chunk = await asyncio.wait_for(reader.read(65536), response_timeout if not started else idle)
                connection.receive_data(chunk)
                continue
            if isinstance(event, h11.InformationalResponse):
                continue
            if isinstance(event, h11.Response):
                await send(
                    {
                        "type": "http.response.start",
                        "status": event.status_code,
                        "headers": _response_headers(event.headers),
                    }
                )
                started = True
            elif isinstance(event, h11.Data):
                sent += len(event.data)
                if sent > cap:
                    # cut: end without completing the response, so the server drops the connection
                    log.warning("service %s of session %s: response cut at %s bytes", claim.service, claim.session, cap)
                    return
                await send({"type": "http.response.body", "body": bytes(event.data), "more_body": True})
            elif isinstance(event, h11.EndOfMessage | h11.ConnectionClosed):
                break
        await send({"type": "http.response.body", "body": b""})
    except (TimeoutError, h11.RemoteProtocolError, ConnectionError) as error:
        log.info("service %s of session %s: %s", claim.service, claim.session, error)
        if not started:
            await _refuse(
                scope,
                send,
                "timeout" if isinstance(error, TimeoutError) else "unreachable",
                port=target.port,
                machine=target.machine,
            )
        else:
            await send({"type": "http.response.body", "body": b""})
    finally:
        writer.close()
        with contextlib.suppress(Exception):
            await writer.wait_closed()


async def _json(send, status: int, value) -> None:
    body = json.dumps(value).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"cache-control", b"no-store"),
                (b"x-content-type-options", b"nosniff"),
                *_frame_headers(),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})


async def _editor(scope, receive, send, claim: Claim, target) -> None:
    """The editor's page and its file API (``/_kafaat/editor/files``, ``.../file?path=``), run on the lab host."""
    loop = asyncio.get_running_loop()
    path = scope["path"]
    if not path.startswith(editor.API):
        if scope["method"] not in READ_ONLY_METHODS:
            await _refuse(scope, send, "bad-request")
            return
        await _respond(send, 200, editor.page(language(scope), claim.read_only))
        return
    # A custom header: a cross-site page cannot send it without a CORS preflight, which is never answered.
    if _header(scope, b"x-kafaat-editor") != "1":
        await _json(send, 403, {"error": "bad-path"})
        return
    query = dict(urllib.parse.parse_qsl(scope.get("query_string", b"").decode("latin-1")))
    action = path[len(editor.API) :]
    try:
        if action == "files" and scope["method"] == "GET":
            await _json(send, 200, await loop.run_in_executor(_pool, editor.list_files, target))
        elif action == "file" and scope["method"] == "GET":
            text = await loop.run_in_executor(_pool, editor.read_file, target, query.get("path", ""))
            body = text.encode("utf-8", "surrogateescape")
            await _respond(send, 200, body, [(b"content-type", b"text/plain; charset=utf-8")])
        elif action == "file" and scope["method"] == "PUT":
            body = await _read_body(receive, editor.EDITOR_MAX_FILE_BYTES)
            if body is None:
                raise editor.EditorError("too-large", 413)
            await loop.run_in_executor(_pool, editor.write_file, target, query.get("path", ""), body)
            await _json(send, 200, {"saved": True})
        else:
            await _json(send, 404, {"error": "not-found"})
    except editor.EditorError as error:
        await _json(send, error.status, {"error": error.code})
    except Exception:
        log.warning("editor of session %s failed", claim.session, exc_info=True)
        await _json(send, 502, {"error": "failed"})


def _own_origin(scope, host: str) -> str:
    secure = scope.get("scheme") in ("https", "wss") or str(terminal_settings.SERVICE_ORIGIN).startswith("https://")
    return f"{'https' if secure else 'http'}://{host}".lower()


def _same_origin(scope, host: str) -> bool:
    """Whether the request's ``Origin`` is the service's own (browsers send it on every POST, PUT, DELETE)."""
    return _header(scope, b"origin").rstrip("/").lower() == _own_origin(scope, host)


async def http(scope, receive, send, session: int, service: str, host: str) -> None:
    if scope["path"] == AUTH_PATH:
        await _exchange(scope, receive, send, session, service)
        return
    claim = read_cookie(scope, session, service)
    if claim is None:
        await _refuse(scope, send, "cookie")
        return
    if claim.read_only and scope["method"] not in READ_ONLY_METHODS:
        await _refuse(scope, send, "read-only")
        return
    if scope["method"] not in READ_ONLY_METHODS and not _same_origin(scope, host):
        # The cookie is SameSite=None (it must ride in the LMS page's frame), so another site could
        # make a learner's browser send it with a form: writes must come from the service's own pages.
        await _refuse(scope, send, "bad-request")
        return
    target = await authorise(claim)
    if target is None:
        await _refuse(scope, send, "closed")
        return
    await _note_activity(claim)
    if target.kind == "editor":  # no port: the proxy itself serves the editor on the machine's files
        await _editor(scope, receive, send, claim, target)
        return
    await _forward(scope, receive, send, claim, target, host)


# -- websockets -------------------------------------------------------------------------------------------


async def websocket(scope, receive, send, session: int, service: str, host: str) -> None:
    import websockets  # noqa: PLC0415  (only websocket scopes need it)
    from websockets.asyncio.client import connect  # noqa: PLC0415

    message = await receive()
    if message["type"] != "websocket.connect":
        return
    origin = _own_origin(scope, host)  # behind a TLS proxy the server may see plain ws
    claim = read_cookie(scope, session, service)
    # A cookie of SameSite=None rides on a cross-site websocket upgrade: only the service's own pages may open one.
    if _header(scope, b"origin").rstrip("/").lower() != origin.lower() or claim is None:
        await send({"type": "websocket.close", "code": 4008})
        return
    target = await authorise(claim)
    if target is None or target.port is None:
        await send({"type": "websocket.close", "code": 4008})
        return
    await _note_activity(claim)
    path = (scope.get("raw_path") or scope["path"].encode("latin-1")).decode("latin-1")
    if scope.get("query_string"):
        path += "?" + scope["query_string"].decode("latin-1")
    headers = [(b"x-forwarded-proto", b"https" if scope.get("scheme") == "wss" else b"http")]
    cookies = _foreign_cookies(scope)
    if cookies:
        headers.append((b"cookie", cookies))
    cap = int(terminal_settings.SERVICE_MAX_WEBSOCKET_MESSAGE)
    try:
        sock = await upstream_socket(target)
        upstream = await connect(
            f"ws://{host}{path}",
            sock=sock,
            origin=origin,
            subprotocols=scope.get("subprotocols") or None,
            additional_headers=[(k.decode("latin-1"), v.decode("latin-1")) for k, v in headers],
            compression=None,
            max_size=cap,
            open_timeout=float(terminal_settings.SERVICE_RESPONSE_TIMEOUT),
            ping_interval=None,
        )
    except Exception:
        log.info("service %s of session %s: no websocket on port %s", service, session, target.port, exc_info=True)
        await send({"type": "websocket.close", "code": 1011})
        return
    await send({"type": "websocket.accept", "subprotocol": upstream.subprotocol})

    async def from_browser():
        while True:
            message = await receive()
            if message["type"] == "websocket.disconnect":
                return
            if claim.read_only:
                continue  # a read-only view sends nothing to the learner's service
            data = message.get("bytes")
            if data is None:
                data = message.get("text")
            if data is not None:
                if len(data) > cap:
                    return
                await upstream.send(data)

    async def to_browser():
        with contextlib.suppress(websockets.ConnectionClosed):
            async for data in upstream:
                if isinstance(data, bytes):
                    await send({"type": "websocket.send", "bytes": data})
                else:
                    await send({"type": "websocket.send", "text": data})

    tasks = [asyncio.ensure_future(from_browser()), asyncio.ensure_future(to_browser())]
    try:
        await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        with contextlib.suppress(Exception):
            await upstream.close()
        with contextlib.suppress(Exception):
            await send({"type": "websocket.close", "code": 1000})


# -- routing ----------------------------------------------------------------------------------------------


def is_service_request(scope) -> bool:
    return scope["type"] in ("http", "websocket") and match_host(_header(scope, b"host")) is not None


async def application(scope, receive, send) -> None:
    """ASGI application for requests whose Host is a service origin (see ``routed``)."""
    host = _header(scope, b"host")
    found = match_host(host)
    if scope["type"] == "websocket":
        if found is None:
            await receive()
            await send({"type": "websocket.close", "code": 4008})
            return
        await websocket(scope, receive, send, *found, host)
        return
    if scope["type"] != "http":
        return
    if found is None:
        await _respond(send, 404, b"not a service origin\n")
        return
    await http(scope, receive, send, *found, host)


def routed(other):
    """An ASGI application that sends service-origin requests to the proxy and the rest to ``other``."""

    async def app(scope, receive, send):
        if scope["type"] in ("http", "websocket") and is_service_request(scope):
            await application(scope, receive, send)
        else:
            await other(scope, receive, send)

    return app
