"""The Kafaat export record: one flat, HR-neutral row per certificate that every preset maps from.

The columns are the reference's minimum set (``docs/exports.md``); presets pick, rename and
reformat them for SAP SuccessFactors, Cornerstone and Workday. Hours are ``Decimal`` so that the
IACET CEU arithmetic (1 CEU = 10 contact hours, half up to a tenth, at least 0.1) is exact.
"""

from __future__ import annotations

import datetime as dt
import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any
from urllib.parse import quote

from xblocks.certification.credentials import api as credentials_api
from xblocks.certification.exports.conf import exports_settings

# Every field a preset may map from, in the Kafaat preset's order.
FIELDS: tuple[str, ...] = (
    "employee_external_id",
    "email",
    "full_name",
    "credential_id",
    "credential_title",
    "track_code",
    "track_version",
    "issuer_org",
    "school_org",
    "school_code",
    "cohort_code",
    "cohort_name",
    "status",
    "start_date",
    "completion_date",
    "valid_from",
    "issue_date",
    "expiry_date",
    "grade",
    "total_hours",
    "credit_hours",
    "ceu",
    "ethics_hours",
    "instructor",
    "verification_url",
    "timezone",
    "last_modified",
    "source_system",
)

# Certificate status -> the Kafaat record's status vocabulary.
STATUS_LABELS = {"active": "Active", "expired": "Expired", "suspended": "Suspended", "revoked": "Revoked"}
# Certificate status -> the grade an HR learning history records; suspended and revoked are not passes.
GRADES = {"active": "Pass", "expired": "Pass", "suspended": "Suspended", "revoked": "Revoked"}
_TENTH = Decimal("0.1")
_URL_SAFE = re.compile(r"[A-Za-z0-9._~-]+\Z").match  # what quote() leaves as is


def ceu(minutes: int | Decimal) -> Decimal:
    """IACET continuing-education units for a number of contact minutes (0 minutes gives 0)."""
    minutes = Decimal(minutes)
    if minutes <= 0:
        return Decimal("0.0")
    return max(_TENTH, (minutes / Decimal(600)).quantize(_TENTH, rounding=ROUND_HALF_UP))


def _hours(value: float | int | None) -> Decimal:
    # float hours from the ledger carry binary noise: round to the minute they were entered in
    return (Decimal(str(value or 0))).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


class RecordBuilder:
    """Builds records; holds settings read once per export (not per row) for speed."""

    def __init__(self) -> None:
        self.issuer_org = exports_settings.EXPORT_ISSUER_ORG
        self.source_system = exports_settings.EXPORT_SOURCE_SYSTEM
        self.timezone = exports_settings.EXPORT_TIMEZONE

        # the credentials app owns public URLs (the same link as the PDF's QR code); the base URL is
        # read once here rather than per row
        sample = credentials_api.verification_url("\x00")
        self._verify_prefix, _, self._verify_suffix = sample.partition("%00")
        self._hours_seen: dict[float, tuple[Decimal, Decimal]] = {}

    def verification_url(self, number: str) -> str:
        if not _URL_SAFE(number):
            number = quote(number, safe="")
        return f"{self._verify_prefix}{number}{self._verify_suffix}"

    def _hours_and_ceu(self, hours: float) -> tuple[Decimal, Decimal]:
        # Decimal rounding is the costly part of a row and totals repeat across a cohort: memoise
        found = self._hours_seen.get(hours)
        if found is None:
            if len(self._hours_seen) > 4096:
                self._hours_seen.clear()
            total = _hours(hours)
            found = self._hours_seen[hours] = (total, ceu(total * 60))
        return found

    def build(self, cert: Any, last_modified: dt.datetime | None = None) -> dict[str, Any]:
        """The flat record of a ``CertificateData``."""
        learner, track, school = cert.learner, cert.track, cert.school
        issued = cert.issued_at
        # the training's start: the enrolment, never after the completion (older data may lack it)
        started = getattr(cert, "started_at", None) or issued
        if isinstance(started, dt.datetime) and isinstance(issued, dt.datetime) and started > issued:
            started = issued
        total, units = self._hours_and_ceu(cert.hours_total)
        return {
            "employee_external_id": cert.employee_id or "",
            "email": learner.email,
            "full_name": learner.legal_name or learner.full_name or learner.username,
            "credential_id": cert.number,
            "credential_title": track.title,
            "track_code": track.slug,
            "track_version": track.version,
            "issuer_org": self.issuer_org,
            "school_org": school.name,
            "school_code": school.slug,
            "cohort_code": cert.cohort_slug,
            "cohort_name": cert.cohort_name,
            "status": STATUS_LABELS.get(cert.status, cert.status.title()),
            "start_date": started,
            "completion_date": issued,
            "valid_from": cert.valid_from,
            "issue_date": issued.date() if isinstance(issued, dt.datetime) else issued,
            "expiry_date": cert.valid_until,
            # only a certificate that still stands is a pass (an expired one was passed, then lapsed)
            "grade": GRADES.get(cert.status, ""),
            "total_hours": total,
            "credit_hours": total,
            "ceu": units,
            "ethics_hours": _hours((cert.hours_by_category or {}).get("ethics")),
            "instructor": "",
            "verification_url": self.verification_url(cert.number),
            "timezone": self.timezone,
            # the latest change (issue, status change, expiry): what an HR delta import compares
            "last_modified": last_modified or getattr(cert, "last_modified", None) or issued,
            "source_system": self.source_system,
        }
