"""Tables of the credentials app: signed credentials, issuer public keys, status lists, verifications, tokens.

Other apps never import these; they go through ``api.py``. Private keys are never stored here: only the
public half of every key ever used, so rotation keeps earlier credentials verifiable.
"""

from __future__ import annotations

import enum
import secrets

from django.conf import settings
from django.db import models


class StatusPurpose(enum.StrEnum):
    # Credentials signed since one status entry per credential (decision 0053) use MESSAGE lists:
    # two bits per credential (valid, suspended, revoked). REVOCATION and SUSPENSION lists keep
    # serving the credentials signed before, which carry one entry for each.
    MESSAGE = "message"
    REVOCATION = "revocation"
    SUSPENSION = "suspension"


class Channel(enum.StrEnum):
    PAGE = "page"
    API = "api"
    BULK = "bulk"
    PDF = "pdf"
    JSON = "json"  # credential.json
    JWT = "jwt"  # credential.jwt
    BADGE = "badge"  # a baked badge (SVG or PNG carrying the credential)
    EMBED = "embed"  # the embeddable verification snippet


class IssuerKey(models.Model):
    """The public half of a signing key an issuer has used (active or retired)."""

    issuer = models.CharField(max_length=100, db_index=True)
    public_key_multibase = models.CharField(max_length=128)
    created = models.DateTimeField(auto_now_add=True)
    retired_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "public_key_multibase"], name="kafaat_cred_issuer_key")
        ]

    def __str__(self) -> str:
        return f"{self.issuer} {self.public_key_multibase[:16]}…"


class StatusList(models.Model):
    """One Bitstring Status List: ``size`` slots of ``status_size`` bits for one issuer and purpose.

    ``sequence`` grows when one fills.
    """

    issuer = models.CharField(max_length=100)
    purpose = models.CharField(max_length=16, choices=[(p.value, p.value) for p in StatusPurpose])
    sequence = models.PositiveIntegerField(default=1)
    size = models.PositiveIntegerField()
    status_size = models.PositiveSmallIntegerField(default=1)
    bits = models.BinaryField()
    used = models.PositiveIntegerField(default=0)
    # Bumped on every bit change; the signed list credential is cached for one version.
    version = models.PositiveIntegerField(default=1)
    signed_document = models.JSONField(null=True, blank=True)
    signed_version = models.PositiveIntegerField(default=0)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["issuer", "purpose", "sequence"], name="kafaat_cred_status_list"),
        ]

    def __str__(self) -> str:
        return f"{self.issuer}/{self.purpose}/{self.sequence}"


class SignedCredential(models.Model):
    """The signed OpenBadgeCredential of one certificate (JSON with its proof, and the VC-JWT form)."""

    certificate_id = models.BigIntegerField(unique=True)
    number = models.CharField(max_length=64, unique=True)
    credential_id = models.CharField(max_length=100, unique=True)
    learner_id = models.BigIntegerField(db_index=True)
    issuer = models.CharField(max_length=100)
    document = models.JSONField()
    jwt = models.TextField(blank=True, default="")
    verification_method = models.CharField(max_length=300)
    # The one status slot (a "message" list, two bits) of credentials signed since decision 0053.
    status_list = models.ForeignKey(StatusList, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    status_index = models.PositiveIntegerField(null=True, blank=True)
    # The two one-bit slots of credentials signed before: their signed documents name these lists.
    revocation_list = models.ForeignKey(StatusList, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    revocation_index = models.PositiveIntegerField(null=True, blank=True)
    suspension_list = models.ForeignKey(StatusList, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    suspension_index = models.PositiveIntegerField(null=True, blank=True)
    # The random salt of the learner's email hash, kept so that the issuer can prove to whom the
    # credential was issued; the public document carries it only if IDENTITY_SALT_IN_CREDENTIAL says so.
    # Empty for credentials signed before it existed: their document carries their salt.
    identity_salt = models.CharField(max_length=64, blank=True, default="")
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["status_list", "status_index"], name="kafaat_cred_status_slot"),
            models.UniqueConstraint(fields=["revocation_list", "revocation_index"], name="kafaat_cred_revocation_slot"),
            models.UniqueConstraint(fields=["suspension_list", "suspension_index"], name="kafaat_cred_suspension_slot"),
        ]

    def __str__(self) -> str:
        return self.number


class EmployerToken(models.Model):
    """A bearer token an employer's HR system uses for bulk verification; only its SHA-256 is kept."""

    name = models.CharField(max_length=200)
    organisation = models.CharField(max_length=200)
    token_hash = models.CharField(max_length=64, unique=True)
    prefix = models.CharField(max_length=12)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created = models.DateTimeField(auto_now_add=True)
    last_used = models.DateTimeField(null=True, blank=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.organisation}: {self.name} ({self.prefix}…)"


class Verification(models.Model):
    """One verification of one certificate: who asked (hashed IP, user, employer token), when, what they saw."""

    certificate_id = models.BigIntegerField(null=True, blank=True, db_index=True)
    number = models.CharField(max_length=64, blank=True, default="")
    at = models.DateTimeField(auto_now_add=True, db_index=True)
    channel = models.CharField(max_length=8, choices=[(c.value, c.value) for c in Channel])
    ok = models.BooleanField()
    status = models.CharField(max_length=20, blank=True, default="")
    reason = models.CharField(max_length=300, blank=True, default="")
    ip_hash = models.CharField(max_length=64, blank=True, default="")
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    employer_token = models.ForeignKey(
        EmployerToken, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.number} {self.channel} {self.at:%Y-%m-%d %H:%M}"


class Endorsement(models.Model):
    """A signed EndorsementCredential by an employer partner for a track; embedded in its credentials."""

    track_slug = models.CharField(max_length=100, db_index=True)
    endorser = models.CharField(max_length=100)
    endorser_name = models.CharField(max_length=200)
    comment = models.TextField()
    document = models.JSONField()
    created = models.DateTimeField(auto_now_add=True)
    active = models.BooleanField(default=True)

    def __str__(self) -> str:
        return f"{self.endorser_name} endorses {self.track_slug}"


def _profile_slug() -> str:
    return secrets.token_urlsafe(12)  # 96 random bits: a profile is found by its link, not by guessing


class PublicProfile(models.Model):
    """A learner's public page of valid certificates: off until they switch it on (decision 0082)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_public_profile"
    )
    slug = models.CharField(max_length=32, unique=True, default=_profile_slug)
    enabled = models.BooleanField(default=False)
    changed = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return f"{self.user} ({'public' if self.enabled else 'private'})"
