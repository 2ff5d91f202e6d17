"""The one door to exports and deliveries: views, tasks, the command and the CLI call these functions.

Every path goes through ``scope.Scope`` (requester's schools and cohorts, employer consent). Exports
stream certificates from the certification api into a ``formats`` writer; deliveries collect one
receipt per record and endpoint (unique idempotency key), then send due receipts with backoff until
a 2xx answer, re-checking consent just before each send.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import pathlib
import re
import uuid
from collections.abc import Callable, Iterable
from dataclasses import replace
from typing import IO, Any

from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from xblocks.core.i18n import gettext as _

from . import delivery as transport
from . import formats, presets
from .conf import exports_settings
from .data import (
    DeliveryData,
    DeliveryTrigger,
    EndpointData,
    EndpointKind,
    ExportData,
    ExportFormat,
    ExportStatus,
    ExportSummary,
    Payload,
    PresetData,
    ReceiptData,
    ReceiptStatus,
    Schedule,
    ValidationProblem,
    ValidationReport,
)
from .records import RecordBuilder
from .scope import Scope, certification_api
from .xapi import StatementBuilder

log = logging.getLogger(__name__)

ProgressCallback = Callable[[int, int], None]
STALE_EXPORT = dt.timedelta(hours=2)


# --- presets ---------------------------------------------------------------------------------


def list_presets(user: Any = None) -> list[PresetData]:
    """Built-in presets, then coordinators' presets of the user's schools (all for a superuser)."""
    from .models import ExportPreset  # pylint: disable=import-outside-toplevel

    found = presets.builtin_presets()
    rows = ExportPreset.objects.order_by("name")
    schools = certification_api().visible_school_ids(user) if user is not None else None
    if schools is not None:
        rows = rows.filter(Q(school_id__isnull=True) | Q(school_id__in=list(schools)))
    for row in rows:
        try:
            found.append(_preset_data(row))
        except presets.PresetError:
            log.warning("export preset %s is invalid and was skipped", row.slug)
    return found


def get_preset(slug: str, user: Any = None) -> PresetData:
    """A preset by slug; ``LookupError`` when unknown or not visible to ``user``."""
    for preset in list_presets(user):
        if preset.slug == slug:
            return preset
    raise LookupError(_("Unknown preset %(slug)s.") % {"slug": slug})


def save_preset(
    user: Any, *, slug: str, name: str, base: str, columns: Iterable[dict] | None = None, school_id: int | None = None
) -> PresetData:
    """Create or update a coordinator's preset adjusting a built-in; columns default to the base's."""
    from .models import ExportPreset  # pylint: disable=import-outside-toplevel

    if base not in presets.BUILTIN:
        raise presets.PresetError(_("Unknown base preset %(slug)s.") % {"slug": base})
    if slug in presets.BUILTIN or not re.fullmatch(r"[-a-z0-9_]{1,64}", slug):
        raise presets.PresetError(_("Choose another preset name."))
    schools = certification_api().visible_school_ids(user)
    if schools is not None and (school_id is None or school_id not in schools):
        raise PermissionDenied(_("You may only save presets for your own school."))
    checked = presets.columns_from_json(
        columns if columns is not None else [c.as_json() for c in presets.BUILTIN[base].columns]
    )
    existing = ExportPreset.objects.filter(slug=slug).first()
    if existing is not None and schools is not None and existing.school_id not in schools:
        raise PermissionDenied(_("This preset belongs to another school."))
    row, _created = ExportPreset.objects.update_or_create(
        slug=slug,
        defaults={
            "name": name,
            "base": base,
            "columns": [c.as_json() for c in checked],
            "school_id": school_id,
            "created_by": user if getattr(user, "pk", None) else None,
        },
    )
    return _preset_data(row)


def _preset_data(row) -> PresetData:
    base = presets.BUILTIN.get(row.base)
    if base is None:
        raise presets.PresetError(f"unknown base {row.base}")
    return PresetData(
        slug=row.slug,
        name=row.name,
        target=base.target,
        description=base.description,
        columns=presets.columns_from_json(row.columns),
        key=tuple(h for h in base.key),
        builtin=False,
        base=row.base,
        id=row.pk,
    )


# --- exports ---------------------------------------------------------------------------------


def _progress_every() -> int:
    return max(1, int(exports_settings.EXPORT_PROGRESS_EVERY))


def count_records(
    user: Any,
    *,
    employer: str | None = None,
    cohort_ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
) -> int:
    """How many certificates an export with these filters would hold."""
    return Scope(user, employer, cohort_ids).count(statuses)


def write_export(
    user: Any,
    out: IO[bytes],
    *,
    format: str,  # pylint: disable=redefined-builtin
    preset: str = "kafaat",
    employer: str | None = None,
    cohort_ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    progress: ProgressCallback | None = None,
) -> ExportSummary:
    """Write an export to a binary stream in constant memory; ``progress(done, total)`` as it goes.

    Raises ``PermissionDenied`` (not a coordinator, a cohort they may not see, unknown employer),
    ``LookupError`` (unknown preset) or ``ValueError`` (unknown format).
    """
    try:
        fmt = ExportFormat(format)
    except ValueError as error:
        raise ValueError(_("Unknown format %(format)s.") % {"format": format}) from error
    scope = Scope(user, employer, cohort_ids)
    info = formats.FORMATS[fmt]
    preset_data = get_preset(preset, user) if info.uses_preset else presets.BUILTIN["kafaat"]
    total = scope.count(statuses)
    every = _progress_every()
    report = progress or (lambda done, total: None)
    report(0, total)

    def tick(done: int) -> None:
        if done % every == 0:
            report(done, max(total, done))

    certificates = scope.certificates(statuses, chunk_size=int(exports_settings.EXPORT_CHUNK_SIZE))
    counter = formats.CountingWriter(out)
    if fmt is ExportFormat.CSV:
        rows = formats.write_csv(certificates, counter, preset=preset_data, progress=tick)
    elif fmt is ExportFormat.XLSX:
        rows = formats.write_xlsx(certificates, counter, preset=preset_data, progress=tick)
    elif fmt is ExportFormat.JSONL:
        rows = formats.write_jsonl(certificates, counter, preset=preset_data, progress=tick)
    elif fmt is ExportFormat.OB_BUNDLE:
        rows = formats.write_ob_bundle(certificates, counter, credential_of=credential_of, progress=tick)
    else:
        builder = StatementBuilder()
        rows = formats.write_xapi(
            certificates, counter, statements_of=lambda cert: builder.statements(cert, _events(cert.id)), progress=tick
        )
    counter.flush()
    report(rows, rows)
    return ExportSummary(
        format=fmt.value,
        preset=preset_data.slug if info.uses_preset else "",
        rows=rows,
        bytes=counter.count,
        content_type=info.content_type,
        filename=export_filename(fmt, preset_data.slug if info.uses_preset else "", scope.employer),
    )


def validate_export(
    user: Any,
    *,
    preset: str = "kafaat",
    employer: str | None = None,
    cohort_ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    max_problems: int = 1000,
) -> ValidationReport:
    """Dry run: stream the export without writing it and report empty key cells (e.g. no employee id).

    The target keys records on its key columns (Cornerstone: User ID + Start Date/Time + Transcript
    Status + Training Title); a row with an empty key cell would be rejected or mismatched there.
    """
    scope = Scope(user, employer, cohort_ids)
    preset_data = get_preset(preset, user)
    key_positions = [(i, h) for i, h in enumerate(preset_data.headers) if h in preset_data.key]
    row_of = presets.compile_preset(preset_data)
    builder = RecordBuilder()
    rows = 0
    problems: list[ValidationProblem] = []
    for cert in scope.certificates(statuses, chunk_size=int(exports_settings.EXPORT_CHUNK_SIZE)):
        rows += 1
        row = row_of(builder.build(cert))
        for index, header in key_positions:
            if row[index] in ("", None) and len(problems) < max_problems:
                problems.append(ValidationProblem(cert.number, header, _("empty key column")))
    return ValidationReport(preset=preset_data.slug, rows=rows, problems=tuple(problems))


def export_filename(fmt: str, preset: str, employer: str, when: dt.datetime | None = None) -> str:
    stamp = (when or timezone.now()).strftime("%Y%m%d-%H%M%S")
    parts = ["kafaat", employer, preset or ExportFormat(fmt).value, stamp]
    return "-".join(p for p in parts if p) + "." + formats.FORMATS[ExportFormat(fmt)].extension


def credential_of(cert: Any) -> dict:
    """The Open Badges 3.0 credential of a certificate, from the credentials app."""
    from xblocks.certification.credentials import api as credentials_api  # pylint: disable=import-outside-toplevel

    return credentials_api.credential_json(cert.id)


def _events(certificate_id: int) -> list[Any]:
    return list(certification_api().certificate_events(certificate_id))


def start_export(
    user: Any,
    *,
    format: str,  # pylint: disable=redefined-builtin
    preset: str = "kafaat",
    employer: str | None = None,
    cohort_ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
) -> ExportData:
    """Record an export request (checked now) and queue the task that writes its file."""
    from . import tasks  # pylint: disable=import-outside-toplevel
    from .models import Export  # pylint: disable=import-outside-toplevel

    fmt = ExportFormat(format)
    scope = Scope(user, employer, cohort_ids)  # refuse now, not in the worker
    if formats.FORMATS[fmt].uses_preset:
        get_preset(preset, user)
    row = Export.objects.create(
        requester=user,
        format=fmt.value,
        preset=preset,
        employer=scope.employer,
        cohort_ids=list(scope.cohort_ids),
        statuses=list(statuses or []),
        rows_total=scope.count(statuses),
    )
    transaction.on_commit(lambda: tasks.run_export.delay(row.pk))
    return _export_data(row)


def run_export(export_id: int) -> ExportData:
    """Write the file of a queued export, updating its progress row; safe to run twice."""
    from .models import Export  # pylint: disable=import-outside-toplevel

    now = timezone.now()
    # a worker that died mid-export leaves it running; acks_late redelivers the task, which may
    # take it over once it is clearly abandoned
    abandoned = Q(status=ExportStatus.RUNNING, started_at__lt=now - STALE_EXPORT)
    claimed = Export.objects.filter(Q(status=ExportStatus.PENDING) | abandoned, pk=export_id).update(
        status=ExportStatus.RUNNING, started_at=now
    )
    row = Export.objects.select_related("requester").get(pk=export_id)
    if not claimed:
        return _export_data(row)
    folder = export_dir()
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    path = folder / f"{row.public_id}.part"

    def progress(done: int, total: int) -> None:
        Export.objects.filter(pk=export_id).update(rows_done=done, rows_total=total)

    try:
        # Personal records: readable by the service account only, whatever the umask.
        with os.fdopen(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as handle:
            summary = write_export(
                row.requester,
                handle,
                format=row.format,
                preset=row.preset,
                employer=row.employer,
                cohort_ids=row.cohort_ids,
                statuses=row.statuses,
                progress=progress,
            )
        final = path.with_suffix("." + formats.FORMATS[ExportFormat(row.format)].extension)
        os.replace(path, final)
    except Exception as error:  # pylint: disable=broad-except
        # the coordinator sees a generic failure; the detail goes to the log and the admin
        log.exception("export %s failed", row.public_id)
        path.unlink(missing_ok=True)
        Export.objects.filter(pk=export_id).update(
            status=ExportStatus.FAILED, error=f"{type(error).__name__}: {error}", finished_at=timezone.now()
        )
        return _export_data(Export.objects.get(pk=export_id))
    Export.objects.filter(pk=export_id).update(
        status=ExportStatus.DONE,
        rows_done=summary.rows,
        rows_total=summary.rows,
        size=summary.bytes,
        filename=summary.filename,
        path=str(final),
        finished_at=timezone.now(),
    )
    return _export_data(Export.objects.get(pk=export_id))


def export_dir() -> pathlib.Path:
    configured = exports_settings.EXPORT_DIR
    if configured:
        return pathlib.Path(configured)
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    base = getattr(settings, "VAR_DIR", None) or getattr(settings, "MEDIA_ROOT", None) or "/var/lib/kafaat"
    return pathlib.Path(base) / "exports"


def _owned_export(user: Any, public_id: str):
    from .models import Export  # pylint: disable=import-outside-toplevel

    if not getattr(user, "is_authenticated", False):
        raise LookupError(public_id)
    try:
        key = uuid.UUID(str(public_id))
    except ValueError as error:
        raise LookupError(public_id) from error
    # unguessable ids are not authorisation: only the requester sees an export
    row = Export.objects.filter(public_id=key, requester=user).first()
    if row is None:
        raise LookupError(public_id)
    return row


def get_export(user: Any, public_id: str) -> ExportData:
    """The requester's export; ``LookupError`` for anyone else's (an IDOR answers 404)."""
    return _export_data(_owned_export(user, public_id))


def export_file(user: Any, public_id: str) -> tuple[pathlib.Path, ExportData]:
    """The finished file of the requester's export, re-checking their scope still holds."""
    row = _owned_export(user, public_id)
    if row.status != ExportStatus.DONE or not row.path or not os.path.exists(row.path):
        raise LookupError(public_id)
    Scope(user, row.employer, row.cohort_ids)  # a coordinator who lost the school loses the file too
    return pathlib.Path(row.path), _export_data(row)


def list_exports(user: Any, limit: int = 20) -> list[ExportData]:
    from .models import Export  # pylint: disable=import-outside-toplevel

    if not getattr(user, "is_authenticated", False):
        return []
    return [_export_data(row) for row in Export.objects.filter(requester=user).order_by("-created_at")[:limit]]


def purge_exports(now: dt.datetime | None = None) -> int:
    """Delete export files and rows older than the retention period."""
    from .models import Export  # pylint: disable=import-outside-toplevel

    cutoff = (now or timezone.now()) - dt.timedelta(days=int(exports_settings.EXPORT_RETENTION_DAYS))
    old = Export.objects.filter(created_at__lt=cutoff)
    count = 0
    for row in old:
        if row.path:
            pathlib.Path(row.path).unlink(missing_ok=True)
        row.delete()
        count += 1
    return count


def _export_data(row) -> ExportData:
    return ExportData(
        id=row.pk,
        public_id=str(row.public_id),
        requester_id=row.requester_id,
        format=row.format,
        preset=row.preset,
        employer=row.employer,
        cohort_ids=tuple(row.cohort_ids or ()),
        status=row.status,
        rows_done=row.rows_done,
        rows_total=row.rows_total,
        size=row.size,
        filename=row.filename,
        error=row.error,
        created_at=row.created_at,
        finished_at=row.finished_at,
    )


# --- endpoints and deliveries -----------------------------------------------------------------


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
    from .models import Endpoint  # pylint: disable=import-outside-toplevel

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
            data = dict(
                zip(preset.headers, row_of(records.build(cert, events[-1].at if events else None)), strict=True)
            )
            yield cert, event_id, {"type": "kafaat.record", "preset": preset.slug, "data": data}
        else:
            yield cert, event_id, {"type": "ob.credential", "data": credential_of(cert)}


def collect(endpoint_id: int, *, trigger: str = DeliveryTrigger.MANUAL, now: dt.datetime | None = None) -> DeliveryData:
    """Queue a receipt for every record the endpoint does not have yet (delta by event id)."""
    from .models import Delivery, DeliveryReceipt, Endpoint  # pylint: disable=import-outside-toplevel

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
    from .models import DeliveryReceipt, Endpoint  # pylint: disable=import-outside-toplevel

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
    import requests  # pylint: disable=import-outside-toplevel

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
    from .models import Endpoint  # pylint: disable=import-outside-toplevel

    now = now or timezone.now()
    due = []
    for row in Endpoint.objects.filter(enabled=True).exclude(schedule=Schedule.MANUAL):
        period = dt.timedelta(hours=1) if row.schedule == Schedule.HOURLY else dt.timedelta(days=1)
        if row.last_collected_at is None or now - row.last_collected_at >= period:
            due.append(row.pk)
    return due


def endpoints_for_event(certificate_id: int) -> list[int]:
    """Endpoints that want a delivery when this certificate changes (scope is checked when collecting)."""
    from .models import Endpoint  # pylint: disable=import-outside-toplevel

    return list(Endpoint.objects.filter(enabled=True, deliver_on_events=True).values_list("pk", flat=True))


def resend(
    *,
    receipt_ids: Iterable[int] | None = None,
    endpoint_id: int | None = None,
    statuses: Iterable[str] = (ReceiptStatus.FAILED,),
    now: dt.datetime | None = None,
) -> int:
    """Put receipts back in the queue (failed ones by default, or named ones, even delivered)."""
    from .models import DeliveryReceipt  # pylint: disable=import-outside-toplevel

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
    from .models import DeliveryReceipt  # pylint: disable=import-outside-toplevel

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
