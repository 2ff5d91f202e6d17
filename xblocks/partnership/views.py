"""The committee's pages: the dashboard (figures and charts) and the needs page (list and CSV import).

Every view checks who asks before reading anything: anonymous visitors are sent to sign in, signed-in
users without the named permission get 403. What each viewer sees of the figures is decided by the api.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from xblocks.certification import api as cert_api
from xblocks.core import templates
from xblocks.core.files import body_too_large
from xblocks.core.i18n import direction, language
from xblocks.core.i18n import gettext as _
from xblocks.partnership import api, charts, indicators, permissions
from xblocks.partnership.conf import partnership_settings
from xblocks.partnership.data import Domain

COHORT_KINDS = ("initial", "work_study", "continuing")


def _refusal(request, permission: str):
    """None when the user holds ``permission``; otherwise the answer: sign in first, or 403."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    if not permissions.allowed(request.user, permission):
        return HttpResponse(_("You may not see this page."), status=403, content_type="text/plain; charset=utf-8")
    return None


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain; charset=utf-8")


def _date(request, name: str) -> datetime.date | None:
    raw = request.GET.get(name, "").strip()
    if not raw:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise ValueError(_("%(field)s must be a date written YYYY-MM-DD.") % {"field": name}) from None


def _filters(request) -> dict:
    group_by = request.GET.get("group_by", "school") or "school"
    if group_by not in indicators.GROUPINGS:
        raise ValueError(_("Unknown grouping."))
    try:
        schools = [int(value) for value in request.GET.getlist("school") if value]
    except ValueError:
        raise ValueError(_("A school is given by its number.")) from None
    kinds = [value for value in request.GET.getlist("kind") if value]
    if set(kinds) - set(COHORT_KINDS):
        raise ValueError(_("Unknown cohort kind."))
    domains = [value for value in request.GET.getlist("domain") if value]
    if set(domains) - set(Domain):
        raise ValueError(_("Unknown domain."))
    start, end = _date(request, "from"), _date(request, "to")
    if start and end and start > end:
        raise ValueError(_("The period ends before it starts."))
    return {
        "group_by": group_by,
        "school_ids": schools or None,
        "cohort_kinds": kinds or None,
        "domains": domains or None,
        "track_slugs": [value for value in request.GET.getlist("track") if value] or None,
        "start": start,
        "end": end,
    }


@require_GET
def dashboard_page(request):
    refusal = _refusal(request, permissions.SEE_DASHBOARD)
    if refusal is not None:
        return refusal
    try:
        filters = _filters(request)
        board = api.dashboard(request.user, **filters)
    except PermissionDenied:
        return HttpResponse(_("You may not see this school."), status=403, content_type="text/plain; charset=utf-8")
    except ValueError as error:
        return _bad_request(str(error))
    rtl = direction() == "rtl"
    group = api.group_label(board.group_by)
    chart_list = [
        {
            "id": "enrolled",
            "chart": charts.bar_chart(
                _("Enrolled by %(group)s") % {"group": group},
                [(row.label, row.enrolled) for row in board.rows],
                rtl=rtl,
            ),
            "columns": [group, _("Enrolled")],
            "rows": [(row.label, row.enrolled.shown) for row in board.rows],
        },
        {
            "id": "rate",
            "chart": charts.bar_chart(
                _("Certification rate by %(group)s (%%)") % {"group": group},
                [(row.label, row.certification_rate) for row in board.rows],
                rtl=rtl,
                maximum=100,
            ),
            "columns": [group, _("Certification rate")],
            "rows": [(row.label, row.certification_rate.shown) for row in board.rows],
        },
        {
            "id": "integration",
            "chart": charts.bar_chart(
                _("Integration rate by %(group)s (%%)") % {"group": group},
                [(row.label, row.integration_rate) for row in board.rows],
                rtl=rtl,
                maximum=100,
            ),
            "columns": [group, _("Certified"), _("Placed within 6 months"), _("Integration rate")],
            "rows": [
                (row.label, row.certified.shown, row.placed.shown, row.integration_rate.shown) for row in board.rows
            ],
        },
        {
            "id": "skills",
            "chart": charts.bar_chart(
                _("Verified supply by skill"), [(row.label, row.supply) for row in board.skills], rtl=rtl
            ),
            "columns": [_("Skill"), _("Needed"), _("Verified supply"), _("Pipeline"), _("Gap")],
            "rows": [
                (row.label, row.demand.shown, row.supply.shown, row.pipeline.shown, row.gap.shown)
                for row in board.skills
            ],
        },
        {
            "id": "needs",
            "chart": charts.bar_chart(
                _("Gap to each need by its date"), [(row.label, row.gap) for row in board.needs], rtl=rtl
            ),
            "columns": [_("Need"), _("Role"), _("By"), _("Needed"), _("Verified supply"), _("Pipeline"), _("Gap")],
            "rows": [
                (
                    row.label,
                    row.role_kind,
                    row.by_date.isoformat(),
                    row.demand.shown,
                    row.supply.shown,
                    row.pipeline.shown,
                    row.gap.shown,
                )
                for row in board.needs
            ],
        },
    ]
    scope, _below = permissions.dashboard_scope(request.user)
    html = templates.render(
        "xblocks.partnership",
        "kafaat_partnership/dashboard.html",
        {
            "lang": language(),
            "dir": direction(),
            "board": board,
            "charts": chart_list,
            "group_label": group,
            "filters": filters,
            "groupings": [(key, api.group_label(key)) for key in indicators.GROUPINGS],
            "schools": [(school.id, school.name) for school in cert_api.list_schools(scope)],
            "kinds": [(kind, api.cohort_kind_label(kind)) for kind in COHORT_KINDS],
            "domains": [(str(domain), api.domain_label(domain)) for domain in Domain],
            "tracks": [(track.slug, track.title) for track in cert_api.list_tracks()],
            "domain_rows": board.domains,
            "may_see_needs": permissions.allowed(request.user, permissions.SEE_NEEDS),
        },
    )
    return HttpResponse(html)


@require_http_methods(["GET", "POST"])
def needs_page(request):
    """The needs, soonest first; who may record needs imports a CSV here (a dry run unless they commit)."""
    limit = int(partnership_settings.PARTNERSHIP_MAX_IMPORT_BYTES)
    if body_too_large(request, limit):
        return HttpResponse(_("The file is too large."), status=413, content_type="text/plain; charset=utf-8")
    return csrf_protect(_needs_page)(request)


def _needs_page(request):
    refusal = _refusal(request, permissions.SEE_NEEDS)
    if refusal is not None:
        return refusal
    may_change = permissions.allowed(request.user, permissions.CHANGE_NEEDS)
    limit = int(partnership_settings.PARTNERSHIP_MAX_IMPORT_BYTES)
    report, message = None, ""
    if request.method == "POST":
        if not may_change:
            return HttpResponse(_("You may not record needs."), status=403, content_type="text/plain; charset=utf-8")
        upload = request.FILES.get("file")
        if upload is None:
            message = _("Choose a CSV file.")
        elif upload.size > limit:
            message = _("The file is too large.")
        else:
            report = api.import_needs(request.user, upload.read(limit + 1), dry_run=request.POST.get("commit") != "1")
    lang = language()
    skills = {skill.id: skill.name(lang) for skill in api.list_skills(include_retired=True)}
    needs = [
        {
            "employer": need.employer_name,
            "skills": ", ".join(skills.get(skill, skill) for skill in need.skills),
            "count": need.count,
            "by_date": need.by_date.isoformat(),
            "role": api.role_kind_label(need.role_kind),
            "note": need.note,
        }
        for need in api.list_needs()
    ]
    html = templates.render(
        "xblocks.partnership",
        "kafaat_partnership/needs.html",
        {
            "lang": lang,
            "dir": direction(),
            "csrf_token": get_token(request),
            "needs": needs,
            "may_change": may_change,
            "report": report,
            "message": message,
            "skill_ids": sorted(skills),
        },
    )
    return HttpResponse(html)
