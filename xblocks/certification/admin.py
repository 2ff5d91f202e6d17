"""Django admin: platform staff manage everything; coordinators (``is_staff`` + a school) only their schools' rows.

Every school-scoped admin filters its queryset, its foreign-key choices and its object permissions
through ``permissions.visible_school_ids``; ledgers and the audit chain are add-only or read-only.
"""

from __future__ import annotations

import django
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.db import models as django_models

from xblocks.certification import api, models, permissions
from xblocks.core.i18n import gettext_lazy as _
from xblocks.core.i18n import ngettext


def _schools(request):
    return permissions.visible_school_ids(request.user)


class PlatformOnlyAdmin(admin.ModelAdmin):
    """Reference data (schools, employers, tracks, coordinators): platform staff edit, coordinators may look."""

    def has_module_permission(self, request):
        return permissions.is_coordinator_or_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.is_coordinator_or_staff(request.user)

    def has_add_permission(self, request):
        return permissions.is_platform_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return permissions.is_platform_staff(request.user)

    def has_delete_permission(self, request, obj=None):
        return permissions.is_platform_staff(request.user)


class SchoolScopedAdmin(admin.ModelAdmin):
    """Rows that belong to a school through ``school_path``; coordinators see and change only their own."""

    school_path = "school"
    allow_change = True
    allow_delete = False

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        schools = _schools(request)
        return queryset if schools is None else queryset.filter(**{f"{self.school_path}_id__in": schools})

    def _owns(self, request, obj) -> bool:
        if obj is None:
            return True
        schools = _schools(request)
        if schools is None:
            return True
        return self.get_queryset(request).filter(pk=obj.pk).exists()

    def has_module_permission(self, request):
        return permissions.is_coordinator_or_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.is_coordinator_or_staff(request.user) and self._owns(request, obj)

    def has_add_permission(self, request):
        return permissions.is_coordinator_or_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return self.allow_change and permissions.is_coordinator_or_staff(request.user) and self._owns(request, obj)

    def has_delete_permission(self, request, obj=None):
        return self.allow_delete and permissions.is_platform_staff(request.user)

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        schools = _schools(request)
        if schools is not None:
            if db_field.related_model is models.School:
                kwargs["queryset"] = models.School.objects.filter(pk__in=schools)
            elif db_field.related_model is models.Cohort:
                kwargs["queryset"] = models.Cohort.objects.filter(school_id__in=schools)
            elif db_field.related_model is models.Enrollment:
                kwargs["queryset"] = models.Enrollment.objects.filter(cohort__school_id__in=schools)
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


@admin.register(models.School)
class SchoolAdmin(PlatformOnlyAdmin):
    list_display = ("name", "slug", "country")
    # Django 5.0 added assume_scheme (and warns until it is set); Django 4.2 always assumes http.
    formfield_overrides = {django_models.URLField: {"assume_scheme": "https"}} if django.VERSION >= (5, 0) else {}
    search_fields = ("name", "slug")

    def get_queryset(self, request):
        schools = _schools(request)
        queryset = super().get_queryset(request)
        return queryset if schools is None else queryset.filter(pk__in=schools)


@admin.register(models.Employer)
class EmployerAdmin(PlatformOnlyAdmin):
    list_display = ("name", "slug")


@admin.register(models.SchoolCoordinator)
class SchoolCoordinatorAdmin(PlatformOnlyAdmin):
    list_display = ("user", "school")

    def has_view_permission(self, request, obj=None):
        return permissions.is_platform_staff(request.user)

    def has_module_permission(self, request):
        return permissions.is_platform_staff(request.user)


class RequirementInline(admin.TabularInline):
    model = models.Requirement
    extra = 0
    fields = ("purpose", "parent", "position", "kind", "title", "key", "category", "source", "threshold", "due_date")

    def _frozen(self, obj) -> bool:
        return bool(obj and obj.published)

    def has_add_permission(self, request, obj=None):
        return permissions.is_platform_staff(request.user) and not self._frozen(obj)

    def has_change_permission(self, request, obj=None):
        return permissions.is_platform_staff(request.user) and not self._frozen(obj)

    def has_delete_permission(self, request, obj=None):
        return permissions.is_platform_staff(request.user) and not self._frozen(obj)

    def has_view_permission(self, request, obj=None):
        return permissions.is_coordinator_or_staff(request.user)


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

    @admin.action(description=_("Publish (freeze) the selected versions"))
    def publish(self, request, queryset):
        for version in queryset.filter(published=False):
            api.publish_version(version.pk)
        self.message_user(request, _("Published."), messages.SUCCESS)


@admin.register(models.Cohort)
class CohortAdmin(SchoolScopedAdmin):
    list_display = ("name", "slug", "school", "track", "mode", "starts_on", "ends_on")
    list_filter = ("mode", "track")
    search_fields = ("name", "slug")

    def has_add_permission(self, request):
        return permissions.is_platform_staff(request.user)


@admin.register(models.Enrollment)
class EnrollmentAdmin(SchoolScopedAdmin):
    school_path = "cohort__school"
    list_display = ("user", "cohort", "track_version", "employee_id", "status", "enrolled_at")
    list_filter = ("status", ("cohort", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "user__email", "employee_id")
    raw_id_fields = ("user",)

    def get_readonly_fields(self, request, obj=None):
        return ("track_version",) if obj is not None else ()


@admin.register(models.Consent)
class ConsentAdmin(SchoolScopedAdmin):
    school_path = "enrollment__cohort__school"
    list_display = ("enrollment", "employer", "granted_at", "withdrawn_at")


class AddOnlyScopedAdmin(SchoolScopedAdmin):
    """Ledgers: rows are added, never edited (corrections are new rows)."""

    allow_change = False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(models.HoursEntry)
class HoursEntryAdmin(AddOnlyScopedAdmin):
    school_path = "cohort__school"
    list_display = ("user", "cohort", "source", "category", "minutes", "date", "attester", "corrects")
    list_filter = ("source", "category", ("cohort", admin.RelatedOnlyFieldListFilter))
    search_fields = ("user__username", "note")
    raw_id_fields = ("user", "attester", "corrects", "created_by")
    exclude = ("created_by", "import_batch")

    def save_model(self, request, obj, form, change):
        obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(models.Attestation)
class AttestationAdmin(AddOnlyScopedAdmin):
    school_path = "cohort__school"
    list_display = ("user", "competency", "cohort", "attester", "attested_at")
    raw_id_fields = ("user", "attester")


@admin.register(models.Evidence)
class EvidenceAdmin(admin.ModelAdmin):
    list_display = ("user", "kind", "key", "value", "passed", "occurred_at")
    list_filter = ("kind",)
    search_fields = ("user__username", "key")

    def get_queryset(self, request):
        schools = _schools(request)
        queryset = super().get_queryset(request)
        if schools is None:
            return queryset
        return queryset.filter(user__kafaat_enrollments__cohort__school_id__in=schools).distinct()

    def has_module_permission(self, request):
        return permissions.is_coordinator_or_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return permissions.is_coordinator_or_staff(request.user) and (
            obj is None or self.get_queryset(request).filter(pk=obj.pk).exists()
        )

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class CertificateEventInline(admin.TabularInline):
    model = models.CertificateEvent
    extra = 0
    fields = ("seq", "kind", "status", "reason", "actor", "at", "hash")
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(models.Certificate)
class CertificateAdmin(SchoolScopedAdmin):
    school_path = "cohort__school"
    list_display = ("number", "user", "track_version", "cohort", "status", "valid_from", "valid_until", "period")
    list_filter = ("status", "track_version__track")
    search_fields = ("number", "user__username", "user__email")
    inlines = [CertificateEventInline]
    actions = ["suspend", "reinstate", "revoke"]

    def get_readonly_fields(self, request, obj=None):
        return [f.name for f in self.model._meta.fields]

    def has_add_permission(self, request):
        return False  # certificates are issued by the rules, never typed in

    def has_change_permission(self, request, obj=None):
        # The change page is read-only; status changes go through the actions (events, signals).
        return permissions.is_coordinator_or_staff(request.user) and self._owns(request, obj)

    def _set(self, request, queryset, status, reason):
        done = 0
        for cert in queryset:  # already scoped by get_queryset
            try:
                api.set_certificate_status_as(request.user, cert.pk, status, reason=reason)
                done += 1
            except (ValueError, ValidationError) as error:
                self.message_user(request, str(error), messages.WARNING)
        if done:
            text = ngettext("%(count)d certificate updated.", "%(count)d certificates updated.", done)
            self.message_user(request, text % {"count": done}, messages.SUCCESS)

    @admin.action(description=_("Suspend the selected certificates"))
    def suspend(self, request, queryset):
        self._set(request, queryset, models.CertificateStatus.SUSPENDED, f"suspended in the admin by {request.user}")

    @admin.action(description=_("Reinstate the selected certificates"))
    def reinstate(self, request, queryset):
        self._set(request, queryset, models.CertificateStatus.ACTIVE, f"reinstated in the admin by {request.user}")

    @admin.action(description=_("Revoke the selected certificates"))
    def revoke(self, request, queryset):
        self._set(request, queryset, models.CertificateStatus.REVOKED, f"revoked in the admin by {request.user}")
