"""Verification: a credential checked as any verifier would, a certificate looked up or printed, each lookup logged."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import logging

import requests
from django.utils import timezone

from xblocks.certification import api as certification_api
from xblocks.certification.credentials import jwt as vc_jwt
from xblocks.certification.credentials import keyring, loader, openbadges, pdf, proofs, statuslist
from xblocks.certification.credentials.api import documents, signing
from xblocks.certification.credentials.api.links import (
    _issuer_slug,
    _status_list_key,
    badge_image_url,
    baked_badge_url,
    credential_url,
    issuer_url,
    jwt_url,
    linkedin_url,
    pdf_url,
    verification_url,
)
from xblocks.certification.credentials.api.signing import (
    CredentialUnavailable,
    _ip_hash,
    _resolver_for,
)
from xblocks.certification.credentials.conf import credentials_settings
from xblocks.certification.credentials.data import (
    ACTIVE,
    EXPIRED,
    NOT_YET_VALID,
    REVOKED,
    SUSPENDED,
    CertificateVerification,
    VerificationRecord,
    VerificationResult,
)
from xblocks.certification.credentials.models import (
    SignedCredential,
    Verification,
)
from xblocks.core.i18n import gettext as _

log = logging.getLogger(__name__)


# Worst first: what a verifier sees when sources disagree (fail closed).
_SEVERITY = [REVOKED, SUSPENDED, EXPIRED, NOT_YET_VALID, ACTIVE]


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
        return documents.status_list_document(*key)
    if not fetch_remote:
        return None

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
            value = statuslist.read_entry(list_document, status_entry)
        except statuslist.StatusListError as error:
            return False, None, str(error)
        purpose = status_entry.get("statusPurpose")
        if purpose == "message":
            message = statuslist.message_of(status_entry, value).strip().lower()
            if message in ("revoked", "suspended"):
                found.append(REVOKED if message == "revoked" else SUSPENDED)
            elif value != statuslist.VALID and message != "valid":
                # A status this verifier cannot interpret is not taken as good (fail closed).
                return False, None, f"the status list says {message or hex(value)!r}"
        elif value:
            found.append(REVOKED if purpose == "revocation" else SUSPENDED)
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


def public_certificate(reference: str):
    """The certificate a public URL names: by number, or by credential id (``urn:uuid:...``).

    Database ids are not accepted from the public: they are sequential and would let anyone walk
    through every holder's name.
    """

    reference = certification_api.normalise_number(str(reference or "").strip()[:100])
    if reference.startswith("urn:uuid:"):
        row = SignedCredential.objects.filter(credential_id=reference).first()
        if row is None:
            return None
        reference = row.number
    certificate = signing._certificate(reference) if reference else None
    if certificate is None or certificate.number != reference:
        return None
    return certificate


def check_certificate(number_or_id: str | int, *, public: bool = False) -> CertificateVerification:
    """Verify a certificate's stored credential and gather the facts a verifier sees (no logging)."""
    certificate = public_certificate(str(number_or_id)) if public else signing._certificate(number_or_id)
    if certificate is None:
        return CertificateVerification(number=str(number_or_id), found=False, reason="unknown certificate")
    document = documents.credential_json(certificate.id)
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
        badge_image_url=badge_image_url(certificate.track.slug, certificate.track.version),
        badge_svg_url=baked_badge_url(certificate.number, "svg"),
        badge_png_url=baked_badge_url(certificate.number, "png"),
        certificate_id=certificate.id,
    )


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
    here and nowhere else. The log holds verifications, not page loads: a lookup by the same verifier
    (employer token, else signed-in account, else hashed IP) of the same certificate through the same
    door with the same outcome within ``VERIFICATION_LOG_WINDOW`` seconds of the last recorded one is
    the same verification and is not recorded again (reloads, a PDF fetched twice). Another door, a new
    outcome (the certificate was revoked meanwhile) or another verifier is a new entry.
    """

    ip_hash = _ip_hash(ip) if ip else ""
    account = user if getattr(user, "is_authenticated", False) else None
    status = status[:20]
    window = int(credentials_settings.VERIFICATION_LOG_WINDOW or 0)
    if window > 0:
        recent = Verification.objects.filter(
            at__gte=timezone.now() - dt.timedelta(seconds=window), channel=channel, ok=ok, status=status
        )
        recent = (
            recent.filter(certificate_id=certificate_id)
            if certificate_id is not None
            else recent.filter(certificate_id__isnull=True, number=str(number)[:64])
        )
        if token is not None:
            recent = recent.filter(employer_token=token)
        elif account is not None:
            recent = recent.filter(user=account, employer_token__isnull=True)
        else:
            recent = recent.filter(ip_hash=ip_hash, user__isnull=True, employer_token__isnull=True)
        if recent.exists():
            return
    Verification.objects.create(
        certificate_id=certificate_id,
        number=str(number)[:64],
        channel=channel,
        ok=ok,
        status=status,
        reason=(reason or "")[:300],
        ip_hash=ip_hash,
        user=account,
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


def verifications_for(user) -> list[VerificationRecord]:
    """Who verified this learner's certificates, newest first (for the learner's certification block)."""

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


def render_pdf(certificate_id: int, language: str | None = None) -> bytes:
    """The printable certificate in the learner's language (or ``language``: en, fr, ar) with a QR code."""
    certificate = signing._certificate(certificate_id)
    if certificate is None:
        raise CredentialUnavailable(f"no certificate {certificate_id}")
    facts = check_certificate(certificate.id)
    return pdf.render(facts, language or certificate.learner.language or "en", branding_of(certificate))


def branding_of(certificate) -> dict:
    """The logo and signatures a certificate shows: its track's setting over its school's, key by key."""
    look = dict(certificate.school.branding or {})
    look.update({key: value for key, value in (certificate.track.branding or {}).items() if value})
    return look
