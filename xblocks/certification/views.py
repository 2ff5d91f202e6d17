"""HTTP views: the hours JSON API (session with CSRF, or a bearer token), the staff hours page and roster CSV.

Every view resolves the caller and checks their schools before touching data; a cohort the caller
may not manage answers 404 like a cohort that does not exist, so ids cannot be probed.
"""

from __future__ import annotations

import datetime
import hmac
import json
import logging

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware, get_token
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt, csrf_protect
from django.views.decorators.http import require_http_methods

from xblocks.certification import api, forms, imports, models, permissions, roster
from xblocks.certification.conf import cert_settings
from xblocks.core import templates
from xblocks.core.files import body_too_large
from xblocks.core.i18n import direction
from xblocks.core.i18n import gettext as _

log = logging.getLogger(__name__)


def _token_user(request):
    header = request.META.get("HTTP_AUTHORIZATION", "")
    if not header.startswith("Bearer "):
        return None
    presented = header[len("Bearer ") :].strip()
    for token, username in (cert_settings.CERT_API_TOKENS or {}).items():
        if token and hmac.compare_digest(token.encode(), presented.encode()):
            return get_user_model().objects.filter(username=username, is_active=True).first()
    return False  # a bearer token was presented and is wrong


def _caller(request):
    """The user behind an API call: a valid bearer token, or the session with a valid CSRF token for writes."""
    token_user = _token_user(request)
    if token_user is False:
        return None
    if token_user is not None:
        return token_user
    if not request.user.is_authenticated:
        return None
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        # Session auth must carry the CSRF token, like any form post (DRF's SessionAuthentication does the same).
        failure = CsrfViewMiddleware(lambda req: None).process_view(request, None, (), {})
        if failure is not None:
            return None
    return request.user


def _too_large_message(limit: int) -> str:
    return _("The file is too large: the limit is %(limit)d bytes.") % {"limit": limit}


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _json_body(request) -> dict:
    try:
        data = json.loads(request.body or b"{}")
    except ValueError:
        raise ValidationError(_("The request body is not JSON.")) from None
    if not isinstance(data, dict):
        raise ValidationError(_("The request body must be a JSON object."))
    return data


def _learner_in(cohort_id, data):
    name = str(data.get("username") or "").strip()
    email = str(data.get("email") or "").strip()
    if not (name or email):
        return None
    users = get_user_model().objects.filter(kafaat_enrollments__cohort_id=cohort_id)
    return users.filter(Q(username=name) if name else Q(email__iexact=email)).first()


@csrf_exempt  # CSRF is enforced in _caller for session-authenticated writes; tokens need none
@require_http_methods(["GET", "POST"])
def hours_api(request):
    """GET ``?cohort=ID[&user=ID]``: the ledger. POST a JSON entry: ``cohort`` (id), ``username`` or
    ``email``, ``source``, ``minutes``, ``date``; optional ``category``, ``note``, ``corrects`` (an entry
    id; then minutes may be negative)."""
    user = _caller(request)
    if user is None:
        return _error(403, "authentication required")
    wanted = permissions.SEE_COHORT if request.method == "GET" else permissions.RECORD_HOURS
    if not permissions.allowed(user, wanted):
        return _error(403, "forbidden")
    if request.method == "GET":
        try:
            entries = api.hours_entries(user, request.GET.get("cohort"), user_id=request.GET.get("user") or None)
        except PermissionDenied:
            return _error(404, "no such cohort")
        return JsonResponse({"entries": [_entry_json(e) for e in entries]})
    try:
        data = _json_body(request)
        cohort_id = data.get("cohort")
        permissions.require_cohort(user, cohort_id, permissions.RECORD_HOURS)
        learner = _learner_in(cohort_id, data)
        if learner is None:
            return _error(400, _("No learner with this name in this cohort."))
        try:
            day = datetime.date.fromisoformat(str(data.get("date") or ""))
            minutes = int(data.get("minutes"))
            corrects = int(data["corrects"]) if data.get("corrects") not in (None, "") else None
        except (TypeError, ValueError):
            return _error(400, _("Give minutes as a whole number and the date as YYYY-MM-DD."))
        if day > timezone.localdate():
            return _error(400, _("The date is in the future."))
        source = str(data.get("source") or "")
        if source not in set(models.HoursSource):
            return _error(400, _("Source must be school, company or elearning."))
        entry = api.add_hours(
            user,
            learner,
            int(cohort_id),
            source=source,
            minutes=minutes,
            date=day,
            category=str(data.get("category") or "")[:64],
            note=str(data.get("note") or "")[:2000],
            corrects_id=corrects,
        )
    except ValidationError as error:
        return _error(400, " ".join(error.messages))
    except PermissionDenied:
        return _error(404, "no such cohort")
    return JsonResponse(_entry_json(entry), status=201)


def _entry_json(entry) -> dict:
    return {
        "id": entry.id,
        "user_id": entry.user_id,
        "cohort_id": entry.cohort_id,
        "source": entry.source,
        "category": entry.category,
        "minutes": entry.minutes,
        "date": entry.date.isoformat(),
        "attester": entry.attester,
        "note": entry.note,
        "corrects": entry.corrects_id,
    }


@csrf_exempt  # see hours_api
@require_http_methods(["POST"])
def hours_import_api(request):
    """POST a CSV (multipart ``file``, or the raw body with ``Content-Type: text/csv``); ``?commit=1`` writes,
    ``?skip_invalid=1`` keeps the valid rows. Answers the import report."""
    limit = int(cert_settings.CERT_MAX_IMPORT_BYTES)
    if body_too_large(request, limit):
        return _error(413, _too_large_message(limit))
    user = _caller(request)
    if user is None:
        return _error(403, "authentication required")
    if not permissions.allowed(user, permissions.RECORD_HOURS):
        return _error(403, "forbidden")
    upload = request.FILES.get("file")
    if upload is not None and upload.size > limit:
        return _error(413, _too_large_message(limit))
    raw = upload.read(limit + 1) if upload else request.read(limit + 1)
    report = imports.import_hours_csv(
        user, raw, dry_run=request.GET.get("commit") != "1", skip_invalid=request.GET.get("skip_invalid") == "1"
    )
    return JsonResponse(report.as_json(), status=200 if report.ok or report.dry_run or report.imported else 400)


@csrf_exempt  # see hours_api
@require_http_methods(["POST"])
def attestations_api(request):
    """POST ``{"cohort": id, "username"|"email", "competency", "note"}``: sign off a competency."""
    user = _caller(request)
    if user is None:
        return _error(403, "authentication required")
    if not permissions.allowed(user, permissions.SIGN_OFF):
        return _error(403, "forbidden")
    try:
        data = _json_body(request)
        cohort_id = data.get("cohort")
        permissions.require_cohort(user, cohort_id, permissions.SIGN_OFF)
        learner = _learner_in(cohort_id, data)
        competency = str(data.get("competency") or "").strip()
        if learner is None or not competency:
            return _error(400, _("Give a learner of this cohort and a competency."))
        api.add_attestation(user, learner, int(cohort_id), competency[:128], note=str(data.get("note") or "")[:2000])
    except ValidationError as error:
        return _error(400, " ".join(error.messages))
    except PermissionDenied:
        return _error(404, "no such cohort")
    return JsonResponse({"ok": True}, status=201)


@require_http_methods(["GET"])
def roster_csv(request, cohort_id: int):
    """The cohort roster as CSV for its coordinators and staff."""
    if not request.user.is_authenticated:
        return HttpResponse(status=403)
    try:
        rows = api.cohort_roster(
            request.user, cohort_id, search=request.GET.get("search", "")[:100], state=request.GET.get("state", "")
        )
    except PermissionDenied:
        return HttpResponse(status=404)
    response = HttpResponse(roster.csv_text(rows).encode("utf-8-sig"), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roster-{int(cohort_id)}.csv"'
    return response


@csrf_exempt  # the size is checked before the CSRF check parses the upload; CSRF is enforced just below
@require_http_methods(["GET", "POST"])
def hours_page(request):
    """Staff page: add one hours entry, sign off a competency, or import a CSV (dry run first)."""
    limit = int(cert_settings.CERT_MAX_IMPORT_BYTES)
    if body_too_large(request, limit):
        return HttpResponse(_too_large_message(limit), status=413, content_type="text/plain; charset=utf-8")
    return csrf_protect(_hours_page)(request)


def _hours_page(request):
    if not permissions.allowed(request.user, permissions.SEE_COHORT):
        return HttpResponse(status=403)
    user, limit = request.user, int(cert_settings.CERT_MAX_IMPORT_BYTES)
    hours_form = forms.HoursEntryForm(user, prefix="hours")
    attest_form = forms.AttestationForm(user, prefix="attest")
    import_form = forms.HoursImportForm(prefix="import")
    message, report = "", None
    action = request.POST.get("action")
    if action == "hours":
        hours_form = forms.HoursEntryForm(user, request.POST, prefix="hours")
        if hours_form.is_valid():
            data = hours_form.cleaned_data
            api.add_hours(
                user,
                data["user"],
                data["cohort"].pk,
                source=data["source"],
                minutes=data["minutes"],
                date=data["date"],
                category=data["category"],
                note=data["note"],
            )
            message, hours_form = _("The hours were recorded."), forms.HoursEntryForm(user, prefix="hours")
    elif action == "attest":
        attest_form = forms.AttestationForm(user, request.POST, prefix="attest")
        if attest_form.is_valid():
            data = attest_form.cleaned_data
            api.add_attestation(user, data["user"], data["cohort"].pk, data["competency"], note=data["note"])
            message, attest_form = _("The competency was signed off."), forms.AttestationForm(user, prefix="attest")
    elif action == "import":
        import_form = forms.HoursImportForm(request.POST, request.FILES, prefix="import")
        if import_form.is_valid() and import_form.cleaned_data["file"].size > limit:
            import_form.add_error("file", _too_large_message(limit))
        if import_form.is_valid():
            data = import_form.cleaned_data
            report = imports.import_hours_csv(
                user,
                data["file"].read(limit + 1),
                dry_run=not data["commit"],
                skip_invalid=data["skip_invalid"],
            )
    html = templates.render(
        "xblocks.certification",
        "kafaat_certification/hours.html",
        {
            "dir": direction(),
            "csrf_token": get_token(request),
            "message": message,
            "report": report,
            "hours_form": hours_form,
            "attest_form": attest_form,
            "import_form": import_form,
            "cohorts": api.list_cohorts(user),
        },
    )
    return HttpResponse(html)
