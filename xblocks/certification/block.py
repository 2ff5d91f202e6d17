"""The ``kafaat_certification`` XBlock: a thin adapter showing a learner's track progress and a scoped cohort roster."""

from __future__ import annotations

import logging

from django.core.exceptions import PermissionDenied
from web_fragments.fragment import Fragment
from webob import Response
from xblock.core import XBlock
from xblock.fields import Scope, String

from xblocks.certification import api, permissions, roster
from xblocks.certification.conf import cert_settings
from xblocks.core import compat, templates
from xblocks.core.i18n import direction, gettext_lazy, js_catalog, language
from xblocks.core.resources import add_http_js, add_i18n_js, resource_text

log = logging.getLogger(__name__)


@XBlock.needs("user")
class CertificationBlock(XBlock):
    """Shows the learner's progress toward a track's certificate; coordinators and staff also get the roster."""

    display_name = String(
        display_name=gettext_lazy("Display name"), default=gettext_lazy("Certification progress"), scope=Scope.settings
    )
    track_slug = String(
        display_name=gettext_lazy("Track"),
        default="",
        help=gettext_lazy("Slug of the certification track (course_content/tracks/*.json)"),
        scope=Scope.settings,
    )

    editable_fields = ("display_name", "track_slug")

    # ------------------------------------------------------------------ helpers

    def _requester(self):
        try:
            return compat.current_requester(self)
        except PermissionError:
            return None

    def _cohorts(self, user):
        return [c for c in api.list_cohorts(user) if not self.track_slug or c.track_slug == self.track_slug]

    @staticmethod
    def _certificate_links(number: str) -> dict:
        return {
            "verify_url": cert_settings.CERT_VERIFY_URL.format(number=number),
            "pdf_url": cert_settings.CERT_PDF_URL.format(number=number),
        }

    @staticmethod
    def _verifications(user) -> list[dict]:
        """Who verified the learner's certificates, when the credentials app is installed (it is optional)."""
        from django.apps import apps  # pylint: disable=import-outside-toplevel

        if not apps.is_installed("xblocks.certification.credentials"):
            return []
        from xblocks.certification.credentials import api as credentials_api  # pylint: disable=import-outside-toplevel

        return [
            {"at": record.at, "number": record.number, "verifier": record.verifier, "ok": record.ok}
            for record in credentials_api.verifications_for(user)[:20]
        ]

    @staticmethod
    def _invitations_url() -> str:
        """Where the learner answers employers' invitations and says who may contact them (the partnership
        app's page, linked by address: certification never imports the app above it)."""
        from django.apps import apps  # pylint: disable=import-outside-toplevel

        if not apps.is_installed("xblocks.partnership"):
            return ""
        return str(cert_settings.CERT_INVITATIONS_URL or "")

    @staticmethod
    def _public_profile(user) -> dict | None:
        """The learner's public profile switch (on or off, and where to change it), with the credentials app."""
        from django.apps import apps  # pylint: disable=import-outside-toplevel

        if user is None or not apps.is_installed("xblocks.certification.credentials"):
            return None
        from xblocks.certification.credentials import api as credentials_api  # pylint: disable=import-outside-toplevel

        profile = credentials_api.my_public_profile(user)
        return {"enabled": profile.enabled, "url": profile.url, "manage_url": credentials_api.manage_profile_url()}

    def _learner_context(self, user) -> list[dict]:
        items = []
        consents = api.learner_consents(user)
        for progress in api.learner_progress(user, track_slug=self.track_slug or None):
            evaluation = progress.evaluation
            items.append(
                {
                    "track_title": progress.track_title,
                    "track_version": progress.track_version,
                    "cohort_name": progress.cohort_name,
                    "met": evaluation.met,
                    "progress": round(evaluation.progress * 100),
                    "projected": evaluation.projected_completion,
                    "requirements": [
                        {
                            "title": r.title,
                            "met": r.met,
                            "current": r.current_display,
                            "required": r.required_display,
                            "progress": round(r.progress * 100),
                            "missing": r.missing,
                            "depth": depth,
                        }
                        for depth, r in evaluation.walk()
                    ],
                    "hours_total": evaluation.hours_total,
                    "enrollment_id": progress.enrollment_id,
                    "consents": [
                        {"slug": employer.slug, "name": employer.name, "granted": granted}
                        for employer, granted in consents.get(progress.enrollment_id, [])
                    ],
                    "certificate": {
                        "number": progress.certificate_number,
                        "status": progress.certificate_status,
                        "valid_until": progress.certificate_valid_until,
                        **self._certificate_links(progress.certificate_number),
                    }
                    if progress.certificate_number
                    else None,
                }
            )
        return items

    # ------------------------------------------------------------------ views

    def student_view(self, context=None):
        """The learner's progress per requirement, then (for coordinators and staff) the cohort roster."""
        lang = language()
        requester = self._requester()
        user = requester.user if requester else None
        cohorts = self._cohorts(user) if user is not None and permissions.is_coordinator_or_staff(user) else []
        frag = Fragment(
            templates.render(
                "xblocks.certification",
                "kafaat_certification/student.html",
                {
                    "dir": direction(lang),
                    "display_name": self.display_name,
                    "signed_in": user is not None,
                    "tracks": self._learner_context(user) if user is not None else [],
                    "verifications": self._verifications(user) if user is not None else [],
                    "public_profile": self._public_profile(user),
                    "cohorts": cohorts,
                    "is_manager": bool(cohorts),
                    "csv_url": self.runtime.handler_url(self, "roster_csv"),
                    "invitations_url": self._invitations_url(),
                },
            )
        )
        frag.add_css(resource_text("xblocks.certification", "static/css/certification.css"))
        add_i18n_js(frag)
        add_http_js(frag)
        frag.add_javascript(resource_text("xblocks.certification", "static/js/certification.js"))
        frag.initialize_js("KafaatCertificationBlock", {"i18n": js_catalog(lang), "isManager": bool(cohorts)})
        return frag

    def studio_view(self, context=None):
        """A small settings form: the display name and the track."""
        lang = language()
        frag = Fragment(
            templates.render(
                "xblocks.certification",
                "kafaat_certification/studio.html",
                {
                    "dir": direction(lang),
                    "display_name": self.display_name,
                    "track_slug": self.track_slug,
                    "tracks": api.list_tracks(),
                },
            )
        )
        add_i18n_js(frag)
        add_http_js(frag)
        frag.add_javascript(resource_text("xblocks.certification", "static/js/certification.js"))
        frag.initialize_js("KafaatCertificationStudio", {"i18n": js_catalog(lang)})
        return frag

    # ------------------------------------------------------------------ handlers

    @XBlock.json_handler
    def progress(self, data, suffix=""):
        """The current learner's progress (their own enrolments only)."""
        requester = self._requester()
        if requester is None:
            return {"error": "forbidden"}
        return {
            "tracks": [p.as_json() for p in api.learner_progress(requester.user, track_slug=self.track_slug or None)]
        }

    @XBlock.json_handler
    def set_consent(self, data, suffix=""):
        """The learner shares (or stops sharing) their records with an employer, for their own enrolment only."""
        requester = self._requester()
        if requester is None:
            return {"error": "forbidden"}
        try:
            api.set_own_consent(
                requester.user, data.get("enrollment"), str(data.get("employer") or ""), bool(data.get("granted"))
            )
        except PermissionDenied:
            log.warning("consent refused: user %s, enrolment %r", requester.user.pk, data.get("enrollment"))
            return {"error": "forbidden"}
        return {"ok": True, "granted": bool(data.get("granted"))}

    @XBlock.json_handler
    def roster(self, data, suffix=""):
        """The roster of one cohort the requester manages; any other cohort is refused."""
        requester = self._requester()
        if requester is None:
            return {"error": "forbidden", "rows": []}
        try:
            rows = api.cohort_roster(
                requester.user,
                data.get("cohort"),
                search=str(data.get("search") or "")[:100],
                state=str(data.get("state") or ""),
            )
        except PermissionDenied:
            log.warning("roster refused: user %s, cohort %r", requester.user.pk, data.get("cohort"))
            return {"error": "forbidden", "rows": []}
        return {"rows": [roster.row_json(row) for row in rows]}

    @XBlock.json_handler
    def save_settings(self, data, suffix=""):
        """Studio: store the display name and track (staff only)."""
        requester = self._requester()
        if requester is None or not requester.is_staff:
            return {"error": "forbidden"}
        slug = str(data.get("track_slug") or "").strip()
        if slug and api.get_track(slug) is None:
            return {"error": "unknown track"}
        self.display_name = str(data.get("display_name") or self.display_name)[:200]
        self.track_slug = slug
        return {"ok": True}

    @XBlock.handler
    def roster_csv(self, request, suffix=""):
        """The roster of one cohort as CSV (GET ``?cohort=ID``), cells safe against formula injection."""
        requester = self._requester()
        if requester is None:
            return Response(status=403)
        try:
            rows = api.cohort_roster(
                requester.user,
                request.GET.get("cohort"),
                search=request.GET.get("search", "")[:100],
                state=request.GET.get("state", ""),
            )
        except PermissionDenied:
            log.warning("roster CSV refused: user %s, cohort %r", requester.user.pk, request.GET.get("cohort"))
            return Response(status=403)
        response = Response(body=roster.csv_text(rows).encode("utf-8-sig"), content_type="text/csv", charset="utf-8")
        response.headers["Content-Disposition"] = 'attachment; filename="roster.csv"'
        response.headers["X-Content-Type-Options"] = "nosniff"
        return response

    # ------------------------------------------------------------------ workbench

    @staticmethod
    def workbench_scenarios():
        """The sample tracks; ``make demo`` seeds learners: ?student=amina, yanis, coordinator, staff."""
        return [
            (
                "Kafaat certification: Cloud & DevOps practitioner",
                '<kafaat_certification track_slug="cloud-devops-practitioner"/>',
            ),
            ("Kafaat certification: Security analyst", '<kafaat_certification track_slug="security-analyst"/>'),
            ("Kafaat certification: every track", "<kafaat_certification/>"),
        ]
