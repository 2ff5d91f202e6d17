"""Export files: a requester's scope checked now, the file written by a worker, kept for a while, then purged."""

from __future__ import annotations

import datetime as dt
import logging
import os
import pathlib
import uuid
from collections.abc import Callable, Iterable
from typing import IO, Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from xblocks.certification.credentials import api as credentials_api
from xblocks.certification.exports import formats, presets, tasks
from xblocks.certification.exports.api.presets import get_preset
from xblocks.certification.exports.conf import exports_settings
from xblocks.certification.exports.data import (
    ExportData,
    ExportFormat,
    ExportStatus,
    ExportSummary,
    ValidationProblem,
    ValidationReport,
)
from xblocks.certification.exports.models import Export
from xblocks.certification.exports.records import RecordBuilder
from xblocks.certification.exports.scope import Scope, certification_api
from xblocks.certification.exports.xapi import StatementBuilder
from xblocks.core.cells import plausible_identifier
from xblocks.core.i18n import gettext as _

log = logging.getLogger(__name__)


ProgressCallback = Callable[[int, int], None]


STALE_EXPORT = dt.timedelta(hours=2)


def _progress_every() -> int:
    return max(1, int(exports_settings.EXPORT_PROGRESS_EVERY))


def count_records(
    user: Any,
    *,
    employer: str | None = None,
    cohort_ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    modified_since: dt.datetime | None = None,
) -> int:
    """How many certificates an export with these filters would hold."""
    return Scope(user, employer, cohort_ids, modified_since=modified_since).count(statuses)


def write_export(
    user: Any,
    out: IO[bytes],
    *,
    format: str,
    preset: str = "kafaat",
    employer: str | None = None,
    cohort_ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    progress: ProgressCallback | None = None,
    modified_since: dt.datetime | None = None,
) -> ExportSummary:
    """Write an export to a binary stream in constant memory; ``progress(done, total)`` as it goes.

    ``modified_since`` makes a delta: only certificates issued or changed (suspended, reinstated,
    revoked, expired, renewed) at or after that time, each with its current status.

    Raises ``PermissionDenied`` (not a coordinator, a cohort they may not see, unknown employer),
    ``LookupError`` (unknown preset) or ``ValueError`` (unknown format).
    """
    try:
        fmt = ExportFormat(format)
    except ValueError as error:
        raise ValueError(_("Unknown format %(format)s.") % {"format": format}) from error
    scope = Scope(user, employer, cohort_ids, modified_since=modified_since)
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
    elif fmt is ExportFormat.CSV_EXCEL:
        rows = formats.write_csv_excel(certificates, counter, preset=preset_data, progress=tick)
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
    identifiers = [(i, preset_data.headers[i]) for i in sorted(presets.identifier_positions(preset_data))]
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
        for index, header in identifiers:
            if not plausible_identifier(row[index]) and len(problems) < max_problems:
                # written neutralised (with a leading quote), so the target would not match it
                problems.append(
                    ValidationProblem(cert.number, header, _("identifier with characters a spreadsheet could run"))
                )
    return ValidationReport(preset=preset_data.slug, rows=rows, problems=tuple(problems))


def export_filename(fmt: str, preset: str, employer: str, when: dt.datetime | None = None) -> str:
    stamp = (when or timezone.now()).strftime("%Y%m%d-%H%M%S")
    parts = ["kafaat", employer, preset or ExportFormat(fmt).value, stamp]
    return "-".join(p for p in parts if p) + "." + formats.FORMATS[ExportFormat(fmt)].extension


def credential_of(cert: Any) -> dict:
    """The Open Badges 3.0 credential of a certificate, from the credentials app."""

    return credentials_api.credential_json(cert.id)


def _events(certificate_id: int) -> list[Any]:
    return list(certification_api().certificate_events(certificate_id))


def start_export(
    user: Any,
    *,
    format: str,
    preset: str = "kafaat",
    employer: str | None = None,
    cohort_ids: Iterable[int] | None = None,
    statuses: Iterable[str] | None = None,
    modified_since: dt.datetime | None = None,
) -> ExportData:
    """Record an export request (checked now) and queue the task that writes its file."""

    fmt = ExportFormat(format)
    scope = Scope(user, employer, cohort_ids, modified_since=modified_since)  # refuse now, not in the worker
    if formats.FORMATS[fmt].uses_preset:
        get_preset(preset, user)
    row = Export.objects.create(
        requester=user,
        format=fmt.value,
        preset=preset,
        employer=scope.employer,
        cohort_ids=list(scope.cohort_ids),
        statuses=list(statuses or []),
        modified_since=modified_since,
        rows_total=scope.count(statuses),
    )
    tasks.enqueue(tasks.run_export, row.pk)
    return _export_data(row)


def run_export(export_id: int) -> ExportData:
    """Write the file of a queued export, updating its progress row; safe to run twice."""

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
                modified_since=row.modified_since,
                progress=progress,
            )
        final = path.with_suffix("." + formats.FORMATS[ExportFormat(row.format)].extension)
        os.replace(path, final)
    except Exception as error:
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

    base = getattr(settings, "VAR_DIR", None) or getattr(settings, "MEDIA_ROOT", None) or "/var/lib/kafaat"
    return pathlib.Path(base) / "exports"


def _owned_export(user: Any, public_id: str):

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

    if not getattr(user, "is_authenticated", False):
        return []
    return [_export_data(row) for row in Export.objects.filter(requester=user).order_by("-created_at")[:limit]]


def purge_exports(now: dt.datetime | None = None) -> int:
    """Delete export files and rows older than the retention period."""

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
