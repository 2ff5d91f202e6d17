"""Maps a certificate (``CertificateData``) to an unsigned Open Badges 3.0 ``OpenBadgeCredential``.

Pure: URLs, status entries, endorsements and the salt come in as arguments; the mapping follows
``docs/credentials.md`` (track version -> Achievement, hours -> credits, certificate number ->
licenseNumber, learner -> e-mail hashed with a random salt the issuer keeps).
"""

from __future__ import annotations

import datetime as dt
import hashlib
from dataclasses import dataclass
from typing import Any

from xblocks.certification.credentials import loader

ACHIEVEMENT_SCHEMA = "https://purl.imsglobal.org/spec/ob/v3p0/schema/json/ob_v3p0_achievementcredential_schema.json"
# The VC 2.0 Recommendation context has no @vocab and does not define 1EdTech's validator type
# "1EdTechJsonSchemaValidator2019": strict canonicalisation refuses it. VC 2.0's own "JsonSchema" type
# names the same 1EdTech JSON Schema (see docs/decisions/0008).
SCHEMA_TYPE = "JsonSchema"
CREDENTIAL_TYPES = ["VerifiableCredential", "OpenBadgeCredential"]


@dataclass(frozen=True)
class CredentialLinks:
    credential_id: str  # urn:uuid:...
    issuer_url: str  # issuer profile and controller document
    issuer_name: str  # the school's name (the platform's for certificates without a school)
    achievement_url: str  # one URL per track version
    verification_url: str  # the public page (criteria and evidence point there)
    subject_id: str  # pseudonymous urn for the learner (JWT ``sub``)
    image_url: str = ""  # the track version's badge artwork (``achievement.image``)


def xsd_datetime(value: dt.datetime | dt.date, *, end_of_day: bool = False) -> str:
    if not isinstance(value, dt.datetime):
        value = dt.datetime.combine(value, dt.time(23, 59, 59) if end_of_day else dt.time(0, 0, 0))
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.UTC)
    return value.astimezone(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def identity_hash(value: str, salt: str) -> str:
    """OB 3.0 ``identityHash``: ``sha256$`` + hex SHA-256 of the value with the salt appended."""
    return "sha256$" + hashlib.sha256((value + salt).encode("utf-8")).hexdigest()


def email_identifier(email: str, salt: str, *, publish_salt: bool = False) -> dict[str, Any]:
    """The learner's hashed e-mail; the salt is written out only when ``publish_salt``.

    A salt printed next to its hash lets anyone holding the credential confirm a guessed address
    with one SHA-256. OB 3.0 makes ``salt`` optional; kept by the issuer instead, the hash of a
    random 128-bit salt proves the recipient to whoever the issuer (or the holder) gives it to, and
    to nobody else (docs/decisions/0019).
    """
    # Emails are compared case-insensitively by every mail system; normalise before hashing so a
    # verifier holding "Jane@Example.org" gets the same hash.
    identity = {
        "type": "IdentityObject",
        "identityHash": identity_hash(email.strip().lower(), salt),
        "identityType": "emailAddress",
        "hashed": True,
    }
    if publish_salt:
        identity["salt"] = salt
    return identity


def recipient_matches(credential: dict[str, Any], email: str, salt: str = "") -> bool:
    """OB 3.0 verification step 5 for an email: walk ``identifier[]``, hash with each salt, compare.

    ``salt`` is the one the issuer kept (or the holder disclosed) for a credential whose document
    does not carry it; a salt in the document wins, as the spec says.
    """
    import hmac  # pylint: disable=import-outside-toplevel

    known = email.strip().lower()
    identifiers = (credential.get("credentialSubject") or {}).get("identifier") or []
    for identity in identifiers if isinstance(identifiers, list) else [identifiers]:
        if not isinstance(identity, dict) or identity.get("identityType") != "emailAddress":
            continue
        used = str(identity["salt"]) if "salt" in identity else str(salt or "")
        expected = identity_hash(known, used) if identity.get("hashed") else known
        if hmac.compare_digest(str(identity.get("identityHash", "")).encode(), expected.encode()):
            return True
    return False


def salt_withheld(credential: dict[str, Any]) -> bool:
    """Whether the credential hashes an e-mail without printing the salt (the issuer or holder has it)."""
    identifiers = (credential.get("credentialSubject") or {}).get("identifier") or []
    return any(
        isinstance(identity, dict) and identity.get("hashed") and "salt" not in identity
        for identity in (identifiers if isinstance(identifiers, list) else [identifiers])
    )


def issuer_profile(school, issuer_url: str, name: str = "") -> dict[str, Any]:
    profile: dict[str, Any] = {"id": issuer_url, "type": ["Profile"], "name": name or school.name}
    if school.url:
        profile["url"] = school.url
    if school.email:
        profile["email"] = school.email
    if school.logo_url:
        profile["image"] = {"id": school.logo_url, "type": "Image"}
    if school.country:
        profile["address"] = {"type": ["Address"], "addressCountryCode": school.country}
    return profile


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    try:
        return float(str(value))
    except (TypeError, ValueError):
        return None


def _result_pair(index: int, achievement_url: str, title: str, value: Any, required: Any) -> tuple[dict, dict]:
    description_id = f"{achievement_url}#result-{index}"
    description: dict[str, Any] = {"id": description_id, "type": ["ResultDescription"], "name": str(title)}
    result: dict[str, Any] = {"type": ["Result"], "resultDescription": description_id}
    if isinstance(required, bool) or isinstance(value, bool) or required is None:
        # A requirement met or not (lab passed, attestation): a Status result.
        description["resultType"] = "Status"
        result["status"] = "Completed" if value not in (False, None, 0, "") else "InProgress"
        return description, result
    description["resultType"] = "RawScore"
    description["requiredValue"] = _display(required)
    result["value"] = _display(value)
    return description, result


def _display(value: Any) -> str:
    number = _number(value)
    if number is not None:
        return f"{number:g}"
    return str(value)


def _hours_narrative(certificate) -> str:
    lines = [f"- {category}: {hours:g} h" for category, hours in sorted((certificate.hours_by_category or {}).items())]
    sources = [f"- {source}: {hours:g} h" for source, hours in sorted((certificate.hours_by_source or {}).items())]
    text = f"{certificate.hours_total:g} contact hours in total."
    if lines:
        text += "\n\nBy category:\n" + "\n".join(lines)
    if sources:
        text += "\n\nBy source:\n" + "\n".join(sources)
    return text


def build(
    certificate,
    links: CredentialLinks,
    *,
    salt: str,
    publish_salt: bool = False,
    status_entry: dict[str, Any],
    endorsements: list[dict[str, Any]] = (),  # type: ignore[assignment]
) -> dict[str, Any]:
    """The unsigned OpenBadgeCredential of ``certificate`` (a ``CertificateData``)."""
    track = certificate.track
    descriptions, results = [], []
    for index, (title, value, required) in enumerate(certificate.results or (), start=1):
        description, result = _result_pair(index, links.achievement_url, title, value, required)
        descriptions.append(description)
        results.append(result)

    criteria_narrative = (track.criteria or "").strip() or track.title
    # The unit of credits is not fixed by the spec; state it (ours: contact hours).
    criteria_narrative += f"\n\nCredits are contact hours ({track.total_hours_required:g} h required)."
    achievement: dict[str, Any] = {
        "id": links.achievement_url,
        "type": ["Achievement"],
        "achievementType": "Certification",
        "name": track.title,
        "description": track.description or track.title,
        "criteria": {"narrative": criteria_narrative},
        "version": str(track.version),
        "humanCode": track.slug,
        "creditsAvailable": float(track.total_hours_required),
    }
    if links.image_url:
        # OB 3.0 Image: an object with id and type (and a caption), as the 1EdTech schema requires.
        achievement["image"] = {"id": links.image_url, "type": "Image", "caption": track.title}
    if track.skills:
        achievement["tag"] = list(track.skills)
    if descriptions:
        achievement["resultDescription"] = descriptions
    if endorsements:
        achievement["endorsement"] = list(endorsements)

    subject: dict[str, Any] = {
        "id": links.subject_id,
        "type": ["AchievementSubject"],
        "identifier": [email_identifier(certificate.learner.email, salt, publish_salt=publish_salt)],
        "achievement": achievement,
        "creditsEarned": float(certificate.hours_total),
        "licenseNumber": certificate.number,
    }
    if results:
        subject["result"] = results

    credential: dict[str, Any] = {
        "@context": [loader.VC_V2, loader.OB_V3],
        "id": links.credential_id,
        "type": list(CREDENTIAL_TYPES),
        "issuer": issuer_profile(certificate.school, links.issuer_url, links.issuer_name),
        "validFrom": xsd_datetime(certificate.valid_from),
        "awardedDate": xsd_datetime(certificate.issued_at),
        "name": track.title,
        "description": track.description or track.title,
        "credentialSubject": subject,
        "evidence": [
            {
                "id": links.verification_url,
                "type": ["Evidence"],
                "name": "Hours",
                "narrative": _hours_narrative(certificate),
            }
        ],
        "credentialSchema": [{"id": ACHIEVEMENT_SCHEMA, "type": SCHEMA_TYPE}],
        # One object: the 1EdTech JSON Schema the credential declares allows no list here.
        "credentialStatus": dict(status_entry),
    }
    if certificate.valid_until:
        credential["validUntil"] = xsd_datetime(certificate.valid_until, end_of_day=True)
    return credential


def endorsement(
    endorser: dict[str, Any],
    achievement_url: str,
    achievement_name: str,
    comment: str,
    credential_id: str,
    valid_from: str,
) -> dict[str, Any]:
    """An unsigned EndorsementCredential by ``endorser`` (a Profile) about a track's Achievement."""
    return {
        "@context": [loader.VC_V2, loader.OB_V3],
        "id": credential_id,
        "type": ["VerifiableCredential", "EndorsementCredential"],
        "issuer": endorser,
        "validFrom": valid_from,
        "name": f"{endorser.get('name', '')} endorses {achievement_name}".strip(),
        "credentialSubject": {
            "id": achievement_url,
            "type": ["EndorsementSubject"],
            "endorsementComment": comment,
        },
    }
