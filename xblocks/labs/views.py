"""The labs catalogue page for staff and authors: every lab with its domain, machines, duration, points,
languages and last harness result. Thin: who may see it is a named permission, the rows come from
``labs.api.lab_catalogue``."""

from __future__ import annotations

from django.contrib.auth.views import redirect_to_login
from django.http import HttpResponse
from django.views.decorators.http import require_GET

from xblocks.core.i18n import direction, language
from xblocks.core.i18n import gettext as _
from xblocks.core.templates import render
from xblocks.labs import api, permissions


@require_GET
def catalogue_page(request):
    """``?course=KEY`` lists that course's labs (its staff may look); without it, the configured OLX (staff)."""
    course = (request.GET.get("course") or "").strip()[:255]
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not permissions.allowed(request.user, permissions.SEE_CATALOGUE, course or None):
        return HttpResponse(_("You may not see this page."), status=403, content_type="text/plain; charset=utf-8")
    lang = language()
    entries = api.lab_catalogue(course_key=course or None)
    rows = [
        {
            "lab_key": entry.lab_key,
            "title": (entry.titles or {}).get(lang) or entry.display_name,
            "domain": entry.domain,
            "skills": ", ".join(entry.skills),
            "machines": ", ".join(entry.machines),
            "machine_count": len(entry.machines),
            "minutes": entry.time_limit // 60,
            "points": entry.max_score,
            "languages": " ".join(entry.languages),
            "result": entry.result,
            "error": entry.error,
            "where": entry.where,
        }
        for entry in entries
    ]
    page = render(
        "xblocks.labs",
        "kafaat_lab/catalogue.html",
        {"rows": rows, "course": course, "lang": lang, "dir": direction(lang)},
    )
    return HttpResponse(page, content_type="text/html; charset=utf-8")
