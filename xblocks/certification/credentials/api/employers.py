"""Employers: their API tokens, rate limits, and bulk verification of a CSV of certificate numbers."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
import secrets

from django.core.cache import cache
from django.utils import timezone

from xblocks.certification.credentials import openbadges
from xblocks.certification.credentials.api.documents import credential_json
from xblocks.certification.credentials.api.signing import (
    _ip_hash,
    identity_salt,
)
from xblocks.certification.credentials.api.verification import (
    verify_certificate,
)
from xblocks.certification.credentials.conf import credentials_settings
from xblocks.certification.credentials.data import (
    EmployerTokenData,
)
from xblocks.certification.credentials.models import (
    EmployerToken,
)
from xblocks.core.cells import csv_cell

log = logging.getLogger(__name__)


def take(key: str, *, cost: int = 1, limit: int, window: int) -> bool:
    """Spend ``cost`` from the budget ``key`` holds in the current ``window`` (seconds); False when it is spent.

    One fixed-window counter in Django's cache (shared by every web worker when the cache is Redis or
    Memcached, as in production). A refused request spends nothing.
    """

    window = max(1, int(window))
    slot = f"kafaat-cred-rate:{key}:{int(timezone.now().timestamp()) // window}"
    cache.add(slot, 0, timeout=window * 2)
    try:
        count = cache.incr(slot, cost)
    except ValueError:  # evicted between add and incr
        cache.set(slot, cost, timeout=window * 2)
        count = cost
    if count > int(limit):
        cache.decr(slot, cost)
        return False
    return True


def rate_limited(ip: str) -> bool:
    """True when this visitor used up ``VERIFY_RATE_LIMIT`` public lookups in the current window."""
    return not take(
        f"ip:{_ip_hash(ip)}",
        limit=int(credentials_settings.VERIFY_RATE_LIMIT),
        window=int(credentials_settings.VERIFY_RATE_WINDOW),
    )


def bulk_rate_limited(caller: str, rows: int) -> bool:
    """True when ``rows`` more bulk verifications would exceed the caller's ``BULK_RATE_LIMIT`` rows per window."""
    return not take(
        f"bulk:{caller}",
        cost=max(1, int(rows)),
        limit=int(credentials_settings.BULK_RATE_LIMIT),
        window=int(credentials_settings.BULK_RATE_WINDOW),
    )


def create_employer_token(name: str, organisation: str, created_by=None) -> tuple[str, EmployerTokenData]:
    """A new bearer token for an employer's HR system; the plain token is returned once, never stored."""

    raw = "kfv_" + secrets.token_urlsafe(32)
    row = EmployerToken.objects.create(
        name=name,
        organisation=organisation,
        token_hash=hashlib.sha256(raw.encode()).hexdigest(),
        prefix=raw[:10],
        created_by=created_by if getattr(created_by, "is_authenticated", False) else None,
    )
    return raw, EmployerTokenData(row.id, row.name, row.organisation, row.prefix, row.active)


def authenticate_employer_token(raw: str):
    """The active EmployerToken for a bearer token, or None (constant-time lookup by hash)."""

    if not raw or not raw.startswith("kfv_"):
        return None
    row = EmployerToken.objects.filter(token_hash=hashlib.sha256(raw.encode()).hexdigest(), active=True).first()
    if row is not None:
        EmployerToken.objects.filter(pk=row.pk).update(last_used=timezone.now())
    return row


BULK_COLUMNS = [
    "number",
    "found",
    "valid",
    "status",
    "holder_name",
    "name_matches",
    "email_matches",
    "track",
    "track_version",
    "issuer",
    "valid_from",
    "valid_until",
    "hours",
    "verification_url",
    "reason",
]


_HEADER_WORDS = {"number", "certificate", "certificate_number", "certificate number", "numero", "numéro"}


def _casefold(text: str) -> str:
    return " ".join(str(text or "").split()).casefold()


def _email_matches(certificate_id: int, email: str) -> bool:
    return openbadges.recipient_matches(credential_json(certificate_id), email, identity_salt(certificate_id))


class BulkInputError(ValueError):
    """The uploaded CSV cannot be read (too many rows, not text)."""


class BulkRateLimited(RuntimeError):
    """The caller verified ``BULK_RATE_LIMIT`` rows in the current window already; nothing was verified."""


def bulk_verify(csv_text: str, *, ip: str = "", user=None, token=None, caller: str = "") -> str:
    """Verify a CSV of candidates (number[, name[, email]]) and return a CSV of results, one row each.

    Names compare case- and space-insensitively with the holder's display name; emails compare with the
    credential's salted hash (the recipient check of OB 3.0 verification, step 5).
    """
    rows = [row for row in csv.reader(io.StringIO(csv_text)) if row and any(cell.strip() for cell in row)]
    if rows and rows[0][0].strip().casefold() in _HEADER_WORDS:
        rows = rows[1:]
    if len(rows) > int(credentials_settings.BULK_MAX_ROWS):
        raise BulkInputError(f"at most {credentials_settings.BULK_MAX_ROWS} rows per file")
    # Each row is a lookup: one budget per employer token (or staff account), spent before any row is read.
    if caller and bulk_rate_limited(caller, len(rows)):
        raise BulkRateLimited(caller)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(BULK_COLUMNS)
    for row in rows:
        number = row[0].strip()[:64]
        name = row[1].strip() if len(row) > 1 else ""
        email = row[2].strip() if len(row) > 2 else ""
        result = verify_certificate(number, channel="bulk", ip=ip, user=user, token=token) if number else None
        if result is None or not result.found:
            writer.writerow(
                [
                    csv_cell(v)
                    for v in [number, "no", "no", "", "", "", "", "", "", "", "", "", "", "", "unknown certificate"]
                ]
            )
            continue
        name_match = "" if not name else ("yes" if _casefold(name) == _casefold(result.holder_name) else "no")
        email_match = "" if not email else ("yes" if _email_matches(result.certificate_id, email) else "no")
        writer.writerow(
            [
                csv_cell(v)
                for v in [
                    result.number,
                    "yes",
                    "yes" if result.ok else "no",
                    result.status,
                    result.holder_name,
                    name_match,
                    email_match,
                    result.track_title,
                    result.track_version,
                    result.issuer_name,
                    result.valid_from.isoformat() if result.valid_from else "",
                    result.valid_until.isoformat() if result.valid_until else "",
                    f"{result.hours:g}",
                    result.verification_url,
                    result.reason,
                ]
            ]
        )
    return out.getvalue()
