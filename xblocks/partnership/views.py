"""The committee's pages: the dashboard (figures and charts) and the needs page (list and CSV import).

Every view checks who asks before reading anything: anonymous visitors are sent to sign in, signed-in
users without the named permission get 403. What each viewer sees of the figures is decided by the api.
"""

from __future__ import annotations

import datetime

from django.contrib.auth.views import redirect_to_login
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpResponse, JsonResponse
from django.middleware.csrf import get_token
from django.utils import timezone
from django.views.decorators.csrf import csrf_protect
from django.views.decorators.http import require_GET, require_http_methods

from xblocks.certification import api as cert_api
from xblocks.core import templates
from xblocks.core.files import body_too_large
from xblocks.core.i18n import direction, language
from xblocks.core.i18n import gettext as _
from xblocks.partnership import api, charts, indicators, permissions
from xblocks.partnership.conf import partnership_settings
from xblocks.partnership.data import Domain, RoleKind

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
    stage_rows = [(row.label, row.figures[0], row.figures[1]) for row in board.funnel]
    funnel = {
        "id": "funnel",
        "chart": charts.funnel_chart(_("From enrolment to placement"), stage_rows, rtl=rtl),
        "columns": [_("Stage"), _("Count"), _("Share of enrolled")],
        "rows": [(label, count.shown, share.shown) for label, count, share in stage_rows],
    }
    month_labels = [month.strftime("%Y-%m") for month in board.coverage_months]  # numeric: the same in every language
    history = {
        "id": "coverage-history",
        "chart": charts.coverage_chart(
            _("Verified supply against each need, month by month"),
            month_labels,
            [
                (row.label, row.figures[0].value, row.by_date.isoformat(), row.figures[1:])
                for row in board.coverage_history
            ],
            rtl=rtl,
        ),
        "columns": [_("Month")] + [row.label for row in board.coverage_history],
        "rows": [
            (_("Target"), *(f"{row.figures[0].shown} ({row.by_date.isoformat()})" for row in board.coverage_history))
        ]
        + [
            (label, *(row.figures[1 + index].shown for row in board.coverage_history))
            for index, label in enumerate(month_labels)
        ],
    }
    scope, _below = permissions.dashboard_scope(request.user)
    html = templates.render(
        "xblocks.partnership",
        "kafaat_partnership/dashboard.html",
        {
            "lang": language(),
            "dir": direction(),
            "board": board,
            "charts": chart_list,
            "funnel": funnel,
            "outcome_tables": [
                (_("Offers and placements by school"), "school", board.outcomes_by_school),
                (_("Offers and placements by domain"), "domain", board.outcomes_by_domain),
            ],
            "history": history,
            "group_label": group,
            "filters": filters,
            "groupings": [(key, api.group_label(key)) for key in indicators.GROUPINGS],
            "schools": [(school.id, school.name) for school in cert_api.list_schools(scope)],
            "kinds": [(kind, api.cohort_kind_label(kind)) for kind in COHORT_KINDS],
            "domains": [(str(domain), api.domain_label(domain)) for domain in Domain],
            "tracks": [(track.slug, track.title) for track in cert_api.list_tracks()],
            "domain_rows": board.domains,
            "nav": _nav(request.user, "dashboard"),
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
            message = _("Choose a CSV or XLSX file.")
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
            "nav": _nav(request.user, "needs"),
        },
    )
    return HttpResponse(html)


# ---------------------------------------------------------------- offers, placements, projects, reports


def _text(message: str, status: int) -> HttpResponse:
    return HttpResponse(message, status=status, content_type="text/plain; charset=utf-8")


def _forbidden() -> HttpResponse:
    return _text(_("You may not do this."), 403)


def _nav(user, current: str) -> list[dict]:
    """The partnership pages this user may open, for the header of every page."""
    pages = [
        ("dashboard", "../dashboard/", _("Dashboard"), permissions.SEE_DASHBOARD),
        ("needs", "../needs/", _("Employers' needs"), permissions.SEE_NEEDS),
        ("offers", "../offers/", _("Offers"), permissions.SEE_OFFERS),
        ("placements", "../placements/", _("Placements"), permissions.SEE_PLACEMENTS),
        ("projects", "../projects/", _("Projects"), permissions.SEE_PROJECTS),
        ("reports", "../reports/", _("Reports"), permissions.SEE_REPORTS),
        ("invitations", "../invitations/", _("My invitations"), permissions.SEE_INVITATIONS),
    ]
    return [
        {"url": url, "label": label, "current": key == current}
        for key, url, label, permission in pages
        if permissions.allowed(user, permission)
    ]


def _page(request, template: str, title: str, current: str, context: dict, *, depth: int = 0) -> HttpResponse:
    nav = _nav(request.user, current)
    if depth:  # a page one folder further down (an offer's pool, a report) reaches the others one level up
        for item in nav:
            item["url"] = "../" * depth + item["url"]
    html = templates.render(
        "xblocks.partnership",
        f"kafaat_partnership/{template}",
        {
            "lang": language(),
            "dir": direction(),
            "csrf_token": get_token(request),
            "page_title": title,
            "nav": nav,
            "base": templates.template("xblocks.partnership", "kafaat_partnership/page.html"),
            **context,
        },
    )
    return HttpResponse(html)


def _form_date(request, name: str, *, required: bool = True) -> datetime.date | None:
    raw = request.POST.get(name, "").strip()
    if not raw and not required:
        return None
    try:
        return datetime.date.fromisoformat(raw)
    except ValueError:
        raise ValidationError(_("%(field)s must be a date written YYYY-MM-DD.") % {"field": name}) from None


def _skill_names() -> dict[str, str]:
    lang = language()
    return {skill.id: skill.name(lang) for skill in api.list_skills(include_retired=True)}


def _offer_row(offer, skills: dict, schools: dict, cohorts: dict | None = None) -> dict:
    targets = [schools.get(school, str(school)) for school in offer.school_ids] or [_("every school")]
    targets += [(cohorts or {}).get(cohort, str(cohort)) for cohort in offer.cohort_ids]
    targets += [api.cohort_kind_label(kind) for kind in offer.cohort_kinds]
    return {
        "id": offer.id,
        "title": offer.title,
        "employer": offer.employer_name,
        "kind": api.role_kind_label(offer.kind),
        "skills": ", ".join(skills.get(s, s) for s in offer.skills),
        "targets": ", ".join(targets),
        "dates": f"{offer.starts_on.isoformat()} – {offer.ends_on.isoformat() if offer.ends_on else '…'}",
        "apply_by": offer.apply_by.isoformat(),
        "places": offer.places,
        "invited": offer.invited,
        "accepted": offer.accepted,
        "closed": offer.closed,
        "description": offer.description,
    }


@require_http_methods(["GET", "POST"])
@csrf_protect
def offers_page(request):
    """Offers: every viewer who may see them reads the list; an employer representative publishes here."""
    refusal = _refusal(request, permissions.SEE_OFFERS)
    if refusal is not None:
        return refusal
    may_change = permissions.allowed(request.user, permissions.CHANGE_OFFERS)
    message = ""
    if request.method == "POST" and request.POST.get("action") == "close":
        try:
            api.close_offer(request.user, request.POST.get("offer"))
        except PermissionDenied:
            return _forbidden()
        message = _("The offer is closed.")
    elif request.method == "POST":
        if not may_change:
            return _forbidden()
        try:
            api.create_offer(
                request.user,
                title=request.POST.get("title", ""),
                kind=request.POST.get("kind", ""),
                skills=request.POST.getlist("skills"),
                school_ids=[int(value) for value in request.POST.getlist("school") if value],
                cohort_kinds=request.POST.getlist("cohort_kind"),
                cohort_ids=[int(value) for value in request.POST.getlist("cohort") if value],
                starts_on=_form_date(request, "starts_on"),
                ends_on=_form_date(request, "ends_on", required=False),
                apply_by=_form_date(request, "apply_by"),
                places=int(request.POST.get("places") or 0),
                description=request.POST.get("description", "")[:5000],
            )
            message = _("The offer is published.")
        except (ValidationError, ValueError) as error:
            return _bad_request(_("The offer was not published: %(reason)s") % {"reason": _reason(error)})
    skills = _skill_names()
    schools = {school.id: school.name for school in cert_api.list_schools()}
    cohorts = {cohort.id: f"{cohort.school_name} — {cohort.name}" for cohort in cert_api.cohorts_of_schools()}
    return _page(
        request,
        "offers.html",
        _("Offers"),
        "offers",
        {
            "offers": [_offer_row(offer, skills, schools, cohorts) for offer in api.list_offers(request.user)],
            "cohorts": sorted(cohorts.items(), key=lambda item: item[1]),
            "may_change": may_change,
            "may_pool": permissions.allowed(request.user, permissions.SEE_TALENT_POOL),
            "message": message,
            "role_kinds": [(str(kind), api.role_kind_label(kind)) for kind in RoleKind],
            "skills": sorted(((sid, name) for sid, name in skills.items()), key=lambda item: item[1]),
            "schools": sorted(schools.items(), key=lambda item: item[1]),
            "cohort_kinds": [(kind, api.cohort_kind_label(kind)) for kind in COHORT_KINDS],
        },
    )


def _reason(error) -> str:
    if isinstance(error, ValidationError):
        return "; ".join(str(message) for message in error.messages)
    return str(error)


def _status_label(status: str) -> str:
    return {
        "": _("not shortlisted"),
        "shortlisted": _("shortlisted"),
        "invited": _("invited, waiting for an answer"),
        "accepted": _("accepted"),
        "declined": _("declined"),
    }.get(status, status)


@require_http_methods(["GET", "POST"])
@csrf_protect
def pool_page(request, offer_id: int):
    """An offer's talent pool, for the offer's employer only: shortlist, invite, take off the shortlist."""
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        offer = api.get_offer(request.user, offer_id)
        if not permissions.allowed(request.user, permissions.SEE_TALENT_POOL):
            raise PermissionDenied
        message = ""
        if request.method == "POST":
            action, enrollment = request.POST.get("action"), request.POST.get("enrollment")
            if action == "shortlist":
                api.shortlist(request.user, offer_id, enrollment)
                message = _("Added to the shortlist.")
            elif action == "invite":
                api.invite(request.user, offer_id, enrollment)
                message = _("Invitation sent.")
            elif action == "drop":
                api.drop(request.user, offer_id, enrollment)
                message = _("Removed from the shortlist.")
            else:
                return _bad_request(_("Unknown action."))
        candidates = api.talent_pool(request.user, offer_id)
    except PermissionDenied:
        return _forbidden()
    except ValidationError as error:
        return _bad_request(_reason(error))
    skills = _skill_names()
    schools = {school.id: school.name for school in cert_api.list_schools()}
    return _page(
        request,
        "pool.html",
        _("Talent pool: %(offer)s") % {"offer": offer.title},
        "offers",
        {
            "offer": _offer_row(offer, skills, schools),
            "message": message,
            "candidates": [
                {
                    "enrollment_id": c.enrollment_id,
                    "name": c.name,
                    "school": f"{c.school_name} — {c.cohort_name}",
                    "certificates": "; ".join(
                        f"{title} ({number})" + (f", {_('valid until')} {until.isoformat()}" if until else "")
                        for number, title, until in c.certificates
                    )
                    or _("none yet"),
                    "skills": ", ".join(skills.get(s, s) for s in c.skills) or "—",
                    "matched": f"{len(c.matched)} / {len(offer.skills)}",
                    "status": c.status,
                    "status_label": _status_label(c.status),
                }
                for c in candidates
            ],
        },
        depth=2,
    )


@require_http_methods(["GET", "POST"])
@csrf_protect
def invitations_page(request):
    """The learner's own page: the invitations they received (accept or decline) and who may contact them."""
    refusal = _refusal(request, permissions.SEE_INVITATIONS)
    if refusal is not None:
        return refusal
    message = ""
    if request.method == "POST":
        try:
            if request.POST.get("action") == "answer":
                status = api.answer_invitation(
                    request.user, request.POST.get("invitation"), request.POST.get("answer") == "accept"
                )
                message = (
                    _("You accepted the invitation.") if status == "accepted" else _("You declined the invitation.")
                )
            elif request.POST.get("action") == "contact":
                contact = request.POST.get("value") == "1"
                api.set_contact_consent(
                    request.user, request.POST.get("enrollment"), request.POST.get("employer", ""), contact
                )
                message = _("Saved.")
            else:
                return _bad_request(_("Unknown action."))
        except PermissionDenied:
            return _forbidden()
        except ValidationError as error:
            return _bad_request(_reason(error))
    skills = _skill_names()
    schools = {school.id: school.name for school in cert_api.list_schools()}
    invitations = []
    for invitation in api.learner_invitations(request.user):
        row = _offer_row(invitation.offer, skills, schools)
        row.update(
            id=invitation.id,
            status=invitation.status,
            status_label=_status_label(invitation.status),
        )
        invitations.append(row)
    cohorts = {p.enrollment_id: p.cohort_name for p in cert_api.learner_progress(request.user)}
    consents = [
        {
            "enrollment_id": enrollment_id,
            "cohort": cohorts.get(enrollment_id, ""),
            "employer": employer.name,
            "slug": employer.slug,
            "shared": shared,
            "contact": contact,
        }
        for enrollment_id, rows in sorted(cert_api.learner_offer_consents(request.user).items())
        for employer, shared, contact in rows
    ]
    return _page(
        request,
        "invitations.html",
        _("My invitations"),
        "invitations",
        {"invitations": invitations, "consents": consents, "message": message},
    )


@require_http_methods(["GET", "POST"])
@csrf_protect
def placements_page(request):
    """Placements in the viewer's scope; coordinators (their schools) and employers (consenting learners) record."""
    refusal = _refusal(request, permissions.SEE_PLACEMENTS)
    if refusal is not None:
        return refusal
    may_change = permissions.allowed(request.user, permissions.CHANGE_PLACEMENTS)
    message = ""
    if request.method == "POST":
        if not may_change:
            return _forbidden()
        try:
            api.record_placement(
                request.user,
                request.POST.get("enrollment"),
                kind=request.POST.get("kind", ""),
                started_on=_form_date(request, "started_on"),
                ended_on=_form_date(request, "ended_on", required=False),
                learner_consented=request.POST.get("consent") == "1",
                employer_slug=request.POST.get("employer", ""),
                employer_name=request.POST.get("employer_name", "")[:255],
                contract_type=request.POST.get("contract_type", "")[:64],
            )
            message = _("The placement is recorded.")
        except PermissionDenied:
            return _forbidden()
        except (ValidationError, ValueError) as error:
            return _bad_request(_("The placement was not recorded: %(reason)s") % {"reason": _reason(error)})
    placements = [
        {
            "learner": p.learner,
            "kind": api.role_kind_label(p.kind),
            "employer": p.employer,
            "contract_type": p.contract_type,
            "started_on": p.started_on.isoformat(),
            "ended_on": p.ended_on.isoformat() if p.ended_on else "",
        }
        for p in api.list_placements(request.user)
    ]
    return _page(
        request,
        "placements.html",
        _("Placements"),
        "placements",
        {
            "placements": placements,
            "may_change": may_change,
            "message": message,
            "candidates": api.placement_candidates(request.user) if may_change else [],
            "role_kinds": [(str(kind), api.role_kind_label(kind)) for kind in RoleKind],
            "employers": [(e.slug, e.name) for e in cert_api.list_employers()],
            "employer_fixed": permissions.representative_employer_id(request.user) is not None,
        },
    )


@require_http_methods(["GET", "POST"])
@csrf_protect
def projects_page(request):
    """R&D and capstone projects: coordinators start them, the mentor signs learners off."""
    refusal = _refusal(request, permissions.SEE_PROJECTS)
    if refusal is not None:
        return refusal
    may_change = permissions.allowed(request.user, permissions.CHANGE_PROJECTS)
    message = ""
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "create":
                if not may_change:
                    return _forbidden()
                api.create_project(
                    request.user,
                    title=request.POST.get("title", ""),
                    kind=request.POST.get("kind", "capstone"),
                    school_id=int(request.POST.get("school") or 0),
                    domain=request.POST.get("domain", ""),
                    employer_slug=request.POST.get("employer", ""),
                    mentor_username=request.POST.get("mentor", "").strip(),
                    requirement_key=request.POST.get("requirement_key", "").strip(),
                    enrollment_ids=[int(value) for value in request.POST.getlist("enrollment") if value],
                )
                message = _("The project is started.")
            elif action == "status":
                api.set_project_status(request.user, request.POST.get("project"), request.POST.get("status", ""))
                message = _("Saved.")
            elif action == "sign_off":
                api.sign_off(
                    request.user,
                    request.POST.get("project"),
                    request.POST.get("enrollment"),
                    request.POST.get("value") == "1",
                )
                message = _("Saved.")
            else:
                return _bad_request(_("Unknown action."))
        except PermissionDenied:
            return _forbidden()
        except (ValidationError, ValueError) as error:
            return _bad_request(_reason(error))
    projects = []
    for project in api.list_projects(request.user):
        projects.append(
            {
                "id": project.id,
                "title": project.title,
                "kind": _("R&D") if project.kind == "research" else _("Capstone"),
                "school": project.school_name,
                "domain": api.domain_label(project.domain),
                "status": api.project_status_label(project.status),
                "employer": project.employer_name,
                "mentor": project.mentor,
                "requirement_key": project.requirement_key,
                "members": project.members,
                "may_sign": permissions.allowed(request.user, permissions.SIGN_OFF_PROJECTS, project),
                "may_change": permissions.allowed(request.user, permissions.CHANGE_PROJECTS, project),
                "status_key": project.status,
            }
        )
    managed = cert_api.managed_school_ids(request.user)
    schools = cert_api.list_schools(managed)
    learners = (
        api.placement_candidates(request.user)
        if may_change and permissions.allowed(request.user, permissions.CHANGE_PLACEMENTS)
        else []
    )
    return _page(
        request,
        "projects.html",
        _("Projects"),
        "projects",
        {
            "projects": projects,
            "may_change": may_change,
            "message": message,
            "schools": [(school.id, school.name) for school in schools],
            "domains": [(str(domain), api.domain_label(domain)) for domain in Domain],
            "employers": [(e.slug, e.name) for e in cert_api.list_employers()],
            "project_kinds": [("capstone", _("Capstone")), ("research", _("R&D"))],
            "statuses": [(s, api.project_status_label(s)) for s in ("proposed", "active", "completed", "cancelled")],
            "learners": learners,
        },
    )


@require_http_methods(["GET", "POST"])
@csrf_protect
def reports_page(request):
    """The committee's reports: ask for one for a period, follow its progress, download it (members only)."""
    refusal = _refusal(request, permissions.SEE_REPORTS)
    if refusal is not None:
        return refusal
    may_change = permissions.allowed(request.user, permissions.CHANGE_REPORTS)
    message = ""
    if request.method == "POST":
        if not may_change:
            return _forbidden()
        try:
            start = _form_date(request, "from")
            end = _form_date(request, "to")
            api.request_report(request.user, start, end, language())
            message = _("The report is being written.")
        except ValidationError as error:
            return _bad_request(_reason(error))
    today = timezone.localdate()
    return _page(
        request,
        "reports.html",
        _("Committee reports"),
        "reports",
        {
            "reports": [
                {
                    "id": r.id,
                    "start": r.start.isoformat(),
                    "end": r.end.isoformat(),
                    "language": r.language,
                    "created": timezone.localtime(r.created_at).strftime("%Y-%m-%d %H:%M"),
                    "progress": r.progress,
                    "ready": r.ready,
                    "status_label": _report_status(r.status),
                }
                for r in api.list_reports(request.user)
            ],
            "may_change": may_change,
            "message": message,
            "default_start": today.replace(year=today.year - 3, month=1, day=1).isoformat(),
            "default_end": today.isoformat(),
        },
    )


def _report_status(status: str) -> str:
    return {
        "pending": _("waiting"),
        "running": _("being written"),
        "done": _("ready"),
        "failed": _("failed"),
    }.get(status, status)


@require_GET
def report_status(request, report_id: int):
    """The report's progress as JSON (the reports page polls it); 403 for anyone but a committee member."""
    if not request.user.is_authenticated:
        return JsonResponse({"error": "sign in"}, status=401)
    try:
        report = api.get_report(request.user, report_id)
    except PermissionDenied:
        return JsonResponse({"error": "forbidden"}, status=403)
    return JsonResponse(
        {
            "status": report.status,
            "status_label": _report_status(report.status),
            "progress": report.progress,
            "ready": report.ready,
        }
    )


@require_GET
def report_download(request, report_id: int, fmt: str):
    if not request.user.is_authenticated:
        return redirect_to_login(request.get_full_path())
    try:
        content, content_type, name = api.report_file(request.user, report_id, fmt)
    except PermissionDenied:
        return _forbidden()
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response
