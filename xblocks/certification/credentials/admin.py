"""Django admin for operators: signed credentials, status lists, issuer keys, verification log, employer tokens."""

from django.contrib import admin

from xblocks.certification.api import OperationsAdminMixin
from xblocks.certification.credentials.models import (
    EmployerToken,
    Endorsement,
    IssuerKey,
    SignedCredential,
    StatusList,
    Verification,
)


@admin.register(SignedCredential)
class SignedCredentialAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = ("number", "credential_id", "issuer", "created")
    search_fields = ("number", "credential_id")
    readonly_fields = [field.name for field in SignedCredential._meta.fields] + ["document"]
    exclude = ("document",)

    def has_add_permission(self, request):
        return False  # credentials are signed by the app, never typed in


@admin.register(StatusList)
class StatusListAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = ("issuer", "purpose", "sequence", "size", "used", "version", "updated")
    exclude = ("bits", "signed_document")
    readonly_fields = ("issuer", "purpose", "sequence", "size", "used", "version", "signed_version")

    def has_add_permission(self, request):
        return False


@admin.register(IssuerKey)
class IssuerKeyAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = ("issuer", "public_key_multibase", "created", "retired_at")
    readonly_fields = ("issuer", "public_key_multibase", "created")


@admin.register(Verification)
class VerificationAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = ("number", "channel", "ok", "status", "at", "user", "employer_token", "ip_hash")
    list_filter = ("channel", "ok", "status")
    search_fields = ("number",)
    readonly_fields = [field.name for field in Verification._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(EmployerToken)
class EmployerTokenAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = ("organisation", "name", "prefix", "active", "created", "last_used")
    readonly_fields = ("token_hash", "prefix", "created", "last_used", "created_by")


@admin.register(Endorsement)
class EndorsementAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = ("endorser_name", "track_slug", "active", "created")
    readonly_fields = ("document",)
