"""Signing: a certificate's OpenBadgeCredential, its holder's pseudonyms, status list bits, keys, endorsements."""

from __future__ import annotations

import datetime as dt
import logging
import secrets
import uuid
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from xblocks.certification import api as certification_api
from xblocks.certification.credentials import jwt as vc_jwt
from xblocks.certification.credentials import keyring, openbadges, proofs, statuslist
from xblocks.certification.credentials.api.links import (
    _issuer_slug,
    achievement_url,
    badge_image_url,
    issuer_url,
    status_list_url,
    verification_url,
)
from xblocks.certification.credentials.conf import credentials_settings
from xblocks.certification.credentials.data import ACTIVE, REVOKED, SUSPENDED
from xblocks.certification.credentials.models import (
    Endorsement,
    SignedCredential,
    StatusPurpose,
)
from xblocks.core import compat
from xblocks.core.privacy import ip_hash, keyed_digest

log = logging.getLogger(__name__)


class CredentialUnavailable(LookupError):
    """No certificate with that id or number."""


def _certificate(number_or_id):
    return certification_api.get_certificate(number_or_id)


def _secret() -> bytes:
    configured = credentials_settings.EMAIL_HASH_SALT
    if configured:
        return str(configured).encode("utf-8")

    return settings.SECRET_KEY.encode("utf-8")


def _ip_hash(ip: str) -> str:
    """A keyed hash of the visitor's IP: counts and rate limits without storing addresses."""
    return ip_hash(ip, _secret())


def _keyed(purpose: str, value: str) -> str:
    return keyed_digest(_secret(), purpose, value)


def new_identity_salt() -> str:
    """A fresh salt for one credential's e-mail hash: 128 random bits, unrelated to anything else."""
    return secrets.token_hex(16)


def identity_salt(certificate_id: int) -> str:
    """The salt of a credential's e-mail hash: the one the issuer kept, else (older credentials) the document's."""

    row = SignedCredential.objects.filter(certificate_id=certificate_id).only("identity_salt", "document").first()
    if row is None:
        return ""
    if row.identity_salt:
        return row.identity_salt
    for identity in (row.document.get("credentialSubject") or {}).get("identifier") or []:
        if isinstance(identity, dict) and identity.get("salt"):
            return str(identity["salt"])
    return ""


def subject_id(user_id: int) -> str:
    """A pseudonymous, stable ``urn:uuid`` for a learner (JWT ``sub``); reveals nothing without the secret."""
    return "urn:uuid:" + str(uuid.UUID(bytes=bytes.fromhex(_keyed("subject", str(user_id))[:32]), version=4))


def _resolver_for(issuer_id: str):
    """A key resolver that trusts only keys this app knows for the issuer named in the document."""

    def resolve(method: str):
        controller, _, fragment = str(method).partition("#")
        if controller != issuer_id:
            return None
        slug = _issuer_slug(controller)
        if slug is None or not fragment:
            return None
        known = keyring.public_keys(slug)
        if fragment in known:  # a Multikey method: <issuer>#<publicKeyMultibase>
            return proofs.public_key_from_multibase(fragment)
        for multibase in known:  # a JsonWebKey method: <issuer>#<JWK thumbprint>
            key = proofs.public_key_from_multibase(multibase)
            if proofs.jwk_thumbprint(key) == fragment:
                return key
        return None

    return resolve


def jwt_kid(slug: str, pair: keyring.IssuerKeyPair) -> str:
    """A VC-JWT's ``kid``: the issuer document's JsonWebKey method of the signing key (OB 3.0: a JWK)."""
    return proofs.json_web_key(issuer_url(slug), pair.public)["id"]


def _signer(slug: str) -> keyring.IssuerKeyPair:
    pair = keyring.signing_key(keyring.signing_issuer(slug))
    keyring.remember(slug, pair.public_multibase)
    return pair


def _sign_document(document: dict, slug: str, pair: keyring.IssuerKeyPair | None = None) -> tuple[dict, str]:
    pair = pair or _signer(slug)
    method = f"{issuer_url(slug)}#{pair.public_multibase}"
    return proofs.sign(document, pair.private, method), method


def _endorsements(track_slug: str) -> list[dict]:

    return [row.document for row in Endorsement.objects.filter(track_slug=track_slug, active=True).order_by("id")]


def issue_credential(certificate_id: int) -> dict:
    """Sign and store the OpenBadgeCredential of a certificate once; later calls return the stored one."""

    existing = SignedCredential.objects.filter(certificate_id=certificate_id).first()
    if existing is not None:
        return existing.document
    certificate = _certificate(certificate_id)
    if certificate is None:
        raise CredentialUnavailable(f"no certificate {certificate_id}")
    # A certificate without a cohort has no school: the platform itself (``default``) issues it.
    slug = certificate.school.slug or keyring.DEFAULT_ISSUER
    credential_id = f"urn:uuid:{uuid.uuid4()}"
    try:
        with transaction.atomic():
            # One entry, two bits (valid, suspended, revoked): the OB 3.0 schema allows one
            # credentialStatus object, and suspension must stay visible (decision 0053).
            status_list, status_index = statuslist.allocate(slug, StatusPurpose.MESSAGE)
            status_entry = statuslist.entry(
                status_list_url(slug, StatusPurpose.MESSAGE, status_list.sequence), status_index, StatusPurpose.MESSAGE
            )
            links = openbadges.CredentialLinks(
                credential_id=credential_id,
                issuer_url=issuer_url(slug),
                issuer_name=certificate.school.name or str(credentials_settings.ISSUER_NAME),
                achievement_url=achievement_url(certificate.track.slug, certificate.track.version),
                verification_url=verification_url(certificate.number),
                subject_id=subject_id(certificate.learner.user_id),
                image_url=badge_image_url(certificate.track.slug, certificate.track.version),
            )
            salt = new_identity_salt()
            unsigned = openbadges.build(
                certificate,
                links,
                salt=salt,
                publish_salt=bool(credentials_settings.IDENTITY_SALT_IN_CREDENTIAL),
                status_entry=status_entry,
                endorsements=_endorsements(certificate.track.slug),
            )
            pair = _signer(slug)
            signed, method = _sign_document(unsigned, slug, pair)
            token = vc_jwt.encode(signed, pair.private, jwt_kid(slug, pair)) if credentials_settings.ISSUE_JWT else ""
            row = SignedCredential.objects.create(
                certificate_id=certificate.id,
                number=certificate.number,
                credential_id=credential_id,
                learner_id=certificate.learner.user_id,
                issuer=slug,
                document=signed,
                jwt=token,
                verification_method=method,
                status_list=status_list,
                status_index=status_index,
                identity_salt=salt,
            )
    except IntegrityError:
        # Another worker signed it at the same moment: theirs is the credential.
        return SignedCredential.objects.get(certificate_id=certificate_id).document
    log.info("signed credential %s for certificate %s", credential_id, certificate.number)
    _announce_badge("awarded", certificate, credential_id, row.created)
    if certificate.status in (REVOKED, SUSPENDED):
        apply_status(row.certificate_id, certificate.status)
    return signed


def _announce_badge(kind: str, certificate, credential_id: str, at: dt.datetime | None) -> None:
    """Tell the platform (openedx-events ``BADGE_AWARDED`` / ``BADGE_REVOKED``) once the row is committed."""

    template = achievement_url(certificate.track.slug, certificate.track.version)
    event = compat.BadgeEvent(
        credential_uuid=credential_id.removeprefix("urn:uuid:"),
        user_id=certificate.learner.user_id,
        username=certificate.learner.username,
        email=certificate.learner.email,
        full_name=certificate.learner.full_name,
        is_active=True,
        template_uuid=str(uuid.uuid5(uuid.NAMESPACE_URL, template)),
        template_name=certificate.track.title,
        template_description=certificate.track.description,
        image_url=getattr(certificate.school, "logo_url", "") or "",
    )
    transaction.on_commit(lambda: compat.send_badge_event(kind, event, at))


def apply_status(certificate_id: int, status: str) -> bool:
    """Mirror a certificate status in the status lists; returns True when the published status changed.

    revoked is permanent (the slot never changes again); suspended and active set and clear suspension
    (renewal, fees paid); expired needs nothing (``validUntil`` says it).
    """

    row = SignedCredential.objects.filter(certificate_id=certificate_id).first()
    if row is None:
        return False
    if row.status_list_id is not None:
        changed = _apply_message_status(row, status)
    else:
        changed = _apply_legacy_status(row, status)
    if changed and status == REVOKED:  # revocation is announced once: the slot changes once
        certificate = _certificate(certificate_id)
        if certificate is not None:
            _announce_badge("revoked", certificate, row.credential_id, timezone.now())
    if changed:
        log.info("status list slot of certificate %s set to %s", row.number, status)
    return changed


_MESSAGE_VALUES = {REVOKED: statuslist.REVOKED, SUSPENDED: statuslist.SUSPENDED, ACTIVE: statuslist.VALID}


def _apply_message_status(row: SignedCredential, status: str) -> bool:
    value = _MESSAGE_VALUES.get(status)
    if value is None:
        return False
    if status != REVOKED and statuslist.read_status(row.status_list_id, row.status_index) == statuslist.REVOKED:
        log.warning("certificate %s is revoked in its status list; revocation cannot be undone", row.number)
        return False
    return statuslist.write_status(row.status_list_id, row.status_index, value)


def _apply_legacy_status(row: SignedCredential, status: str) -> bool:
    """Credentials signed before decision 0053: one revocation bit and one suspension bit."""
    if status == REVOKED:
        return statuslist.write_bit(row.revocation_list_id, row.revocation_index, True)
    if status == SUSPENDED:
        return statuslist.write_bit(row.suspension_list_id, row.suspension_index, True)
    if status == ACTIVE:
        if statuslist.read_bit(row.revocation_list_id, row.revocation_index):
            log.warning("certificate %s is revoked in its status list; revocation cannot be undone", row.number)
        return statuslist.write_bit(row.suspension_list_id, row.suspension_index, False)
    return False


def rotate_key(issuer: str) -> str:
    """Make a new signing key for an issuer (school slug or ``default``); returns its publicKeyMultibase."""
    return keyring.rotate(issuer).public_multibase


def endorse_track(
    track_slug: str,
    track_version: int,
    track_title: str,
    *,
    endorser: str,
    endorser_name: str,
    endorser_url: str = "",
    comment: str,
) -> dict:
    """Sign an EndorsementCredential by an employer partner for a track; later credentials embed it."""

    profile: dict[str, Any] = {"id": issuer_url(endorser), "type": ["Profile"], "name": endorser_name}
    if endorser_url:
        profile["url"] = endorser_url
    unsigned = openbadges.endorsement(
        profile,
        achievement_url(track_slug, track_version),
        track_title,
        comment,
        f"urn:uuid:{uuid.uuid4()}",
        openbadges.xsd_datetime(timezone.now()),
    )
    signed, _ = _sign_document(unsigned, endorser)
    Endorsement.objects.create(
        track_slug=track_slug, endorser=endorser, endorser_name=endorser_name, comment=comment, document=signed
    )
    return signed
