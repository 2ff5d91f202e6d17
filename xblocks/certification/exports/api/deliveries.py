"""Deliveries: endpoints, one receipt per record and endpoint, sends with backoff until a 2xx answer."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Iterable
from dataclasses import replace
from typing import Any

import requests
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.utils import timezone

from xblocks.certification.exports import delivery as transport
from xblocks.certification.exports import formats, presets
from xblocks.certification.exports.api.files import _events, credential_of
from xblocks.certification.exports.api.presets import get_preset
from xblocks.certification.exports.conf import exports_settings
from xblocks.certification.exports.data import (
    DeliveryData,
    DeliveryTrigger,
    EndpointData,
    EndpointKind,
    Payload,
    ReceiptData,
    ReceiptStatus,
    Schedule,
)
from xblocks.certification.exports.models import Delivery, DeliveryReceipt, Endpoint
from xblocks.certification.exports.records import RecordBuilder
from xblocks.certification.exports.scope import Scope
from xblocks.certification.exports.xapi import StatementBuilder

log = logging.getLogger(__name__)


def create_endpoint(
    owner: Any,
    *,
    name: str,
    url: str,
    employer: str,
    kind: str = EndpointKind.HTTPS,
    payload: str = Payload.RECORD,
    preset: str = "kafaat",
    schedule: str = Schedule.MANUAL,
    cohort_ids: Iterable[int] | None = None,
    secret: str | None = None,
    deliver_on_events: bool = True,
) -> EndpointData:
    """Register where an employer receives records; the owner's scope is checked now and at each send."""

    scope = Scope(owner, employer, cohort_ids)
    kind = EndpointKind(kind)
    if kind is EndpointKind.HTTPS:
        transport.check_url(url)
    else:
        transport.drop_folder(url)
    Payload(payload)
    Schedule(schedule)
    get_preset(preset, owner)
    row = Endpoint(
        name=name,
        url=url,
        employer=scope.employer,
        kind=kind.value,
        payload=payload,
        preset=preset,
        schedule=schedule,
        cohort_ids=list(scope.cohort_ids),
        owner=owner,
        deliver_on_events=deliver_on_events,
    )
    if secret:
        row.secret = secret
    row.save()
    return _endpoint_data(row)


def _endpoint_data(row) -> EndpointData:
    return EndpointData(
        id=row.pk,
        name=row.name,
        kind=row.kind,
        url=row.url,
        employer=row.employer,
        payload=row.payload,
        preset=row.preset,
        schedule=row.schedule,
        enabled=row.enabled,
        owner_id=row.owner_id,
        cohort_ids=tuple(row.cohort_ids or ()),
    )


def _records_of(endpoint, scope: Scope) -> Iterable[tuple[Any, int | None, dict]]:
    """(certificate, event id, envelope data) for every record the endpoint should hold now."""
    payload = Payload(endpoint.payload)
    if payload is Payload.XAPI:
        builder = StatementBuilder()
        for cert in scope.certificates():
            for event in _events(cert.id):
                yield cert, event.id, {"type": "xapi.statement", "data": builder.statement(cert, event)}
        return
    preset = get_preset(endpoint.preset, endpoint.owner) if payload is Payload.RECORD else None
    row_of = presets.compile_preset(preset) if preset else None
    records = RecordBuilder()
    for cert in scope.certificates():
        events = _events(cert.id)
        event_id = events[-1].id if events else None
        if row_of is not None:
            data = dict(zip(preset.headers, row_of(records.build(cert)), strict=True))
            yield cert, event_id, {"type": "kafaat.record", "preset": preset.slug, "data": data}
        else:
            yield cert, event_id, {"type": "ob.credential", "data": credential_of(cert)}


def collect(endpoint_id: int, *, trigger: str = DeliveryTrigger.MANUAL, now: dt.datetime | None = None) -> DeliveryData:
    """Queue a receipt for every record the endpoint does not have yet (delta by event id)."""

    now = now or timezone.now()
    endpoint = Endpoint.objects.select_related("owner").get(pk=endpoint_id)
    run = Delivery.objects.create(endpoint=endpoint, trigger=DeliveryTrigger(trigger).value, created_at=now)
    if not endpoint.enabled:
        return _delivery_data(run)
    scope = Scope(endpoint.owner, endpoint.employer, endpoint.cohort_ids)
    queued = 0
    for cert, event_id, envelope in _records_of(endpoint, scope):
        key = transport.idempotency_key(endpoint.pk, cert.number, event_id)
        existing = DeliveryReceipt.objects.filter(endpoint=endpoint, idempotency_key=key).first()
        if existing is not None:
            if existing.status == ReceiptStatus.WITHHELD:  # consent granted again: send it after all
                DeliveryReceipt.objects.filter(pk=existing.pk, status=ReceiptStatus.WITHHELD).update(
                    status=ReceiptStatus.PENDING, next_attempt_at=now, delivery=run
                )
                queued += 1
            continue
        body = formats.dumps(
            {"id": key, "certificate": cert.number, "event_id": event_id, "employer": endpoint.employer, **envelope}
        )
        try:
            with transaction.atomic():
                DeliveryReceipt.objects.create(
                    endpoint=endpoint,
                    delivery=run,
                    idempotency_key=key,
                    certificate_id=cert.id,
                    certificate_number=cert.number,
                    event_id=event_id,
                    body=body,
                    next_attempt_at=now,
                    created_at=now,
                )
            queued += 1
        except IntegrityError:  # a concurrent collection queued it first
            continue
    Delivery.objects.filter(pk=run.pk).update(queued=queued)
    Endpoint.objects.filter(pk=endpoint.pk).update(last_collected_at=now)
    run.queued = queued
    return _delivery_data(run)


def send_due(
    *, now: dt.datetime | None = None, endpoint_id: int | None = None, limit: int | None = None
) -> dict[str, int]:
    """Send every pending receipt whose time has come; returns counts by outcome.

    Each attempt is claimed with a conditional UPDATE on the attempt counter, so two workers never
    send the same attempt; consent and scope are re-checked per endpoint just before sending.
    """

    now = now or timezone.now()
    limit = limit or int(exports_settings.DELIVERY_BATCH)
    give_up = dt.timedelta(seconds=float(exports_settings.DELIVERY_GIVE_UP_AFTER))
    counts = {"sent": 0, "delivered": 0, "failed": 0, "withheld": 0, "retrying": 0}
    due = DeliveryReceipt.objects.filter(status=ReceiptStatus.PENDING, next_attempt_at__lte=now, endpoint__enabled=True)
    if endpoint_id is not None:
        due = due.filter(endpoint_id=endpoint_id)
    endpoint_ids = list(due.values_list("endpoint_id", flat=True).distinct())
    for eid in endpoint_ids:
        endpoint = Endpoint.objects.select_related("owner").get(pk=eid)
        try:
            allowed = Scope(endpoint.owner, endpoint.employer, endpoint.cohort_ids).consenting_ids()
        except PermissionDenied:
            allowed = set()  # the owner lost their role: nothing leaves until someone fixes the endpoint
            log.warning(
                "endpoint %s: owner %s has no scope any more; deliveries withheld", endpoint.pk, endpoint.owner_id
            )
        batch = list(due.filter(endpoint_id=eid).order_by("next_attempt_at", "pk")[:limit])
        session = _session()
        for receipt in batch:
            if receipt.certificate_id not in allowed:
                DeliveryReceipt.objects.filter(pk=receipt.pk, status=ReceiptStatus.PENDING).update(
                    status=ReceiptStatus.WITHHELD,
                    response_detail="consent or scope no longer holds",
                    next_attempt_at=None,
                )
                counts["withheld"] += 1
                continue
            attempt = receipt.attempts + 1
            claimed = DeliveryReceipt.objects.filter(
                pk=receipt.pk, status=ReceiptStatus.PENDING, attempts=receipt.attempts
            ).update(
                attempts=attempt,
                last_attempt_at=now,
                next_attempt_at=now + transport.backoff(attempt),
                first_attempt_at=receipt.first_attempt_at or now,
            )
            if not claimed:
                continue
            counts["sent"] += 1
            outcome = _send(endpoint, receipt, now, session)
            if outcome.delivered:
                DeliveryReceipt.objects.filter(pk=receipt.pk).update(
                    status=ReceiptStatus.DELIVERED,
                    delivered_at=now,
                    next_attempt_at=None,
                    response_status=outcome.status,
                    response_detail=outcome.detail,
                )
                counts["delivered"] += 1
                continue
            first = receipt.first_attempt_at or now
            gave_up = now - first >= give_up
            DeliveryReceipt.objects.filter(pk=receipt.pk).update(
                status=ReceiptStatus.FAILED if gave_up else ReceiptStatus.PENDING,
                next_attempt_at=None if gave_up else now + transport.backoff(attempt),
                response_status=outcome.status,
                response_detail=outcome.detail,
            )
            log.warning(
                "delivery of %s to endpoint %s failed (attempt %s): %s",
                receipt.certificate_number,
                eid,
                attempt,
                outcome.detail,
            )
            counts["failed" if gave_up else "retrying"] += 1
        session.close()
    return counts


def _session():

    return requests.Session()


def _send(endpoint, receipt, now: dt.datetime, session) -> transport.Outcome:
    body = receipt.body.encode()
    if endpoint.kind == EndpointKind.FILE_DROP:
        name = formats.safe_name(f"{receipt.certificate_number}-{receipt.idempotency_key[:16]}")
        return transport.drop_file(endpoint.url, name, body)
    return transport.post(endpoint.url, endpoint.secret, receipt.idempotency_key, body, now=now, session=session)


def deliver_endpoint(
    endpoint_id: int, *, trigger: str = DeliveryTrigger.MANUAL, now: dt.datetime | None = None
) -> DeliveryData:
    """Collect new records for an endpoint and send what is due now (on demand, schedule or event)."""
    run = collect(endpoint_id, trigger=trigger, now=now)
    counts = send_due(now=now, endpoint_id=endpoint_id)
    return replace(
        run,
        sent=counts["sent"],
        delivered=counts["delivered"],
        failed=counts["failed"] + counts["retrying"],
        withheld=counts["withheld"],
    )


def scheduled_endpoint_ids(now: dt.datetime | None = None) -> list[int]:
    """Enabled endpoints whose hourly or daily schedule is due."""

    now = now or timezone.now()
    due = []
    for row in Endpoint.objects.filter(enabled=True).exclude(schedule=Schedule.MANUAL):
        period = dt.timedelta(hours=1) if row.schedule == Schedule.HOURLY else dt.timedelta(days=1)
        if row.last_collected_at is None or now - row.last_collected_at >= period:
            due.append(row.pk)
    return due


def endpoints_for_event(certificate_id: int) -> list[int]:
    """Endpoints that want a delivery when this certificate changes (scope is checked when collecting)."""

    return list(Endpoint.objects.filter(enabled=True, deliver_on_events=True).values_list("pk", flat=True))


def resend(
    *,
    receipt_ids: Iterable[int] | None = None,
    endpoint_id: int | None = None,
    statuses: Iterable[str] = (ReceiptStatus.FAILED,),
    now: dt.datetime | None = None,
) -> int:
    """Put receipts back in the queue (failed ones by default, or named ones, even delivered)."""

    now = now or timezone.now()
    rows = DeliveryReceipt.objects.exclude(status=ReceiptStatus.WITHHELD)
    if receipt_ids is not None:
        rows = rows.filter(pk__in=list(receipt_ids))
    else:
        rows = rows.filter(status__in=[ReceiptStatus(s).value for s in statuses])
    if endpoint_id is not None:
        rows = rows.filter(endpoint_id=endpoint_id)
    # a re-send keeps the idempotency key: a receiver that already has the record drops the repeat
    return rows.update(status=ReceiptStatus.PENDING, next_attempt_at=now, first_attempt_at=None, delivered_at=None)


def receipts(endpoint_id: int, *, status: str | None = None) -> list[ReceiptData]:

    rows = DeliveryReceipt.objects.filter(endpoint_id=endpoint_id).order_by("pk")
    if status:
        rows = rows.filter(status=status)
    return [
        ReceiptData(
            id=r.pk,
            endpoint_id=r.endpoint_id,
            idempotency_key=r.idempotency_key,
            certificate_id=r.certificate_id,
            certificate_number=r.certificate_number,
            event_id=r.event_id,
            status=r.status,
            attempts=r.attempts,
            next_attempt_at=r.next_attempt_at,
            delivered_at=r.delivered_at,
            response_status=r.response_status,
            response_detail=r.response_detail,
        )
        for r in rows
    ]


def _delivery_data(run) -> DeliveryData:
    return DeliveryData(
        id=run.pk,
        endpoint_id=run.endpoint_id,
        trigger=run.trigger,
        queued=run.queued,
        sent=0,
        delivered=0,
        failed=0,
        withheld=0,
        created_at=run.created_at,
    )
