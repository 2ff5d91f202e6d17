"""The one door to verifiable credentials: signing, status, verification, the verification log and PDFs.

Views, tasks, the CLI, the certification block and the exports app call these functions; they read
certificates only through ``xblocks.certification.api`` and return dicts or frozen dataclasses.
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import hashlib
import hmac
import io
import json
import logging
import re
import secrets
import urllib.parse
import uuid
from typing import Any

from django.db import IntegrityError, transaction
from django.utils import timezone

from . import jwt as vc_jwt
from . import keyring, loader, openbadges, proofs, statuslist
from .conf import credentials_settings
from .data import CertificateVerification, EmployerTokenData, VerificationRecord, VerificationResult

log = logging.getLogger(__name__)

PREFIX = "/kafaat/credentials"
REVOKED, SUSPENDED, ACTIVE, EXPIRED, NOT_YET_VALID = "revoked", "suspended", "active", "expired", "not-yet-valid"
# Worst first: what a verifier sees when sources disagree (fail closed).
_SEVERITY = [REVOKED, SUSPENDED, EXPIRED, NOT_YET_VALID, ACTIVE]


class CredentialUnavailable(LookupError):
    """No certificate with that id or number."""


# --- URLs ------------------------------------------------------------------------------------------------


def base_url() -> str:
    """The site's root URL (``xblocks.core.site``): every credential, QR code and export links under it."""
    from xblocks.core import site  # pylint: disable=import-outside-toplevel

    return site.root_url()


def _url(path: str) -> str:
    return f"{base_url()}{PREFIX}/{path}"


def _quote(value: str) -> str:
    return urllib.parse.quote(str(value), safe="")


def issuer_url(slug: str) -> str:
    return _url(f"issuers/{_quote(slug)}/")


def achievement_url(track_slug: str, version: int) -> str:
    return _url(f"achievements/{_quote(track_slug)}/{int(version)}/")


def verification_url(number: str) -> str:
    """The public verification page of a certificate (the QR code and LinkedIn point here)."""
    return _url(f"verify/{_quote(number)}/")


def pdf_url(number: str) -> str:
    return _url(f"pdf/{_quote(number)}/")


def credential_url(number: str) -> str:
    return _url(f"verify/{_quote(number)}/credential.json")


def jwt_url(number: str) -> str:
    return _url(f"verify/{_quote(number)}/credential.jwt")


def api_url(number: str) -> str:
    return _url(f"api/v1/certificates/{_quote(number)}/")


def status_list_url(issuer: str, purpose: str, sequence: int) -> str:
    return _url(f"status/{_quote(issuer)}/{purpose}/{int(sequence)}/")


def _issuer_slug(url: str) -> str | None:
    match = re.fullmatch(re.escape(_url("issuers/")) + r"([A-Za-z0-9_.~%-]+)/", str(url or ""))
    return urllib.parse.unquote(match.group(1)) if match else None


def _status_list_key(url: str) -> tuple[str, str, int] | None:
    match = re.fullmatch(
        re.escape(_url("status/")) + r"([A-Za-z0-9_.~%-]+)/(revocation|suspension)/(\d+)/", str(url or "")
    )
    if not match:
        return None
    return urllib.parse.unquote(match.group(1)), match.group(2), int(match.group(3))


# --- certificates, through the certification app's door -----------------------------------------------


def _certificate(number_or_id):
    from xblocks.certification import api as certification_api  # pylint: disable=import-outside-toplevel

    return certification_api.get_certificate(number_or_id)


def _secret() -> bytes:
    configured = credentials_settings.EMAIL_HASH_SALT
    if configured:
        return str(configured).encode("utf-8")
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    return settings.SECRET_KEY.encode("utf-8")


def _keyed(purpose: str, value: str) -> str:
    return hmac.new(_secret(), f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def new_identity_salt() -> str:
    """A fresh salt for one credential's e-mail hash: 128 random bits, unrelated to anything else."""
    return secrets.token_hex(16)


def identity_salt(certificate_id: int) -> str:
    """The salt of a credential's e-mail hash: the one the issuer kept, else (older credentials) the document's."""
    from .models import SignedCredential  # pylint: disable=import-outside-toplevel

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


# --- signing ----------------------------------------------------------------------------------------------


def _resolver_for(issuer_id: str):
    """A key resolver that trusts only keys this app knows for the issuer named in the document."""

    def resolve(method: str):
        controller, _, fragment = str(method).partition("#")
        if controller != issuer_id:
            return None
        slug = _issuer_slug(controller)
        if slug is None or not fragment or not keyring.knows(slug, fragment):
            return None
        return proofs.public_key_from_multibase(fragment)

    return resolve


def _signer(slug: str) -> keyring.IssuerKeyPair:
    pair = keyring.signing_key(keyring.signing_issuer(slug))
    keyring.remember(slug, pair.public_multibase)
    return pair


def _sign_document(document: dict, slug: str, pair: keyring.IssuerKeyPair | None = None) -> tuple[dict, str]:
    pair = pair or _signer(slug)
    method = f"{issuer_url(slug)}#{pair.public_multibase}"
    return proofs.sign(document, pair.private, method), method


def _endorsements(track_slug: str) -> list[dict]:
    from .models import Endorsement  # pylint: disable=import-outside-toplevel

    return [row.document for row in Endorsement.objects.filter(track_slug=track_slug, active=True).order_by("id")]


def issue_credential(certificate_id: int) -> dict:
    """Sign and store the OpenBadgeCredential of a certificate once; later calls return the stored one."""
    from .models import SignedCredential, StatusPurpose  # pylint: disable=import-outside-toplevel

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
            revocation_list, revocation_index = statuslist.allocate(slug, StatusPurpose.REVOCATION)
            suspension_list, suspension_index = statuslist.allocate(slug, StatusPurpose.SUSPENSION)
            entries = [
                statuslist.entry(
                    status_list_url(slug, StatusPurpose.REVOCATION, revocation_list.sequence),
                    revocation_index,
                    StatusPurpose.REVOCATION,
                ),
                statuslist.entry(
                    status_list_url(slug, StatusPurpose.SUSPENSION, suspension_list.sequence),
                    suspension_index,
                    StatusPurpose.SUSPENSION,
                ),
            ]
            links = openbadges.CredentialLinks(
                credential_id=credential_id,
                issuer_url=issuer_url(slug),
                issuer_name=certificate.school.name or str(credentials_settings.ISSUER_NAME),
                achievement_url=achievement_url(certificate.track.slug, certificate.track.version),
                verification_url=verification_url(certificate.number),
                subject_id=subject_id(certificate.learner.user_id),
            )
            salt = new_identity_salt()
            unsigned = openbadges.build(
                certificate,
                links,
                salt=salt,
                publish_salt=bool(credentials_settings.IDENTITY_SALT_IN_CREDENTIAL),
                status_entries=entries,
                endorsements=_endorsements(certificate.track.slug),
            )
            pair = _signer(slug)
            signed, method = _sign_document(unsigned, slug, pair)
            token = vc_jwt.encode(signed, pair.private, method) if credentials_settings.ISSUE_JWT else ""
            row = SignedCredential.objects.create(
                certificate_id=certificate.id,
                number=certificate.number,
                credential_id=credential_id,
                learner_id=certificate.learner.user_id,
                issuer=slug,
                document=signed,
                jwt=token,
                verification_method=method,
                revocation_list=revocation_list,
                revocation_index=revocation_index,
                suspension_list=suspension_list,
                suspension_index=suspension_index,
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
    from xblocks.core import compat  # pylint: disable=import-outside-toplevel

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


def credential_json(certificate_id: int) -> dict:
    """The stored signed OpenBadgeCredential of a certificate (signed on demand when missing)."""
    return issue_credential(certificate_id)


def credential_jwt(certificate_id: int) -> str:
    """The VC-JWT form of the certificate's credential."""
    from .models import SignedCredential  # pylint: disable=import-outside-toplevel

    issue_credential(certificate_id)
    row = SignedCredential.objects.get(certificate_id=certificate_id)
    if not row.jwt:
        pair = _signer(row.issuer)
        row.jwt = vc_jwt.encode(row.document, pair.private, f"{issuer_url(row.issuer)}#{pair.public_multibase}")
        row.save(update_fields=["jwt", "updated"])
    return row.jwt


def apply_status(certificate_id: int, status: str) -> bool:
    """Mirror a certificate status in the status lists; returns True when a bit changed.

    revoked sets the revocation bit (never cleared: revocation is permanent); suspended sets the
    suspension bit; active clears it (renewal, fees paid); expired needs no bit (``validUntil`` says it).
    """
    from .models import SignedCredential  # pylint: disable=import-outside-toplevel

    row = SignedCredential.objects.filter(certificate_id=certificate_id).first()
    if row is None:
        return False
    changed = False
    if status == REVOKED:
        changed = statuslist.write_bit(row.revocation_list_id, row.revocation_index, True)
        if changed:  # the bit is set once: revocation is announced once
            certificate = _certificate(certificate_id)
            if certificate is not None:
                _announce_badge("revoked", certificate, row.credential_id, timezone.now())
    elif status == SUSPENDED:
        changed = statuslist.write_bit(row.suspension_list_id, row.suspension_index, True)
    elif status == ACTIVE:
        if statuslist.read_bit(row.revocation_list_id, row.revocation_index):
            log.warning("certificate %s is revoked in its status list; revocation cannot be undone", row.number)
        changed = statuslist.write_bit(row.suspension_list_id, row.suspension_index, False)
    if changed:
        log.info("status list bit for certificate %s set to %s", row.number, status)
    return changed


def status_list_document(issuer: str, purpose: str, sequence: int) -> dict | None:
    """The signed BitstringStatusListCredential, re-signed only when a bit changed since the last time."""
    from .models import StatusList  # pylint: disable=import-outside-toplevel

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
    from .models import SignedCredential  # pylint: disable=import-outside-toplevel

    controller = issuer_url(slug)
    latest = SignedCredential.objects.filter(issuer=slug).order_by("-id").first()
    profile = dict(latest.document.get("issuer") or {}) if latest else {"id": controller, "type": ["Profile"]}
    # Retired keys stay listed: they still verify what they signed before the rotation.
    methods = [proofs.multikey(controller, proofs.public_key_from_multibase(mb)) for mb in keys]
    for method in methods:
        # OB 3.0 says a VC-JWT ``kid`` dereferences to a JWK: give JWT verifiers the same key as one.
        method["publicKeyJwk"] = proofs.public_key_jwk(proofs.public_key_from_multibase(method["publicKeyMultibase"]))
    return {
        "@context": [loader.VC_V2, loader.OB_V3, loader.MULTIKEY_V1],
        **profile,
        "id": controller,
        "verificationMethod": methods,
        "assertionMethod": [method["id"] for method in methods],
    }


def achievement_document(track_slug: str, version: int) -> dict | None:
    """The Achievement of a track version as signed into its credentials (so its ``id`` dereferences)."""
    from .models import SignedCredential  # pylint: disable=import-outside-toplevel

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


def rotate_key(issuer: str) -> str:
    """Make a new signing key for an issuer (school slug or ``default``); returns its publicKeyMultibase."""
    return keyring.rotate(issuer).public_multibase


# --- endorsements -------------------------------------------------------------------------------------------


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
    from .models import Endorsement  # pylint: disable=import-outside-toplevel

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


# --- verification -------------------------------------------------------------------------------------------


def _conformance(document: dict) -> tuple[bool, str]:
    context = document.get("@context")
    if not isinstance(context, list) or not context or context[0] != loader.VC_V2:
        return False, "@context must start with the VC 2.0 context"
    types = document.get("type") or []
    if "VerifiableCredential" not in types:
        return False, "type must contain VerifiableCredential"
    is_badge = bool({"OpenBadgeCredential", "AchievementCredential", "EndorsementCredential"} & set(types))
    if not is_badge and statuslist.LIST_CREDENTIAL_TYPE not in types:
        return False, "type must contain OpenBadgeCredential or AchievementCredential"
    for name in ("id", "issuer", "validFrom", "credentialSubject"):
        if not document.get(name):
            return False, f"the required field {name} is missing"
    issuer = document["issuer"]
    issuer_id = issuer.get("id") if isinstance(issuer, dict) else issuer
    if not issuer_id:
        return False, "the issuer has no id"
    if is_badge and "EndorsementCredential" not in types:
        if loader.OB_V3 not in context:
            return False, "@context must include the Open Badges 3.0 context"
        subject = document["credentialSubject"]
        if not isinstance(subject, dict) or not (subject.get("id") or subject.get("identifier")):
            return False, "the subject needs an id or an identifier"
        achievement = subject.get("achievement") or {}
        for name in ("id", "type", "name", "description", "criteria"):
            if not achievement.get(name):
                return False, f"the achievement has no {name}"
        if not document.get("name"):
            return False, "the credential has no name"
    try:
        vc_jwt.parse_datetime(document["validFrom"])
        if document.get("validUntil"):
            vc_jwt.parse_datetime(document["validUntil"])
    except ValueError:
        return False, "validFrom or validUntil is not a dateTime"
    return True, "the credential has every required field"


def _issuer_id(document: dict) -> str:
    issuer = document.get("issuer")
    return str(issuer.get("id") if isinstance(issuer, dict) else issuer or "")


def _validity(document: dict, now: dt.datetime) -> tuple[str, str]:
    valid_from = vc_jwt.parse_datetime(document["validFrom"])
    if valid_from > now:
        return NOT_YET_VALID, f"not valid before {document['validFrom']}"
    if document.get("validUntil") and vc_jwt.parse_datetime(document["validUntil"]) <= now:
        return EXPIRED, f"expired on {document['validUntil']}"
    return ACTIVE, "within its validity period"


def _fetch_status_list(url: str, *, fetch_remote: bool) -> dict | None:
    key = _status_list_key(url)
    if key is not None:
        return status_list_document(*key)
    if not fetch_remote:
        return None
    import requests  # pylint: disable=import-outside-toplevel

    try:
        response = requests.get(
            url, timeout=float(credentials_settings.STATUS_FETCH_TIMEOUT), headers={"Accept": "application/json"}
        )
        response.raise_for_status()
        return response.json()
    except (requests.RequestException, ValueError) as error:
        log.info("status list %s unreachable: %s", url, error)
        return None


_VERIFIED_LISTS: dict[str, proofs.ProofCheck] = {}


def _verify_status_list(list_document: dict) -> proofs.ProofCheck:
    """Verify a status list's proof once per exact document (its digest is the cache key).

    A list changes only when a bit flips, and the digest covers every byte, so a cached success can
    never vouch for different content. Failures are not cached (a key may become known later).
    """
    digest = hashlib.sha256(json.dumps(list_document, sort_keys=True).encode("utf-8")).hexdigest()
    cached = _VERIFIED_LISTS.get(digest)
    if cached is not None and keyring.knows(
        _issuer_slug(_issuer_id(list_document)) or "", cached.verification_method.partition("#")[2]
    ):
        return cached
    check = proofs.verify(list_document, _resolver_for(_issuer_id(list_document)))
    if check.ok:
        if len(_VERIFIED_LISTS) > 256:
            _VERIFIED_LISTS.clear()
        _VERIFIED_LISTS[digest] = check
    return check


def _status(document: dict, *, fetch_remote: bool) -> tuple[bool | None, str | None, str]:
    """(ok, bit status, message): ok None means the lists could not be reached (not checked)."""
    entries = document.get("credentialStatus")
    if not entries:
        return True, None, "the credential has no status entry"
    entries = entries if isinstance(entries, list) else [entries]
    found: list[str] = []
    for status_entry in entries:
        if not isinstance(status_entry, dict) or status_entry.get("type") != statuslist.ENTRY_TYPE:
            continue
        url = status_entry.get("statusListCredential", "")
        list_document = _fetch_status_list(url, fetch_remote=fetch_remote)
        if list_document is None:
            return None, None, "the status list could not be reached; status not checked"
        if _issuer_id(list_document) != _issuer_id(document):
            return False, None, "the status list was issued by someone else"
        check = _verify_status_list(list_document)
        if not check.ok:
            return False, None, f"the status list's proof is invalid: {check.message}"
        try:
            if statuslist.read_entry(list_document, status_entry):
                found.append(REVOKED if status_entry.get("statusPurpose") == "revocation" else SUSPENDED)
        except statuslist.StatusListError as error:
            return False, None, str(error)
    if REVOKED in found:
        return False, REVOKED, "revoked by the issuer"
    if SUSPENDED in found:
        return False, SUSPENDED, "suspended by the issuer"
    return True, None, "neither revoked nor suspended"


def verify_credential(
    document: dict | str,
    *,
    check_status: bool = True,
    fetch_remote: bool = False,
    now: dt.datetime | None = None,
    recipient_email: str = "",
    recipient_salt: str = "",
) -> VerificationResult:
    """Verify a credential (JSON with an embedded proof, or a VC-JWT string) in the spec's order.

    Conformance, proof, validity dates, status (local status lists always; remote ones only when
    ``fetch_remote``), the recipient when ``recipient_email`` is given, then embedded endorsements.
    Keys are trusted only when this app knows them.
    """
    now = now or timezone.now()
    checks: list[tuple[str, bool, str]] = []

    def done(status: str | None) -> VerificationResult:
        failed = [message for _, ok, message in checks if not ok]
        return VerificationResult(ok=not failed, checks=checks, status=status, reason=failed[0] if failed else "")

    jwt_check = None
    if isinstance(document, str):
        try:
            document, jwt_check = vc_jwt.decode(document, _resolver_for_token(document), now=now)
        except vc_jwt.JWTError as error:
            checks.append(("proof", False, str(error)))
            return done(None)
    if not isinstance(document, dict):
        checks.append(("conformance", False, "a credential is a JSON object"))
        return done(None)

    ok, message = _conformance(document)
    checks.append(("conformance", ok, message))
    if not ok:
        return done(None)

    resolver = _resolver_for(_issuer_id(document))
    proof_checks = [jwt_check] if jwt_check else []
    if document.get("proof") or not proof_checks:
        proof_checks.append(proofs.verify(document, resolver))
    # The spec accepts any one valid proof; we require every proof present to hold (fail closed): a
    # VC-JWT whose envelope does not verify around a valid embedded proof is a forgery attempt.
    proof_ok = all(check.ok for check in proof_checks)
    shown = next((check for check in proof_checks if not check.ok), proof_checks[0])
    message = shown.message if not proof_ok else "; ".join(check.message for check in proof_checks)
    checks.append(("proof", proof_ok, message))

    status, message = _validity(document, now)
    checks.append(("validity", status == ACTIVE, message))

    if check_status:
        status_ok, bit_status, message = _status(document, fetch_remote=fetch_remote)
        checks.append(("status", status_ok is not False, message))
        if bit_status:
            status = bit_status if _SEVERITY.index(bit_status) < _SEVERITY.index(status) else status

    if recipient_email:
        matched = openbadges.recipient_matches(document, recipient_email, recipient_salt)
        if matched:
            message = "the credential was issued to this email"
        elif not recipient_salt and openbadges.salt_withheld(document):
            message = "the credential keeps its e-mail salt private: ask the holder or the issuer for it (--salt)"
        else:
            message = "the credential was not issued to this email"
        checks.append(("recipient", matched, message))

    endorsements = ((document.get("credentialSubject") or {}).get("achievement") or {}).get("endorsement") or []
    for endorsement in endorsements if isinstance(endorsements, list) else [endorsements]:
        result = verify_credential(endorsement, check_status=False, now=now)
        checks.append(("endorsement", result.ok, result.reason or "valid endorsement"))
    return done(status if proof_ok else None)


def _resolver_for_token(token: str):
    """Resolve a JWT ``kid`` against the issuer named in its (not yet trusted) payload."""
    try:
        body = token.split(".")[1]
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        issuer = payload.get("iss") or _issuer_id(payload.get("vc") or payload)
    except (IndexError, ValueError, AttributeError):
        issuer = ""
    return _resolver_for(str(issuer))


def _display_name(certificate) -> tuple[str, bool]:
    learner = certificate.learner
    if learner.legal_name:
        return learner.legal_name, True
    return learner.full_name or learner.username, False


def linkedin_url(certificate) -> str:
    """LinkedIn's "Add to profile" link for a certification (a plain link: nothing is sent by us)."""
    params = {
        "startTask": "CERTIFICATION_NAME",
        "name": certificate.track.title,
        "organizationName": certificate.school.name or str(credentials_settings.ISSUER_NAME),
        "issueYear": certificate.valid_from.year,
        "issueMonth": certificate.valid_from.month,
        "certUrl": verification_url(certificate.number),
        "certId": certificate.number,
    }
    if certificate.valid_until:
        params["expirationYear"] = certificate.valid_until.year
        params["expirationMonth"] = certificate.valid_until.month
    return "https://www.linkedin.com/profile/add?" + urllib.parse.urlencode(params)


def public_certificate(reference: str):
    """The certificate a public URL names: by number, or by credential id (``urn:uuid:...``).

    Database ids are not accepted from the public: they are sequential and would let anyone walk
    through every holder's name.
    """
    from xblocks.certification import api as certification_api  # pylint: disable=import-outside-toplevel

    from .models import SignedCredential  # pylint: disable=import-outside-toplevel

    reference = certification_api.normalise_number(str(reference or "").strip()[:100])
    if reference.startswith("urn:uuid:"):
        row = SignedCredential.objects.filter(credential_id=reference).first()
        if row is None:
            return None
        reference = row.number
    certificate = _certificate(reference) if reference else None
    if certificate is None or certificate.number != reference:
        return None
    return certificate


def check_certificate(number_or_id: str | int, *, public: bool = False) -> CertificateVerification:
    """Verify a certificate's stored credential and gather the facts a verifier sees (no logging)."""
    certificate = public_certificate(str(number_or_id)) if public else _certificate(number_or_id)
    if certificate is None:
        return CertificateVerification(number=str(number_or_id), found=False, reason="unknown certificate")
    document = credential_json(certificate.id)
    result = verify_credential(document)
    status = result.status or ""
    # The certification app is the source of truth; a status change not yet mirrored in the lists
    # (a queued task) must still show: take the worse of the two.
    if certificate.status in _SEVERITY and (
        not status or _SEVERITY.index(certificate.status) < _SEVERITY.index(status)
    ):
        status = certificate.status
    ok = result.ok and status == ACTIVE
    reason = result.reason
    if not ok and not reason:
        reason = {REVOKED: "revoked by the issuer", SUSPENDED: "suspended by the issuer", EXPIRED: "expired"}.get(
            status, status
        )
    name, verified = _display_name(certificate)
    return CertificateVerification(
        number=certificate.number,
        found=True,
        ok=ok,
        status=status,
        reason=reason,
        issuer_name=certificate.school.name or str(credentials_settings.ISSUER_NAME),
        issuer_url=issuer_url(certificate.school.slug or keyring.DEFAULT_ISSUER),
        holder_name=name,
        holder_name_verified=verified,
        track_title=certificate.track.title,
        track_slug=certificate.track.slug,
        track_version=certificate.track.version,
        issued_at=certificate.issued_at,
        valid_from=certificate.valid_from,
        valid_until=certificate.valid_until,
        hours=float(certificate.hours_total),
        hours_required=float(certificate.track.total_hours_required),
        checks=tuple(result.checks),
        credential_id=str(document.get("id", "")),
        verification_url=verification_url(certificate.number),
        credential_url=credential_url(certificate.number),
        jwt_url=jwt_url(certificate.number),
        pdf_url=pdf_url(certificate.number),
        linkedin_url=linkedin_url(certificate),
        certificate_id=certificate.id,
    )


def ip_hash(ip: str) -> str:
    """A keyed hash of the visitor's IP: counts and rate limits without storing addresses."""
    return _keyed("ip", ip or "")[:32]


def record_lookup(
    number: str,
    certificate_id: int | None,
    *,
    channel: str,
    ok: bool,
    status: str,
    reason: str = "",
    ip: str = "",
    user=None,
    token=None,
) -> None:
    """Record one public lookup of a certificate in its holder's verification log.

    Every public door (page, JSON API, PDF, ``credential.json``, ``credential.jwt``, bulk rows) records
    here and nowhere else, so that collapsing a visitor's reloads into one verification later is a
    change to this function alone.
    """
    from .models import Verification  # pylint: disable=import-outside-toplevel

    Verification.objects.create(
        certificate_id=certificate_id,
        number=str(number)[:64],
        channel=channel,
        ok=ok,
        status=status[:20],
        reason=(reason or "")[:300],
        ip_hash=ip_hash(ip) if ip else "",
        user=user if getattr(user, "is_authenticated", False) else None,
        employer_token=token,
    )


def log_verification(result: CertificateVerification, *, channel: str, ip: str = "", user=None, token=None) -> None:
    record_lookup(
        result.number,
        result.certificate_id,
        channel=channel,
        ok=result.ok,
        status=result.status or ("unknown" if not result.found else ""),
        reason=result.reason,
        ip=ip,
        user=user,
        token=token,
    )


def verify_certificate(reference: str, *, channel: str, ip: str = "", user=None, token=None) -> CertificateVerification:
    """Verify a certificate (number or credential id) for a visitor and log who asked."""
    result = check_certificate(reference, public=True)
    log_verification(result, channel=channel, ip=ip, user=user, token=token)
    return result


def record_download(reference: str, certificate, *, channel: str, ip: str = "", user=None) -> None:
    """Record a download (PDF, credential.json, credential.jwt) of a certificate, or of a number that is not one."""
    if certificate is None:
        record_lookup(
            reference, None, channel=channel, ok=False, status="unknown", reason="unknown certificate", ip=ip, user=user
        )
        return
    record_lookup(
        certificate.number,
        certificate.id,
        channel=channel,
        ok=certificate.status == ACTIVE,
        status=certificate.status,
        reason="downloaded",
        ip=ip,
        user=user,
    )


def take(key: str, *, cost: int = 1, limit: int, window: int) -> bool:
    """Spend ``cost`` from the budget ``key`` holds in the current ``window`` (seconds); False when it is spent.

    One fixed-window counter in Django's cache (shared by every web worker when the cache is Redis or
    Memcached, as in production). A refused request spends nothing.
    """
    from django.core.cache import cache  # pylint: disable=import-outside-toplevel

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
        f"ip:{ip_hash(ip)}",
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


def verifications_for(user) -> list[VerificationRecord]:
    """Who verified this learner's certificates, newest first (for the learner's certification block)."""
    from xblocks.core.i18n import gettext as _  # pylint: disable=import-outside-toplevel

    from .models import SignedCredential, Verification  # pylint: disable=import-outside-toplevel

    ids = list(SignedCredential.objects.filter(learner_id=user.pk).values_list("certificate_id", flat=True))
    rows = Verification.objects.filter(certificate_id__in=ids).select_related("employer_token", "user")[:500]
    records = []
    for row in rows:
        if row.employer_token_id:
            verifier = row.employer_token.organisation
        elif row.user_id:
            verifier = row.user.get_full_name() or row.user.get_username()
        else:
            verifier = str(_("An anonymous visitor"))
        records.append(VerificationRecord(row.at, row.number, row.channel, verifier, row.ok, row.status))
    return records


# --- employer tokens and bulk verification ----------------------------------------------------------------


def create_employer_token(name: str, organisation: str, created_by=None) -> tuple[str, EmployerTokenData]:
    """A new bearer token for an employer's HR system; the plain token is returned once, never stored."""
    from .models import EmployerToken  # pylint: disable=import-outside-toplevel

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
    from .models import EmployerToken  # pylint: disable=import-outside-toplevel

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


def safe_cell(value: Any) -> str:
    """A CSV cell a spreadsheet will not run as a formula (OWASP CSV injection)."""
    text = "" if value is None else str(value)
    if text and text[0] in "=+-@\t\r|%":
        return "'" + text
    return text


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
                    safe_cell(v)
                    for v in [number, "no", "no", "", "", "", "", "", "", "", "", "", "", "", "unknown certificate"]
                ]
            )
            continue
        name_match = "" if not name else ("yes" if _casefold(name) == _casefold(result.holder_name) else "no")
        email_match = "" if not email else ("yes" if _email_matches(result.certificate_id, email) else "no")
        writer.writerow(
            [
                safe_cell(v)
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


# --- PDF ------------------------------------------------------------------------------------------------------


def render_pdf(certificate_id: int, language: str | None = None) -> bytes:
    """The printable certificate in the learner's language (or ``language``: en, fr, ar) with a QR code."""
    from . import pdf  # pylint: disable=import-outside-toplevel

    certificate = _certificate(certificate_id)
    if certificate is None:
        raise CredentialUnavailable(f"no certificate {certificate_id}")
    facts = check_certificate(certificate.id)
    return pdf.render(facts, language or certificate.learner.language or "en")
