"""xAPI statements for certification events: one statement per ``CertificateEvent``, deterministic ids.

The actor is an account (``homePage`` = the LMS, ``name`` = the employee id the enrolment carries, or
else a salted SHA-256 of the user id, so no email leaves the platform). Issuing and renewing use the
Open Badges xAPI verb ``earned`` with the credential's URL in a result extension; revocation, suspension,
reinstatement and expiry have no standard verb, so they use Kafaat-owned IRIs (reference §2), one
per kind. Every statement carries the certificate's status after the event in a result extension, so
an LRS sees what the change did without knowing the verbs.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from collections.abc import Iterable, Iterator
from typing import Any

from django.conf import settings

from xblocks.certification.credentials import api as credentials_api
from xblocks.certification.exports.conf import exports_settings

EARNED = "https://openbadgespec.org/xapi/verbs/earned"
# Verb IRIs for event kinds with a standard verb; any other kind gets ``XAPI_VERB_BASE + kind``.
STANDARD_VERBS = {"issued": EARNED, "renewed": EARNED, "reissued": EARNED}
VERB_NAMES = {
    "issued": "earned",
    "renewed": "earned",
    "reissued": "earned",
    "suspended": "suspended",
    "reinstated": "reinstated",
    "revoked": "revoked",
    "expired": "expired",
}
# A fixed namespace so that the same event always gets the same statement id (uuid5).
STATEMENT_NAMESPACE = uuid.UUID("0b8e6f4c-5a55-4f0e-9f7e-6b61666161c0")
CREDENTIAL_EXTENSION = "https://w3id.org/kafaat/xapi/extensions/credential"
CERTIFICATE_EXTENSION = "https://w3id.org/kafaat/xapi/extensions/certificate-number"
STATUS_EXTENSION = "https://w3id.org/kafaat/xapi/extensions/status"
# Status changes recorded before each had its own kind were all "status_changed"; the status they set
# tells which change it was.
_LEGACY_KINDS = {"status_changed": {"suspended": "suspended", "revoked": "revoked", "active": "reinstated"}}
CATEGORY_ACTIVITY = "https://openbadgespec.org/xapi/recipes/base/0_0_2"


def event_kind(event: Any) -> str:
    """The kind of a certificate event, older generic status changes named after the status they set."""
    legacy = _LEGACY_KINDS.get(event.kind)
    return legacy.get(event.status, event.kind) if legacy else event.kind


def verb_iri(kind: str) -> str:
    return STANDARD_VERBS.get(kind) or exports_settings.XAPI_VERB_BASE.rstrip("/") + "/" + kind


def statement_id(certificate_number: str, event_id: int) -> str:
    """The statement id of one event: stable across exports and deliveries, so an LRS de-duplicates."""
    return str(uuid.uuid5(STATEMENT_NAMESPACE, f"{certificate_number}:{event_id}"))


class StatementBuilder:
    """Builds statements; reads settings once per export."""

    def __init__(self) -> None:

        self.links = credentials_api
        self.home_page = credentials_api.base_url()
        self.salt = exports_settings.XAPI_ACTOR_SALT or _default_salt()

    def actor(self, cert: Any) -> dict[str, Any]:
        if cert.employee_id:
            name = cert.employee_id
        else:
            name = hashlib.sha256(f"{self.salt}:{cert.learner.user_id}".encode()).hexdigest()
        return {"objectType": "Agent", "account": {"homePage": self.home_page, "name": name}}

    def statement(self, cert: Any, event: Any) -> dict[str, Any]:
        kind = event_kind(event)
        activity_id = self.links.achievement_url(cert.track.slug, cert.track.version)
        statement: dict[str, Any] = {
            "id": statement_id(cert.number, event.id),
            "actor": self.actor(cert),
            "verb": {"id": verb_iri(kind), "display": {"en-US": VERB_NAMES.get(kind, kind)}},
            "object": {
                "objectType": "Activity",
                "id": activity_id,
                "definition": {
                    "type": "http://adlnet.gov/expapi/activities/course",
                    "name": {"en-US": cert.track.title},
                },
            },
            "result": {
                "completion": kind in STANDARD_VERBS,
                "extensions": {CERTIFICATE_EXTENSION: cert.number, STATUS_EXTENSION: event.status},
            },
            "context": {
                "platform": exports_settings.EXPORT_SOURCE_SYSTEM,
                "contextActivities": {"category": [{"id": CATEGORY_ACTIVITY, "objectType": "Activity"}]},
                "extensions": {"https://w3id.org/kafaat/xapi/extensions/school": cert.school.slug},
            },
            "timestamp": _iso(event.at),
        }
        if kind in STANDARD_VERBS:
            statement["result"]["success"] = True
            statement["result"]["extensions"][CREDENTIAL_EXTENSION] = self.links.credential_url(cert.number)
            if cert.hours_total:
                statement["result"]["duration"] = _duration(cert.hours_total)
        return statement

    def statements(self, cert: Any, events: Iterable[Any]) -> Iterator[dict[str, Any]]:
        for event in events:
            yield self.statement(cert, event)


def _iso(value: dt.datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC)
    return value.replace(tzinfo=None).isoformat(timespec="milliseconds") + "Z"


def _duration(hours: float) -> str:
    minutes = int(round(hours * 60))
    return f"PT{minutes // 60}H{minutes % 60}M"


def _default_salt() -> str:

    # a per-installation secret keeps the hashed actor names from being reversed by brute force
    return hashlib.sha256(f"kafaat-xapi:{settings.SECRET_KEY}".encode()).hexdigest()
