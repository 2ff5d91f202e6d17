"""The documents the issuer serves: credentials (JSON and JWT), status lists, controllers, achievements."""

from __future__ import annotations

import logging

from django.utils import timezone

from xblocks.certification import api as certification_api
from xblocks.certification.credentials import badges, keyring, loader, openbadges, proofs, statuslist
from xblocks.certification.credentials import jwt as vc_jwt
from xblocks.certification.credentials.api import signing
from xblocks.certification.credentials.api.links import (
    achievement_url,
    issuer_url,
    status_list_url,
)
from xblocks.certification.credentials.api.signing import (
    CredentialUnavailable,
    _sign_document,
    _signer,
    issue_credential,
    jwt_kid,
)
from xblocks.certification.credentials.conf import credentials_settings
from xblocks.certification.credentials.models import (
    SignedCredential,
    StatusList,
)

log = logging.getLogger(__name__)


def credential_json(certificate_id: int) -> dict:
    """The stored signed OpenBadgeCredential of a certificate (signed on demand when missing)."""
    return issue_credential(certificate_id)


def credential_jwt(certificate_id: int) -> str:
    """The VC-JWT form of the certificate's credential."""

    issue_credential(certificate_id)
    row = SignedCredential.objects.get(certificate_id=certificate_id)
    if not row.jwt:
        pair = _signer(row.issuer)
        row.jwt = vc_jwt.encode(row.document, pair.private, jwt_kid(row.issuer, pair))
        row.save(update_fields=["jwt", "updated"])
    return row.jwt


def status_list_document(issuer: str, purpose: str, sequence: int) -> dict | None:
    """The signed BitstringStatusListCredential, re-signed only when a bit changed since the last time."""

    row = StatusList.objects.filter(issuer=issuer, purpose=purpose, sequence=sequence).first()
    if row is None:
        return None
    if row.signed_document and row.signed_version == row.version:
        return row.signed_document
    url = status_list_url(issuer, purpose, sequence)
    unsigned = statuslist.list_credential(
        url,
        {"id": issuer_url(issuer)},
        purpose,
        bytes(row.bits),
        openbadges.xsd_datetime(timezone.now()),
        int(credentials_settings.STATUS_LIST_TTL) * 1000,
    )
    signed, _ = _sign_document(unsigned, issuer)
    StatusList.objects.filter(pk=row.pk, version=row.version).update(signed_document=signed, signed_version=row.version)
    return signed


def controller_document(slug: str) -> dict | None:
    """The issuer profile with its Multikey verification methods (active and retired), or None."""
    keys = keyring.public_keys(slug)
    if not keys:
        return None

    controller = issuer_url(slug)
    latest = SignedCredential.objects.filter(issuer=slug).order_by("-id").first()
    profile = dict(latest.document.get("issuer") or {}) if latest else {"id": controller, "type": ["Profile"]}
    # Retired keys stay listed: they still verify what they signed before the rotation. Each key is a
    # Multikey method (Data Integrity proofs) and a JsonWebKey method (the VC-JWT ``kid``).
    public = [proofs.public_key_from_multibase(mb) for mb in keys]
    methods = [proofs.multikey(controller, key) for key in public]
    methods += [proofs.json_web_key(controller, key) for key in public]
    # The Controlled Identifiers context defines the controller terms: verifiers that expand this
    # document as JSON-LD in safe mode refuse terms no context defines. The Multikey context (same
    # Multikey definition) stays: a method dereferenced from here carries these contexts, and Multikey
    # readers (Digital Bazaar's) want to see it.
    return {
        "@context": [loader.VC_V2, loader.OB_V3, loader.CID_V1, loader.MULTIKEY_V1],
        **profile,
        "id": controller,
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }


def achievement_document(track_slug: str, version: int) -> dict | None:
    """The Achievement of a track version as signed into its credentials (so its ``id`` dereferences)."""

    url = achievement_url(track_slug, version)
    row = (
        SignedCredential.objects.filter(document__credentialSubject__achievement__id=url)
        .only("document")
        .order_by("-id")
        .first()
    )
    if row is None:
        return None
    achievement = dict(row.document["credentialSubject"]["achievement"])
    return {"@context": list(row.document["@context"]), **achievement}


def badge_artwork(track_slug: str, version: int) -> str | None:
    """The SVG badge of a track version that has credentials (its ``achievement.image``); None otherwise."""
    achievement = achievement_document(track_slug, version)
    if achievement is None:
        return None
    track = certification_api.get_track(track_slug)
    return badges.svg(str(achievement.get("name", "")), badges.domain_of(track.proves if track else ()))


def baked_badge(certificate_id: int, kind: str = "svg") -> bytes:
    """The certificate's badge (``svg`` or ``png``) with its signed credential baked in (OB 3.0 §5.3)."""
    certificate = signing._certificate(certificate_id)  # pylint: disable=protected-access
    if certificate is None:
        raise CredentialUnavailable(f"no certificate {certificate_id}")
    credential = credential_json(certificate_id)
    title = str(credential["credentialSubject"]["achievement"].get("name") or certificate.track.title)
    domain = badges.domain_of(certificate.track.proves)
    if kind == "png":
        return badges.bake_png(badges.png(title, domain), credential)
    return badges.bake_svg(badges.svg(title, domain), credential).encode("utf-8")
