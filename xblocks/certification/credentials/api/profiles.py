"""Learners' public profiles (their valid certificates on one page) and the embeddable snippet's facts."""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction

from xblocks.certification.credentials import permissions
from xblocks.certification.credentials.api.links import _url
from xblocks.certification.credentials.api.verification import check_certificate
from xblocks.certification.credentials.data import ACTIVE, CertificateVerification, PublicProfileData
from xblocks.certification.credentials.models import PublicProfile, SignedCredential


def profile_url(slug: str) -> str:
    return _url(f"profile/{slug}/")


def manage_profile_url() -> str:
    """The signed-in learner's page with the switch of their public profile."""
    return _url("me/profile/")


def embed_url(number: str) -> str:
    """The embeddable verification snippet of a certificate (an HTML page others may frame)."""
    import urllib.parse  # pylint: disable=import-outside-toplevel

    return _url(f"embed/{urllib.parse.quote(str(number), safe='')}/")


def _row(user) -> PublicProfile:
    row = PublicProfile.objects.filter(user=user).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return PublicProfile.objects.create(user=user)
    except IntegrityError:  # created by a parallel request
        return PublicProfile.objects.get(user=user)


def _data(row: PublicProfile) -> PublicProfileData:
    return PublicProfileData(slug=row.slug, enabled=row.enabled, url=profile_url(row.slug))


def my_public_profile(user) -> PublicProfileData:
    """The signed-in learner's profile setting (created, switched off, on first use)."""
    if not permissions.allowed(user, permissions.MANAGE_PUBLIC_PROFILE):
        raise PermissionDenied("sign in to manage your public profile")
    return _data(_row(user))


def set_public_profile(user, enabled: bool) -> PublicProfileData:
    """Switch the learner's own public page on or off."""
    row = _row(user) if permissions.allowed(user, permissions.MANAGE_PUBLIC_PROFILE) else None
    if row is None or not permissions.allowed(user, permissions.MANAGE_PUBLIC_PROFILE, row):
        raise PermissionDenied("only the learner switches their public profile")
    PublicProfile.objects.filter(pk=row.pk).update(enabled=bool(enabled))
    row.refresh_from_db()
    return _data(row)


def public_profile(slug: str) -> tuple[str, list[CertificateVerification]] | None:
    """``(holder name, valid certificates)`` of a profile its owner switched on; None otherwise.

    Only certificates that verify now (signature, dates, status lists, the certification app's status)
    are listed: revoked, suspended, expired and not-yet-valid ones are left out. Nothing else about the
    learner is shown: no e-mail, no username, no cohort.
    """
    row = PublicProfile.objects.select_related("user").filter(slug=str(slug)[:32]).first()
    if row is None or not permissions.allowed(None, permissions.SEE_PUBLIC_PROFILE, row):
        return None
    ids = (
        SignedCredential.objects.filter(learner_id=row.user_id)
        .order_by("-created")
        .values_list("certificate_id", flat=True)
    )
    valid = []
    for certificate_id in ids:
        facts = check_certificate(certificate_id)
        if facts.found and facts.ok and facts.status == ACTIVE:
            valid.append(facts)
    name = valid[0].holder_name if valid else (row.user.get_full_name() or "")
    return name, valid
