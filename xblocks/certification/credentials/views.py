"""Public verification (page, JSON API, credential downloads, PDF), status lists, issuer keys, bulk verification.

Everything here is public except bulk verification (employer token or staff) and the learner's own
verification log. Public views take a certificate number or credential id, never a database id. Every
door that names a holder (page, JSON API, PDF, credential.json, credential.jwt, bulk) spends from one
per-visitor limit (``public_lookup``) and records each lookup in the holder's verification log;
status lists, issuer profiles and achievements name nobody and are not limited.
"""

from __future__ import annotations

import functools
import json
import logging

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import render
from django.utils import translation
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods

from xblocks.certification.credentials import api
from xblocks.certification.credentials.conf import credentials_settings
from xblocks.core.files import body_too_large
from xblocks.core.i18n import direction
from xblocks.core.i18n import gettext as _

log = logging.getLogger(__name__)

LANGUAGES = ("en", "fr", "ar")
MAX_BULK_BYTES = 2 * 1024 * 1024


def _ip(request: HttpRequest) -> str:
    # REMOTE_ADDR only: X-Forwarded-For is set by the client unless a trusted proxy rewrites it, and the
    # platform's proxy middleware already puts the real address here when one is configured.
    return request.META.get("REMOTE_ADDR", "")


def _language(request: HttpRequest) -> str:
    chosen = request.GET.get("lang", "")
    if chosen in LANGUAGES:
        return chosen
    active = (translation.get_language() or "en").split("-")[0]
    return active if active in LANGUAGES else "en"


def too_many(request: HttpRequest, *, as_json: bool, retry_after: int) -> HttpResponse:
    """The 429 answer, in the visitor's language: a page for people, JSON for programs."""
    language = _language(request)
    with translation.override(language):
        message = str(_("Too many look-ups from your address. Please wait a little and try again."))
        if as_json:
            response = JsonResponse(
                {"error": "rate_limited", "message": message, "retry_after": retry_after},
                status=429,
                json_dumps_params={"ensure_ascii": False},
            )
        else:
            response = render(
                request,
                "kafaat_credentials/too_many.html",
                {"language": language, "dir": direction(language), "message": message, "retry_after": retry_after},
                status=429,
            )
    response["Retry-After"] = str(retry_after)
    response["Content-Language"] = language
    response["Cache-Control"] = "no-store"
    return response


def _too_many(request: HttpRequest, as_json: bool) -> HttpResponse | None:
    """Spend one public lookup of this visitor; the 429 answer when their budget is spent."""
    if not api.rate_limited(_ip(request)):
        return None
    return too_many(request, as_json=as_json, retry_after=int(credentials_settings.VERIFY_RATE_WINDOW))


def public_lookup(*, as_json: bool):
    """Every public door that names a holder goes through the same per-visitor limit (decorator)."""

    def decorate(view):
        @functools.wraps(view)
        def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
            limited = _too_many(request, as_json)
            return limited if limited is not None else view(request, *args, **kwargs)

        return guarded

    return decorate


def _user(request: HttpRequest):
    user = getattr(request, "user", None)
    return user if getattr(user, "is_authenticated", False) else None


@require_GET
@public_lookup(as_json=False)
def verify_page(request: HttpRequest, reference: str) -> HttpResponse:
    """The public page: issuer, holder, track, dates, hours, status and the proof check, in the visitor's language."""
    language = _language(request)
    with translation.override(language):
        result = api.verify_certificate(reference, channel="page", ip=_ip(request), user=_user(request))
        statuses = {
            "active": _("Valid"),
            "revoked": _("Revoked"),
            "suspended": _("Suspended"),
            "expired": _("Expired"),
            "not-yet-valid": _("Not yet valid"),
        }
        check_names = {
            "conformance": _("Open Badges 3.0 structure"),
            "proof": _("Issuer's digital signature"),
            "validity": _("Validity dates"),
            "status": _("Revocation and suspension lists"),
            "endorsement": _("Endorsement"),
        }
        context = {
            "result": result,
            "language": language,
            "dir": direction(language),
            "status_label": statuses.get(result.status, result.status) if result.found else "",
            "checks": [(check_names.get(name, name), ok, message) for name, ok, message in result.checks],
            "embed_url": api.embed_url(result.number) if result.found else "",
            "languages": [(code, label) for code, label in (("en", "English"), ("fr", "Français"), ("ar", "العربية"))],
        }
        response = render(request, "kafaat_credentials/verify.html", context, status=200 if result.found else 404)
    response["Content-Language"] = language
    response["Cache-Control"] = "no-store"
    return response


def _status_labels() -> dict[str, str]:
    return {
        "active": _("Valid"),
        "revoked": _("Revoked"),
        "suspended": _("Suspended"),
        "expired": _("Expired"),
        "not-yet-valid": _("Not yet valid"),
    }


@xframe_options_exempt  # made to be framed: CSP frame-ancestors says by whom (EMBED_FRAME_ANCESTORS)
@require_GET
@public_lookup(as_json=False)
def embed(request: HttpRequest, reference: str) -> HttpResponse:
    """The embeddable verification snippet: badge, holder, track and the status as of this request."""
    language = _language(request)
    with translation.override(language):
        result = api.verify_certificate(reference, channel="embed", ip=_ip(request), user=_user(request))
        context = {
            "result": result,
            "language": language,
            "dir": direction(language),
            "status_label": _status_labels().get(result.status, result.status) if result.found else "",
        }
        response = render(request, "kafaat_credentials/embed.html", context, status=200 if result.found else 404)
    ancestors = str(credentials_settings.EMBED_FRAME_ANCESTORS or "'none'")
    response["Content-Security-Policy"] = (
        f"default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'; base-uri 'none'; "
        f"form-action 'none'; frame-ancestors {ancestors}"
    )
    response["Content-Language"] = language
    response["Cache-Control"] = "no-store"  # the status is live: no cache may keep a revoked certificate valid
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_GET
@public_lookup(as_json=False)
def profile_page(request: HttpRequest, slug: str) -> HttpResponse:
    """A learner's public page: their name and their valid certificates, when they switched it on."""
    language = _language(request)
    with translation.override(language):
        found = api.public_profile(slug)
        name, certificates = found if found is not None else ("", [])
        context = {
            "found": found is not None,
            "name": name,
            "certificates": certificates,
            "language": language,
            "dir": direction(language),
            "languages": [(code, label) for code, label in (("en", "English"), ("fr", "Français"), ("ar", "العربية"))],
        }
        response = render(request, "kafaat_credentials/profile.html", context, status=200 if found else 404)
    response["Content-Language"] = language
    response["Cache-Control"] = "no-store"  # switched off or a certificate revoked: gone at once
    response["Referrer-Policy"] = "no-referrer"
    return response


@require_http_methods(["GET", "POST"])
def my_profile(request: HttpRequest) -> HttpResponse:
    """The learner's switch for their public profile (off by default) and the link to share."""
    user = _user(request)
    if user is None:
        return redirect_to_login(request.get_full_path())
    language = _language(request)
    try:
        if request.method == "POST":  # CSRF checked by the middleware
            api.set_public_profile(user, request.POST.get("enabled") == "1")
            return HttpResponseRedirect(f"{request.path}?lang={language}")
        profile = api.my_public_profile(user)
    except PermissionDenied:
        return HttpResponse(status=403)
    with translation.override(language):
        context = {
            "profile": profile,
            "language": language,
            "dir": direction(language),
        }
        response = render(request, "kafaat_credentials/my_profile.html", context)
    response["Cache-Control"] = "no-store"
    return response


@require_GET
@public_lookup(as_json=True)
def verify_json(request: HttpRequest, reference: str) -> JsonResponse:
    """The same facts as the page, as JSON."""
    result = api.verify_certificate(reference, channel="api", ip=_ip(request), user=_user(request))
    response = JsonResponse(
        result.as_json(), status=200 if result.found else 404, json_dumps_params={"ensure_ascii": False}
    )
    response["Access-Control-Allow-Origin"] = "*"
    response["Cache-Control"] = "no-store"
    return response


def _public(request: HttpRequest, reference: str, channel: str):
    """The certificate a public download names, its lookup recorded in the holder's log (404 when unknown)."""
    certificate = api.public_certificate(reference)
    api.record_download(reference, certificate, channel=channel, ip=_ip(request), user=_user(request))
    if certificate is None:
        raise Http404("unknown certificate")
    return certificate


@require_GET
@public_lookup(as_json=True)
def credential_document(request: HttpRequest, reference: str) -> HttpResponse:
    """The signed OpenBadgeCredential (JSON-LD with its Data Integrity proof), to download or hand to a wallet."""
    certificate = _public(request, reference, "json")
    body = json.dumps(api.credential_json(certificate.id), indent=2, ensure_ascii=False)
    response = HttpResponse(body, content_type="application/ld+json; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{certificate.number}.json"'
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
@public_lookup(as_json=True)
def credential_token(request: HttpRequest, reference: str) -> HttpResponse:
    """The VC-JWT form of the credential."""
    certificate = _public(request, reference, "jwt")
    response = HttpResponse(api.credential_jwt(certificate.id), content_type="application/vc+jwt")
    response["Content-Disposition"] = f'attachment; filename="{certificate.number}.jwt"'
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
@public_lookup(as_json=False)
def certificate_pdf(request: HttpRequest, reference: str) -> HttpResponse:
    """The PDF certificate: the learner's language unless ``?lang=`` asks for en, fr or ar."""
    certificate = _public(request, reference, "pdf")
    language = request.GET.get("lang")
    language = language if language in LANGUAGES else None
    response = HttpResponse(api.render_pdf(certificate.id, language), content_type="application/pdf")
    response["Content-Disposition"] = f'inline; filename="{certificate.number}.pdf"'
    return response


# An SVG is a document: served from this origin it must run nothing and load nothing.
SVG_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox"


def _svg_response(body: bytes | str, *, filename: str = "") -> HttpResponse:
    response = HttpResponse(body, content_type="image/svg+xml; charset=utf-8")
    response["Content-Security-Policy"] = SVG_CSP
    response["X-Content-Type-Options"] = "nosniff"
    if filename:
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
    return response


@require_GET
@public_lookup(as_json=False)
def baked_badge_svg(request: HttpRequest, reference: str) -> HttpResponse:
    """The badge as SVG with the signed credential baked in (badge wallets import it)."""
    certificate = _public(request, reference, "badge")
    return _svg_response(api.baked_badge(certificate.id, "svg"), filename=f"{certificate.number}.svg")


@require_GET
@public_lookup(as_json=False)
def baked_badge_png(request: HttpRequest, reference: str) -> HttpResponse:
    """The badge as PNG with the signed credential in its ``openbadgecredential`` iTXt chunk."""
    certificate = _public(request, reference, "badge")
    response = HttpResponse(api.baked_badge(certificate.id, "png"), content_type="image/png")
    response["Content-Disposition"] = f'attachment; filename="{certificate.number}.png"'
    response["X-Content-Type-Options"] = "nosniff"
    return response


@require_GET
def badge_artwork(request: HttpRequest, track: str, version: int) -> HttpResponse:
    """A track version's badge artwork (``achievement.image``); names nobody, so not limited."""
    artwork = api.badge_artwork(track, version)
    if artwork is None:
        raise Http404("unknown achievement")
    response = _svg_response(artwork)
    response["Cache-Control"] = "public, max-age=3600"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def status_list(request: HttpRequest, issuer: str, purpose: str, sequence: int) -> JsonResponse:
    """A signed BitstringStatusListCredential; verifiers may cache it for its ``ttl``."""
    document = api.status_list_document(issuer, purpose, sequence)
    if document is None:
        raise Http404("unknown status list")
    response = JsonResponse(document, content_type="application/vc+ld+json")
    response["Cache-Control"] = f"public, max-age={int(credentials_settings.STATUS_LIST_TTL)}"
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def issuer_profile(request: HttpRequest, slug: str) -> JsonResponse:
    """The issuer's profile and controller document: every Multikey it signs or signed with."""
    document = api.controller_document(slug)
    if document is None:
        raise Http404("unknown issuer")
    response = JsonResponse(document, content_type="application/ld+json", json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    return response


@require_GET
def achievement(request: HttpRequest, track: str, version: int) -> JsonResponse:
    """A track version's Achievement (the ``achievement.id`` of its credentials)."""
    document = api.achievement_document(track, version)
    if document is None:
        raise Http404("unknown achievement")
    response = JsonResponse(document, content_type="application/ld+json", json_dumps_params={"ensure_ascii": False})
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _too_large() -> JsonResponse:
    message = _("The file is too large: the limit is %(limit)d bytes.") % {"limit": MAX_BULK_BYTES}
    return JsonResponse({"error": "too_large", "message": str(message)}, status=413)


def _bearer(request: HttpRequest) -> str:
    header = request.META.get("HTTP_AUTHORIZATION", "")
    return header[7:].strip() if header.lower().startswith("bearer ") else ""


@csrf_exempt  # token callers have no session; session callers are re-checked for CSRF below
@require_http_methods(["POST"])
@public_lookup(as_json=True)
def bulk_verify(request: HttpRequest) -> HttpResponse:
    """Employers: POST a CSV (number[, name[, email]]) and get a CSV with one verification per row."""
    if body_too_large(request, MAX_BULK_BYTES):  # before the CSRF check or anything else reads the upload
        return _too_large()
    token = api.authenticate_employer_token(_bearer(request)) if _bearer(request) else None
    user = _user(request)
    if token is None:
        if _bearer(request):
            return JsonResponse({"error": "invalid_token"}, status=401)
        if user is None or not user.is_staff:
            return JsonResponse({"error": "forbidden"}, status=403 if user else 401)
        from django.middleware.csrf import CsrfViewMiddleware  # pylint: disable=import-outside-toplevel

        refused = CsrfViewMiddleware(lambda r: None).process_view(request, None, (), {})
        if refused is not None:
            return refused
    upload = request.FILES.get("file")
    if upload is not None:
        if upload.size > MAX_BULK_BYTES:
            return _too_large()
        raw = upload.read(MAX_BULK_BYTES + 1)
    elif request.content_type == "multipart/form-data":
        return JsonResponse({"error": "no_file", "message": "send the CSV in a form field named file"}, status=400)
    else:
        raw = request.read(MAX_BULK_BYTES + 1)
        if len(raw) > MAX_BULK_BYTES:
            return _too_large()
    try:
        text = raw.decode("utf-8-sig")
        caller = f"token:{token.pk}" if token is not None else f"user:{user.pk}"
        output = api.bulk_verify(text, ip=_ip(request), user=user, token=token, caller=caller)
    except api.BulkRateLimited:
        return too_many(request, as_json=True, retry_after=int(credentials_settings.BULK_RATE_WINDOW))
    except UnicodeDecodeError:
        return JsonResponse({"error": "not_utf8", "message": "upload the CSV as UTF-8"}, status=400)
    except api.BulkInputError as error:
        return JsonResponse({"error": "too_many_rows", "message": str(error)}, status=400)
    log.info("bulk verification by %s", token.organisation if token else user.get_username())
    response = HttpResponse("\ufeff" + output, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="verifications.csv"'
    return response


@require_GET
def my_verifications(request: HttpRequest) -> JsonResponse:
    """The signed-in learner's verification log: who checked their certificates and when."""
    user = _user(request)
    if user is None:
        return JsonResponse({"error": "login_required"}, status=401)
    records = api.verifications_for(user)
    return JsonResponse(
        {
            "verifications": [
                {
                    "at": r.at.isoformat(),
                    "number": r.number,
                    "channel": r.channel,
                    "verifier": r.verifier,
                    "ok": r.ok,
                    "status": r.status,
                }
                for r in records
            ]
        },
        json_dumps_params={"ensure_ascii": False},
    )
