"""Staff pages for exports: start an export, watch its progress, download the file; all scoped.

Only the coordinator who asked for an export sees its progress and downloads it (anyone else gets
404, abuse case 27); starting one re-checks the requester's schools, cohorts and the employer.
"""

from __future__ import annotations

import datetime as dt
import json
import logging

from django.core.exceptions import PermissionDenied
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from xblocks.certification.exports import api, presets
from xblocks.certification.exports.data import ExportFormat
from xblocks.certification.exports.scope import certification_api
from xblocks.core import i18n
from xblocks.core.i18n import gettext as _
from xblocks.core.resources import resource_text

log = logging.getLogger(__name__)


def _forbidden(message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=403)


def _status_payload(export) -> dict:
    payload = export.as_json()
    payload["status_url"] = reverse("kafaat_exports:status", args=[export.public_id])
    payload["download_url"] = (
        reverse("kafaat_exports:download", args=[export.public_id]) if export.status == "done" else ""
    )
    return payload


def _cohorts(user) -> list[dict]:
    return [{"id": c.id, "name": c.name, "school": c.school_name} for c in certification_api().list_cohorts(user)]


@require_GET
def staff_page(request: HttpRequest) -> HttpResponse:
    """The coordinator's export page: the form and their recent exports with live progress."""
    schools = certification_api().visible_school_ids(request.user)
    if not getattr(request.user, "is_authenticated", False) or (schools is not None and not schools):
        return HttpResponse(
            _("Only school coordinators can export records."), status=403, content_type="text/plain; charset=utf-8"
        )
    lang = i18n.language()
    context = {
        "direction": i18n.direction(lang),
        "formats": [(f.value, label) for f, label in _format_labels()],
        "presets": api.list_presets(request.user),
        "employers": certification_api().list_employers(),
        "cohorts": _cohorts(request.user),
        "exports": [_status_payload(e) for e in api.list_exports(request.user)],
        "start_url": reverse("kafaat_exports:start"),
        "i18n_js": resource_text("xblocks.core", "static/kafaat-i18n.js"),
        "page_js": resource_text("xblocks.certification.exports", "static/exports.js"),
        "page_css": resource_text("xblocks.certification.exports", "static/exports.css"),
        "init_args": json.dumps({"i18n": i18n.js_catalog(lang)}),
    }
    return render(request, "kafaat_exports/staff.html", context)


def _format_labels():
    return [
        (ExportFormat.CSV, _("CSV for an HR system import (UTF-8, comma-separated)")),
        (ExportFormat.CSV_EXCEL, _("CSV to open in Excel or LibreOffice (with a byte-order mark)")),
        (ExportFormat.XLSX, _("Excel workbook (XLSX)")),
        (ExportFormat.JSONL, _("JSON Lines")),
        (ExportFormat.OB_BUNDLE, _("Open Badges credentials (zip)")),
        (ExportFormat.XAPI, _("xAPI statements (JSON)")),
    ]


@require_POST
def start(request: HttpRequest) -> JsonResponse:
    """Start an export from the form; answers with its status URL."""
    try:
        cohort_ids = [int(c) for c in request.POST.getlist("cohort") if c]
        export = api.start_export(
            request.user,
            format=request.POST.get("format", ""),
            preset=request.POST.get("preset") or "kafaat",
            employer=request.POST.get("employer") or None,
            cohort_ids=cohort_ids,
            statuses=[s for s in request.POST.getlist("status") if s],
            modified_since=_since(request.POST.get("modified_since", "")),
        )
    except PermissionDenied as error:
        return _forbidden(str(error) or _("You may not export these records."))
    except (LookupError, ValueError, presets.PresetError) as error:
        log.info("export request refused for user %s: %s", request.user.pk, error)
        return JsonResponse({"error": _("Check the format, preset, cohorts and date you chose.")}, status=400)
    return JsonResponse(_status_payload(api.get_export(request.user, export.public_id)), status=202)


def _since(text: str):
    """The delta's start from the form's date field: that day at 00:00 UTC; none when empty."""
    text = text.strip()
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError as error:
        raise ValueError(f"not a date: {text!r}") from error
    return dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)


@require_GET
def status(request: HttpRequest, public_id: str) -> JsonResponse:
    try:
        export = api.get_export(request.user, public_id)
    except LookupError as error:
        raise Http404 from error
    return JsonResponse(_status_payload(export))


@require_GET
def download(request: HttpRequest, public_id: str) -> FileResponse:
    try:
        path, export = api.export_file(request.user, public_id)
    except LookupError as error:
        raise Http404 from error
    except PermissionDenied as error:
        raise Http404 from error
    from xblocks.certification.exports.formats import FORMATS  # pylint: disable=import-outside-toplevel

    response = FileResponse(
        open(path, "rb"),
        as_attachment=True,
        filename=export.filename,  # noqa: SIM115
        content_type=FORMATS[ExportFormat(export.format)].content_type,
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Cache-Control"] = "private, no-store"
    return response
