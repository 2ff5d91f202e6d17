"""Django admin: platform staff manage everything; coordinators (``is_staff`` + a school) only their schools' rows.

Every admin answers its permissions, querysets and foreign-key choices from ``permissions`` (the named
permissions the api and views use too). Hours and sign-offs are added through ``api.add_hours`` and
``api.add_attestation``, so a forged form meets the same checks as the JSON API; ledgers and the audit
chain are add-only or read-only.
"""

from __future__ import annotations

import django
from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import models as django_models
from django.template.response import TemplateResponse

from xblocks.certification import api, models, permissions
from xblocks.core.i18n import gettext, ngettext
from xblocks.core.i18n import gettext_lazy as _

P = permissions


def _user(request):
    return request.user


class PermissionAdmin(admin.ModelAdmin):
    """Every ``has_*_permission`` answers from the named permissions (``permissions.RULES``), nothing else.

    ``see``/``add``/``change``/``delete`` name the permission for each action (None: nobody); the
    queryset holds only rows whose school (``school_path``) the user may see, so another school's row
    answers "does not exist". Foreign-key choices offer only what the user may change, and a forged id
    outside them is an invalid choice.
    """

    see = P.SEE_REFERENCE
    add = P.CHANGE_REFERENCE
    change = P.CHANGE_REFERENCE
    delete = P.CHANGE_REFERENCE
    school_path: str | None = None  # e.g. "cohort__school_id"; None: reference data of no school

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if self.school_path is None:
            return queryset
        return P.scope(queryset, _user(request), self.school_path)

    def _may(self, request, permission, obj=None) -> bool:
        return permission is not None and P.allowed(_user(request), permission, obj)

    def has_module_permission(self, request):
        return self._may(request, self.see)

    def has_view_permission(self, request, obj=None):
        return self._may(request, self.see, obj) or self._may(request, self.change, obj)

    def has_add_permission(self, request):
        return self._may(request, self.add)

    def has_change_permission(self, request, obj=None):
        return self._may(request, self.change, obj)

    def has_delete_permission(self, request, obj=None):
        return self._may(request, self.delete, obj)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        user = _user(request)
        if db_field.related_model is models.School:
            kwargs["queryset"] = P.scope(models.School.objects.all(), user, "pk", change=True)
        elif db_field.related_model is models.Cohort:
            kwargs["queryset"] = P.cohort_queryset(user, change=True).select_related("school")
        elif db_field.related_model is models.Enrollment:
            kwargs["queryset"] = P.scope(models.Enrollment.objects.all(), user, "cohort__school_id", change=True)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class PlatformOnlyAdmin(PermissionAdmin):
    """Reference data (schools, employers, tracks): platform staff edit, coordinators may look."""


class SchoolScopedAdmin(PermissionAdmin):
    """Rows that belong to a school; coordinators see and change only their own."""

    see = P.SEE_COHORT
    add = None
    change = None
    delete = None
    school_path = "school_id"


@admin.register(models.School)
class SchoolAdmin(PlatformOnlyAdmin):
    list_display = ("name", "slug", "country")
    # Django 5.0 added assume_scheme (and warns until it is set); Django 4.2 always assumes http.
    formfield_overrides = {django_models.URLField: {"assume_scheme": "https"}} if django.VERSION >= (5, 0) else {}
    search_fields = ("name", "slug")
    school_path = "pk"  # a coordinator sees their own schools only


@admin.register(models.Employer)
class EmployerAdmin(PlatformOnlyAdmin):
    list_display = ("name", "slug")


@admin.register(models.SchoolCoordinator)
class SchoolCoordinatorAdmin(PlatformOnlyAdmin):
    list_display = ("user", "school")
    see = P.SEE_COORDINATORS
    add = change = delete = P.CHANGE_COORDINATORS


class RequirementInline(admin.TabularInline):
    model = models.Requirement
    extra = 0
    fields = ("purpose", "parent", "position", "kind", "title", "key", "category", "source", "threshold", "due_date")

    def _editable(self, request, obj) -> bool:
        return P.allowed(_user(request), P.CHANGE_REFERENCE) and not (obj and obj.published)

    def has_add_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_change_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self._editable(request, obj)

    def has_view_permission(self, request, obj=None):
        return P.allowed(_user(request), P.SEE_REFERENCE)


@admin.register(models.Track)
class TrackAdmin(PlatformOnlyAdmin):
    list_display = ("title", "slug")


@admin.register(models.TrackVersion)
class TrackVersionAdmin(PlatformOnlyAdmin):
    list_display = ("track", "version", "title", "published", "validity_mode", "validity_months")
    list_filter = ("published", "track")
    inlines = [RequirementInline]
    actions = ["publish"]

    def get_readonly_fields(self, request, obj=None):
        if obj is not None and obj.published:  # frozen: learners were enrolled under it
            return [f.name for f in self.model._meta.fields]
        return ["published", "published_at", "content_hash"]

    # ``permissions=["change"]``: Django offers an action without it to anyone who may view the list.
    @admin.action(description=_("Publish (freeze) the selected versions"), permissions=["change"])
    def publish(self, request, queryset):
        for version in queryset.filter(published=False):
            api.publish_version(version.pk)
        self.message_user(request, _("Published."), messages.SUCCESS)


@admin.register(models.Cohort)
class CohortAdmin(SchoolScopedAdmin):
    list_display = ("name", "slug", "school", "track", "mode", "starts_on", "ends_on")
    list_filter = ("mode", "track")
    search_fields = ("name", "slug")
    add = P.ADD_COHORT
    change = P.CHANGE_COHORT

    def get_readonly_fields(self, request, obj=None):
        # A coordinator keeps a cohort in their school; only platform staff move cohorts between schools.
        if obj is not None and not P.allowed(_user(request), P.ADD_COHORT):
            return ("school",)
        return ()


class LearnerChoiceMixin:
    """The learner of a new row: chosen among the learners enrolled in a cohort the user may change."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if db_field.name == "user":
            cohorts = P.cohort_queryset(_user(request), change=True)
            kwargs["queryset"] = (
                get_user_model().objects.filter(kafaat_enrollments__cohort__in=cohorts).distinct().order_by("username")
            )
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(models.Enrollment)
class EnrollmentAdmin(SchoolScopedAdmin):
    school_path = "cohort__school_id"
    list_display = ("user", "cohort", "track_version", "employee_id", "status", "enrolled_at")
    list_filter = ("status", ("cohort", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "user__email", "employee_id")
    raw_id_fields = ("user",)
    add = change = P.ENROL

    def get_readonly_fields(self, request, obj=None):
        # Re-pointing an enrolment (and its certificates) at another person is never an edit.
        return ("user", "track_version") if obj is not None else ()

    def save_model(self, request, obj, form, change):
        P.require(_user(request), P.ENROL, obj.cohort)  # the form's choices already hold; fail closed anyway
        super().save_model(request, obj, form, change)


@admin.register(models.Consent)
class ConsentAdmin(SchoolScopedAdmin):
    """Consent is the learner's choice (in the block); platform staff may record one collected on paper."""

    school_path = "enrollment__cohort__school_id"
    list_display = ("enrollment", "employer", "granted_at", "withdrawn_at")
    see = P.SEE_CONSENT
    add = P.RECORD_CONSENT

    def save_model(self, request, obj, form, change):
        P.require(_user(request), P.RECORD_CONSENT, obj.enrollment)
        super().save_model(request, obj, form, change)


class LedgerForm(forms.ModelForm):
    """The admin's add form for a ledger row: cohort required; the api decides whether the row may exist."""

    check = None  # the api function that raises when the row may not be written

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "cohort" in self.fields:
            self.fields["cohort"].required = True

    def clean(self):
        data = super().clean()
        if self.errors:
            return data
        try:
            self._check(data)
        except PermissionDenied:
            raise forms.ValidationError(gettext("You may not add rows to this cohort.")) from None
        return data

    def _check(self, data):
        raise NotImplementedError


class HoursEntryAdminForm(LedgerForm):
    class Meta:
        model = models.HoursEntry
        fields = (
            "cohort",
            "user",
            "source",
            "category",
            "minutes",
            "date",
            "work_process",
            "attester",
            "note",
            "corrects",
        )

    def _check(self, data):
        corrects = data.get("corrects")
        api.check_hours_entry(
            self.actor,
            data.get("user"),
            data["cohort"].pk,
            minutes=data.get("minutes") or 0,
            corrects_id=corrects.pk if corrects else None,
        )


class AttestationAdminForm(LedgerForm):
    class Meta:
        model = models.Attestation
        fields = ("cohort", "user", "competency", "note")

    def _check(self, data):
        api.check_attestation(self.actor, data.get("user"), data["cohort"].pk, data.get("competency") or "")


class LedgerAdmin(LearnerChoiceMixin, SchoolScopedAdmin):
    """Ledgers: rows are added (through the api), never edited; corrections are new rows."""

    school_path = "cohort__school_id"

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change=change, **kwargs)
        form.actor = _user(request)
        return form

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.HoursEntry)
class HoursEntryAdmin(LedgerAdmin):
    form = HoursEntryAdminForm
    list_display = ("user", "cohort", "source", "category", "minutes", "date", "attester", "corrects")
    list_filter = ("source", "category", ("cohort", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "note")
    raw_id_fields = ("attester", "corrects")
    add = P.RECORD_HOURS

    def save_model(self, request, obj, form, change):
        entry = api.add_hours(
            _user(request),
            obj.user,
            obj.cohort_id,
            source=obj.source,
            minutes=obj.minutes,
            date=obj.date,
            category=obj.category,
            note=obj.note,
            work_process=obj.work_process,
            attester=obj.attester,
            corrects_id=obj.corrects_id,
        )
        obj.pk = entry.id


@admin.register(models.Attestation)
class AttestationAdmin(LedgerAdmin):
    form = AttestationAdminForm
    list_display = ("user", "competency", "cohort", "attester", "attested_at")
    add = P.SIGN_OFF

    def save_model(self, request, obj, form, change):
        api.add_attestation(_user(request), obj.user, obj.cohort_id, obj.competency, note=obj.note)
        obj.pk = (
            models.Attestation.objects.filter(user=obj.user, cohort_id=obj.cohort_id, competency=obj.competency.strip())
            .order_by("-pk")
            .values_list("pk", flat=True)
            .first()
        )


@admin.register(models.Evidence)
class EvidenceAdmin(PermissionAdmin):
    list_display = ("user", "kind", "key", "value", "passed", "occurred_at")
    list_filter = ("kind",)
    search_fields = ("user__username", "key")
    see = P.SEE_EVIDENCE
    add = change = delete = None

    def get_queryset(self, request):
        schools = P.visible_school_ids(_user(request))
        queryset = super().get_queryset(request)
        if schools is None:
            return queryset
        return queryset.filter(user__kafaat_enrollments__cohort__school_id__in=schools).distinct()


class CertificateEventInline(admin.TabularInline):
    model = models.CertificateEvent
    extra = 0
    fields = ("seq", "kind", "status", "reason", "actor", "at", "hash")
    readonly_fields = fields

    def has_view_permission(self, request, obj=None):
        return P.allowed(_user(request), P.SEE_CERTIFICATE, obj)

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Certificate)
class CertificateAdmin(SchoolScopedAdmin):
    school_path = "cohort__school_id"
    list_display = ("number", "user", "track_version", "cohort", "status", "valid_from", "valid_until", "period")
    list_filter = ("status", "track_version__track")
    search_fields = ("number", "user__username", "user__email")
    inlines = [CertificateEventInline]
    actions = ["suspend", "reinstate", "revoke"]
    see = P.SEE_CERTIFICATE
    # The change page is read-only; status changes go through the actions (events, signals).
    change = P.CHANGE_CERTIFICATE_STATUS

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def _confirm(self, request, queryset, status, action):
        """A confirmation page with a required reason; the change happens only when it is posted back."""
        wording = {
            "suspend": (
                gettext("Suspend certificates"),
                gettext("Suspend these certificates until reinstated?"),
                gettext("Yes, suspend"),
            ),
            "reinstate": (
                gettext("Reinstate certificates"),
                gettext("Reinstate these suspended certificates?"),
                gettext("Yes, reinstate"),
            ),
            "revoke": (
                gettext("Revoke certificates"),
                gettext("Revoke these certificates? A revocation is final: verifiers and HR exports see it."),
                gettext("Yes, revoke"),
            ),
        }[action]
        form = StatusChangeForm(request.POST if request.POST.get("confirm") == "yes" else None)
        if form.is_bound and form.is_valid():
            self._set(request, queryset, status, form.cleaned_data["reason"])
            return None  # back to the change list, with the messages
        title, question, submit = wording
        context = {
            **self.admin_site.each_context(request),
            "title": title,
            "question": question,
            "submit_label": submit,
            "certificates": list(queryset),
            "form": form,
            "action": action,
            "opts": self.model._meta,
            "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        }
        return TemplateResponse(request, "kafaat_certification/admin/confirm_status.html", context)

    def _set(self, request, queryset, status, reason):
        done = 0
        for cert in queryset:  # already scoped by get_queryset; set_certificate_status_as checks again
            try:
                api.set_certificate_status_as(request.user, cert.pk, status, reason=reason)
                done += 1
            except (ValueError, ValidationError, PermissionDenied) as error:
                self.message_user(request, str(error), messages.WARNING)
        if done:
            text = ngettext("%(count)d certificate updated.", "%(count)d certificates updated.", done)
            self.message_user(request, text % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Suspend the selected certificates…"), permissions=["change"])
    def suspend(self, request, queryset):
        return self._confirm(request, queryset, models.CertificateStatus.SUSPENDED, "suspend")

    @admin.action(description=_("Reinstate the selected certificates…"), permissions=["change"])
    def reinstate(self, request, queryset):
        return self._confirm(request, queryset, models.CertificateStatus.ACTIVE, "reinstate")

    @admin.action(description=_("Revoke the selected certificates…"), permissions=["change"])
    def revoke(self, request, queryset):
        return self._confirm(request, queryset, models.CertificateStatus.REVOKED, "revoke")


class StatusChangeForm(forms.Form):
    """The reason a status change needs: kept in the certificate's audit chain and shown to the learner's admins."""

    reason = forms.CharField(
        label=_("Reason"),
        widget=forms.Textarea(attrs={"rows": 3, "cols": 60}),
        max_length=1000,
        strip=True,
        help_text=_("Required. Recorded in each certificate's audit chain."),
    )
