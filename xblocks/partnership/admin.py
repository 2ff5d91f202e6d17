"""Django admin for skills, needs and committee members: every ``has_*_permission`` answers from ``permissions``.

Skills come from the catalogue files, so the admin shows them read-only. A need's employer is chosen
from certification's employers (through its api) and limited to those the user may record needs for.
"""

from __future__ import annotations

from django import forms
from django.contrib import admin

from xblocks.certification import api as cert_api
from xblocks.core.i18n import gettext_lazy as _
from xblocks.partnership import models
from xblocks.partnership import permissions as P


class PermissionAdmin(admin.ModelAdmin):
    see: str | None = None
    add: str | None = None
    change: str | None = None
    delete: str | None = None

    def _may(self, request, permission, obj=None) -> bool:
        return permission is not None and P.allowed(request.user, permission, obj)

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


def _employer_choices(user) -> list[tuple[int, str]]:
    allowed = P.employer_ids_changeable(user)
    return [(e.id, e.name) for e in cert_api.list_employers() if allowed is None or e.id in allowed]


class NeedForm(forms.ModelForm):
    employer_id = forms.TypedChoiceField(coerce=int, label=_("Employer"))

    class Meta:
        model = models.Need
        fields = ["employer_id", "skills", "count", "by_date", "role_kind", "note"]

    def __init__(self, *args, user=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["employer_id"].choices = _employer_choices(user)
        self.fields["skills"].queryset = models.Skill.objects.filter(retired=False)


@admin.register(models.Need)
class NeedAdmin(PermissionAdmin):
    see = P.SEE_NEEDS
    add = change = delete = P.CHANGE_NEEDS
    form = NeedForm
    list_display = ("pk", "employer", "count", "role_kind", "by_date", "skill_list")
    list_filter = ("role_kind", "by_date")
    filter_horizontal = ("skills",)

    def get_form(self, request, obj=None, change=False, **kwargs):
        form = super().get_form(request, obj, change, **kwargs)

        class BoundForm(form):
            def __init__(self, *args, **inner):
                super().__init__(*args, user=request.user, **inner)

        return BoundForm

    @admin.display(description=_("Employer"))
    def employer(self, obj):
        return {e.id: e.name for e in cert_api.list_employers()}.get(obj.employer_id, obj.employer_id)

    @admin.display(description=_("Skills"))
    def skill_list(self, obj):
        return ", ".join(skill.pk for skill in obj.skills.all())

    def get_queryset(self, request):
        return super().get_queryset(request).prefetch_related("skills")

    def save_model(self, request, obj, form, change):
        if not change:
            obj.created_by = request.user
        super().save_model(request, obj, form, change)


@admin.register(models.Skill)
class SkillAdmin(PermissionAdmin):
    see = P.SEE_SKILLS
    list_display = ("id", "domain", "name_en", "name_fr", "name_ar", "framework", "code", "retired")
    list_filter = ("domain", "retired")
    search_fields = ("id", "name_en", "name_fr", "name_ar")


@admin.register(models.CommitteeMember)
class CommitteeMemberAdmin(PermissionAdmin):
    see = P.SEE_COMMITTEE
    add = change = delete = P.CHANGE_COMMITTEE
    list_display = ("user", "employer_id")
    raw_id_fields = ("user",)


@admin.register(models.Placement)
class PlacementAdmin(PermissionAdmin):
    """Placements are recorded through ``api.record_placement`` (consent, school checks); the admin shows them."""

    see = P.SEE_PLACEMENTS
    list_display = (
        "pk",
        "enrollment_id",
        "school_id",
        "kind",
        "employer_id",
        "employer_name",
        "started_on",
        "ended_on",
    )
    list_filter = ("kind",)

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if P.is_platform_staff(request.user):
            return queryset
        employer_id = P.representative_employer_id(request.user)
        if employer_id is not None:
            return queryset.filter(employer_id=employer_id)
        return queryset.filter(school_id__in=list(cert_api.managed_school_ids(request.user) or ()))


def _scoped_to_employer(request, queryset):
    """Platform staff see every row; an employer representative their employer's; anyone else nothing."""
    if P.is_platform_staff(request.user):
        return queryset
    employer_id = P.representative_employer_id(request.user)
    return queryset.filter(employer_id=employer_id) if employer_id is not None else queryset.none()


@admin.register(models.EmployerRepresentative)
class EmployerRepresentativeAdmin(PermissionAdmin):
    """Who acts for an employer partner: managed by platform staff, like committee members."""

    see = P.SEE_COMMITTEE
    add = change = delete = P.CHANGE_COMMITTEE
    list_display = ("user", "employer_id")
    raw_id_fields = ("user",)


@admin.register(models.Offer)
class OfferAdmin(PermissionAdmin):
    """Offers are published on the offers page (the employer's); the admin lists them for staff and the employer."""

    see = P.SEE_OFFERS
    list_display = ("pk", "title", "employer_id", "kind", "apply_by", "places", "closed")
    list_filter = ("kind", "closed")

    def has_module_permission(self, request):
        return P.is_platform_staff(request.user) or P.is_employer(request.user)

    def has_view_permission(self, request, obj=None):
        return self.has_module_permission(request) and (obj is None or P.allowed(request.user, P.SEE_OFFERS, obj))

    def get_queryset(self, request):
        return _scoped_to_employer(request, super().get_queryset(request))


@admin.register(models.Invitation)
class InvitationAdmin(PermissionAdmin):
    """Invitations name learners: the offer's employer and platform staff only, read-only."""

    list_display = ("pk", "offer", "enrollment_id", "status", "invited_at", "answered_at")
    list_filter = ("status",)

    def has_module_permission(self, request):
        return P.is_platform_staff(request.user) or P.is_employer(request.user)

    def has_view_permission(self, request, obj=None):
        if not self.has_module_permission(request):
            return False
        return obj is None or P.is_platform_staff(request.user) or P.allowed(request.user, P.SEE_TALENT_POOL, obj)

    def get_queryset(self, request):
        queryset = super().get_queryset(request).select_related("offer")
        if P.is_platform_staff(request.user):
            return queryset
        employer_id = P.representative_employer_id(request.user)
        return queryset.filter(offer__employer_id=employer_id) if employer_id is not None else queryset.none()


@admin.register(models.Project)
class ProjectAdmin(PermissionAdmin):
    """Projects are started on the projects page (sign-offs go to certification there); the admin lists them."""

    see = P.SEE_PROJECTS
    list_display = ("pk", "title", "kind", "school_id", "domain", "status", "mentor")
    list_filter = ("kind", "status", "domain")

    def get_queryset(self, request):
        queryset = super().get_queryset(request)
        if P.is_platform_staff(request.user):
            return queryset
        schools = cert_api.managed_school_ids(request.user) or set()
        return queryset.filter(school_id__in=list(schools)) | queryset.filter(mentor=request.user)


@admin.register(models.Report)
class ReportAdmin(PermissionAdmin):
    """Committee reports: for committee members, who use the reports page; the admin shows none of them."""

    list_display = ("pk", "start", "end", "status", "progress", "created_at")
    exclude = ("pdf", "xlsx")
