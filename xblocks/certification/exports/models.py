"""Tables of the exports app: coordinators' presets, export runs, HTTPS/file endpoints and receipts."""

from __future__ import annotations

import secrets
import uuid

from django.conf import settings
from django.db import models

from xblocks.certification.exports.data import (
    DeliveryTrigger,
    EndpointKind,
    ExportFormat,
    ExportStatus,
    Payload,
    ReceiptStatus,
    Schedule,
)
from xblocks.core.i18n import gettext_lazy as _


def _choices(enum_cls) -> list[tuple[str, str]]:
    return [(member.value, member.value) for member in enum_cls]


class ExportPreset(models.Model):
    """A coordinator's adjustment of a built-in preset: its columns replace the base's."""

    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    base = models.CharField(max_length=64, help_text=_("The built-in preset this adjusts"))
    columns = models.JSONField(help_text=_("List of {header, field|template|constant, format, value_map}"))
    school_id = models.PositiveIntegerField(
        null=True, blank=True, help_text=_("Only this school's coordinators see it")
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    def __str__(self) -> str:
        return self.name


class Export(models.Model):
    """One export run: what was asked, by whom, how far it got and where the file is."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    requester = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_exports")
    format = models.CharField(max_length=16, choices=_choices(ExportFormat))
    preset = models.CharField(max_length=64, default="kafaat")
    employer = models.CharField(max_length=64)
    cohort_ids = models.JSONField(default=list, blank=True)
    statuses = models.JSONField(default=list, blank=True)
    modified_since = models.DateTimeField(
        null=True, blank=True, help_text=_("A delta: only certificates issued or changed at or after this time")
    )
    status = models.CharField(max_length=16, choices=_choices(ExportStatus), default=ExportStatus.PENDING)
    rows_done = models.PositiveIntegerField(default=0)
    rows_total = models.PositiveIntegerField(default=0)
    size = models.PositiveBigIntegerField(default=0)
    filename = models.CharField(max_length=255, blank=True)
    path = models.CharField(max_length=1024, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["requester", "created_at"])]

    def __str__(self) -> str:
        return f"{self.format} export {self.public_id}"


def _new_secret() -> str:
    return secrets.token_urlsafe(32)


class Endpoint(models.Model):
    """Where an employer receives records: an HTTPS URL (signed POSTs) or a file-drop folder."""

    name = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=_choices(EndpointKind), default=EndpointKind.HTTPS)
    url = models.CharField(max_length=1024, help_text=_("https:// URL, or a folder below DELIVERY_FILE_DROP_ROOT"))
    secret = models.CharField(
        max_length=128, default=_new_secret, help_text=_("HMAC-SHA256 key shared with the receiver")
    )
    employer = models.CharField(max_length=64, help_text=_("Employer slug: only learners who consented to it are sent"))
    owner = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.PROTECT,
        related_name="+",
        help_text=_("The coordinator whose school and cohort scope the deliveries use"),
    )
    cohort_ids = models.JSONField(default=list, blank=True)
    payload = models.CharField(max_length=16, choices=_choices(Payload), default=Payload.RECORD)
    preset = models.CharField(max_length=64, default="kafaat")
    schedule = models.CharField(max_length=16, choices=_choices(Schedule), default=Schedule.MANUAL)
    deliver_on_events = models.BooleanField(
        default=True, help_text=_("Queue a delivery when a certificate is issued or changes")
    )
    enabled = models.BooleanField(default=True)
    last_collected_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """The admin form refuses what the sender would refuse (scheme, drop folder)."""
        from django.core.exceptions import ValidationError  # pylint: disable=import-outside-toplevel

        from xblocks.certification.exports import delivery  # pylint: disable=import-outside-toplevel

        try:
            if self.kind == EndpointKind.FILE_DROP:
                delivery.drop_folder(self.url)
            else:
                delivery.check_url(self.url)
        except delivery.EndpointError as error:
            raise ValidationError({"url": str(error)}) from error


class Delivery(models.Model):
    """One collection run of an endpoint: how many records it queued and what became of them."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="deliveries")
    trigger = models.CharField(max_length=16, choices=_choices(DeliveryTrigger))
    queued = models.PositiveIntegerField(default=0)
    created_at = models.DateTimeField()

    class Meta:
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.endpoint} {self.trigger} {self.created_at:%Y-%m-%d %H:%M}"


class DeliveryReceipt(models.Model):
    """One record for one endpoint: the body as first built, every attempt's outcome, delivered once."""

    endpoint = models.ForeignKey(Endpoint, on_delete=models.CASCADE, related_name="receipts")
    delivery = models.ForeignKey(Delivery, on_delete=models.SET_NULL, null=True, related_name="receipts")
    idempotency_key = models.CharField(max_length=64)
    certificate_id = models.PositiveBigIntegerField()
    certificate_number = models.CharField(max_length=64)
    event_id = models.PositiveBigIntegerField(null=True, blank=True)
    body = models.TextField(help_text=_("The exact bytes sent, so a retry is byte-identical"))
    status = models.CharField(max_length=16, choices=_choices(ReceiptStatus), default=ReceiptStatus.PENDING)
    attempts = models.PositiveIntegerField(default=0)
    first_attempt_at = models.DateTimeField(null=True, blank=True)
    last_attempt_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    response_status = models.PositiveIntegerField(null=True, blank=True)
    response_detail = models.TextField(blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["endpoint", "idempotency_key"], name="kafaat_receipt_once_per_endpoint")
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"{self.certificate_number} → {self.endpoint} ({self.status})"
