"""Frozen values the credentials api hands out (views, CLI, the certification block and exports use these)."""

from __future__ import annotations

import datetime
from dataclasses import dataclass, field

# What a verifier is told about a credential; worst first in ``verification._SEVERITY``.
REVOKED, SUSPENDED, ACTIVE, EXPIRED, NOT_YET_VALID = "revoked", "suspended", "active", "expired", "not-yet-valid"


@dataclass(frozen=True)
class VerificationResult:
    """The outcome of checking one credential: every check in order, the status, and the first failure."""

    ok: bool
    checks: list[tuple[str, bool, str]]
    status: str | None  # active | suspended | revoked | expired | not-yet-valid; None when unknown
    reason: str = ""

    def as_json(self) -> dict:
        return {
            "ok": self.ok,
            "status": self.status,
            "reason": self.reason,
            "checks": [{"name": name, "ok": ok, "message": message} for name, ok, message in self.checks],
        }


@dataclass(frozen=True)
class CertificateVerification:
    """What the public page, the JSON API and bulk verification show for one certificate number."""

    number: str
    found: bool
    ok: bool = False
    status: str = ""
    reason: str = ""
    issuer_name: str = ""
    issuer_url: str = ""
    holder_name: str = ""
    holder_name_verified: bool = False
    track_title: str = ""
    track_slug: str = ""
    track_version: int = 0
    issued_at: datetime.datetime | None = None
    valid_from: datetime.date | None = None
    valid_until: datetime.date | None = None
    hours: float = 0.0
    hours_required: float = 0.0
    checks: tuple[tuple[str, bool, str], ...] = ()
    credential_id: str = ""
    verification_url: str = ""
    credential_url: str = ""
    jwt_url: str = ""
    pdf_url: str = ""
    linkedin_url: str = ""
    badge_image_url: str = ""  # the track version's artwork
    badge_svg_url: str = ""  # the badge with the credential baked in
    badge_png_url: str = ""
    certificate_id: int | None = None
    learner_email_hash_ok: bool | None = field(default=None, compare=False)

    def as_json(self) -> dict:
        if not self.found:
            return {"number": self.number, "found": False, "ok": False, "status": None, "reason": self.reason}
        return {
            "number": self.number,
            "found": True,
            "ok": self.ok,
            "status": self.status,
            "reason": self.reason,
            "issuer": {"name": self.issuer_name, "id": self.issuer_url},
            "holder": {"name": self.holder_name, "legal_name_verified": self.holder_name_verified},
            "track": {"slug": self.track_slug, "title": self.track_title, "version": self.track_version},
            "issued_at": self.issued_at.isoformat() if self.issued_at else None,
            "valid_from": self.valid_from.isoformat() if self.valid_from else None,
            "valid_until": self.valid_until.isoformat() if self.valid_until else None,
            "hours": self.hours,
            "hours_required": self.hours_required,
            "checks": [{"name": name, "ok": ok, "message": message} for name, ok, message in self.checks],
            "credential_id": self.credential_id,
            "links": {
                "verification": self.verification_url,
                "credential": self.credential_url,
                "jwt": self.jwt_url,
                "pdf": self.pdf_url,
                "badge_image": self.badge_image_url,
                "badge_svg": self.badge_svg_url,
                "badge_png": self.badge_png_url,
            },
        }


@dataclass(frozen=True)
class VerificationRecord:
    """One logged verification as the learner sees it: when, through which channel, by whom, what result."""

    at: datetime.datetime
    number: str
    channel: str
    verifier: str
    ok: bool
    status: str


@dataclass(frozen=True)
class EmployerTokenData:
    id: int
    name: str
    organisation: str
    prefix: str
    active: bool


@dataclass(frozen=True)
class PublicProfileData:
    """A learner's public profile setting: its link and whether it is switched on."""

    slug: str
    enabled: bool
    url: str
