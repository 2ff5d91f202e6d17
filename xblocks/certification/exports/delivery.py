"""The transport of one record to an endpoint: URL policy, HMAC signature, HTTPS POST or file drop.

A POST carries ``X-Kafaat-Signature: sha256=<hex HMAC-SHA256 of the body>`` with the endpoint's
secret, ``X-Kafaat-Timestamp`` and an ``Idempotency-Key`` that is the same on every retry of the
record, so a receiver that saw a request whose answer was lost can drop the repeat. Only a 2xx
answer counts as delivered. Redirects are not followed (a redirect could take the signed body to
another host). Backoff doubles per attempt and is capped.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import ipaddress
import os
import pathlib
import tempfile
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests

from xblocks.certification.exports.conf import exports_settings
from xblocks.core.i18n import gettext as _

SIGNATURE_HEADER = "X-Kafaat-Signature"
TIMESTAMP_HEADER = "X-Kafaat-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
_LOOPBACK_NAMES = {"localhost"}
_DETAIL_LIMIT = 2000


class EndpointError(ValueError):
    """An endpoint definition that must not be used (wrong scheme, folder outside the drop root)."""


@dataclass(frozen=True)
class Outcome:
    delivered: bool
    status: int | None
    detail: str


def idempotency_key(endpoint_id: int, certificate_number: str, event_id: int | None) -> str:
    """Stable per endpoint, certificate and event: a retry or a re-collection reuses it."""
    return hashlib.sha256(f"{endpoint_id}:{certificate_number}:{event_id or 0}".encode()).hexdigest()


def signature(secret: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify_signature(secret: str, body: bytes, header: str) -> bool:
    """What a receiver does (and what the tests do): constant-time comparison of the header."""
    return hmac.compare_digest(signature(secret, body), header or "")


def backoff(attempts: int) -> dt.timedelta:
    """Wait after the ``attempts``-th failed attempt: base × 2^(attempts-1), capped."""
    base = float(exports_settings.DELIVERY_BACKOFF_BASE)
    cap = float(exports_settings.DELIVERY_BACKOFF_CAP)
    return dt.timedelta(seconds=min(cap, base * (2 ** max(0, min(attempts - 1, 30)))))


def _is_loopback(host: str) -> bool:
    if host in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(url: str) -> str:
    """The URL if it may receive records: https, or http to loopback when the setting allows it."""
    parts = urlsplit(url)
    if not parts.hostname:
        raise EndpointError(_("The endpoint URL has no host."))
    if parts.username or parts.password:
        raise EndpointError(_("Put the user name and password in the shared secret, not in the URL."))
    if parts.scheme == "https":
        return url
    if parts.scheme == "http" and exports_settings.DELIVERY_ALLOW_HTTP_LOOPBACK and _is_loopback(parts.hostname):
        return url
    raise EndpointError(_("Endpoints must use https."))


def drop_folder(relative: str) -> pathlib.Path:
    """The file-drop folder, which must lie inside ``DELIVERY_FILE_DROP_ROOT``."""
    root_setting = exports_settings.DELIVERY_FILE_DROP_ROOT
    if not root_setting:
        raise EndpointError(_("File drops are not enabled (DELIVERY_FILE_DROP_ROOT is empty)."))
    root = pathlib.Path(root_setting).resolve()
    folder = (root / relative.lstrip("/")).resolve()
    if folder != root and root not in folder.parents:
        raise EndpointError(_("The drop folder must be inside the file-drop root."))
    return folder


def post(
    url: str, secret: str, key: str, body: bytes, *, now: dt.datetime, session: requests.Session | None = None
) -> Outcome:
    """POST one record; never raises for network trouble, which is an undelivered outcome."""
    try:
        url = check_url(url)
    except EndpointError as error:
        return Outcome(False, None, str(error))
    headers = {
        "Content-Type": "application/json",
        SIGNATURE_HEADER: signature(secret, body),
        TIMESTAMP_HEADER: str(int(now.timestamp())),
        IDEMPOTENCY_HEADER: key,
        "User-Agent": "Kafaat-Exports/1",
    }
    sender = session or requests
    try:
        response = sender.post(
            url, data=body, headers=headers, timeout=float(exports_settings.DELIVERY_TIMEOUT), allow_redirects=False
        )
    except requests.RequestException as error:
        return Outcome(False, None, f"{type(error).__name__}: {error}"[:_DETAIL_LIMIT])
    detail = f"HTTP {response.status_code}: {response.text[:_DETAIL_LIMIT]}"
    return Outcome(200 <= response.status_code < 300, response.status_code, detail)


def drop_file(folder: str, name: str, body: bytes) -> Outcome:
    """Write one record as ``<name>.json`` atomically (temporary file, then rename)."""
    try:
        target = drop_folder(folder)
        target.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target, prefix=".incoming-", suffix=".json")
        with os.fdopen(fd, "wb") as handle:
            handle.write(body)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, target / f"{name}.json")
    except (OSError, EndpointError) as error:
        return Outcome(False, None, f"{type(error).__name__}: {error}"[:_DETAIL_LIMIT])
    return Outcome(True, None, str(target / f"{name}.json"))
