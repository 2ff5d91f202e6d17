"""Django admin for exports: presets, export runs, endpoints, and receipts with each failure's detail."""

from django.contrib import admin, messages

from xblocks.certification.api import OperationsAdminMixin
from xblocks.certification.exports import api
from xblocks.certification.exports.models import Delivery, DeliveryReceipt, Endpoint, Export, ExportPreset
from xblocks.core.i18n import gettext_lazy as _
from xblocks.core.i18n import ngettext


@admin.register(ExportPreset)
class ExportPresetAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = ("slug", "name", "base", "school_id", "updated_at")
    search_fields = ("slug", "name")


@admin.register(Export)
class ExportAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = (
        "public_id",
        "requester",
        "format",
        "preset",
        "employer",
        "status",
        "rows_done",
        "rows_total",
        "created_at",
    )
    list_filter = ("status", "format", "employer")
    readonly_fields = [f.name for f in Export._meta.fields]

    def has_add_permission(self, request):
        return False


@admin.register(Endpoint)
class EndpointAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = ("name", "kind", "url", "employer", "payload", "preset", "schedule", "enabled", "last_collected_at")
    list_filter = ("kind", "employer", "enabled", "schedule")
    actions = ["deliver_now", "resend_failed"]

    @admin.action(description=_("Deliver now"), permissions=["change"])
    def deliver_now(self, request, queryset):
        from xblocks.certification.exports import tasks  # pylint: disable=import-outside-toplevel

        for endpoint in queryset:
            tasks.deliver_endpoint.delay(endpoint.pk, "manual")
        self.message_user(request, _("Deliveries queued."), messages.SUCCESS)

    @admin.action(description=_("Re-send failed records"), permissions=["change"])
    def resend_failed(self, request, queryset):
        count = sum(api.resend(endpoint_id=endpoint.pk) for endpoint in queryset)
        self.message_user(
            request,
            ngettext("%(count)s record queued again.", "%(count)s records queued again.", count) % {"count": count},
            messages.SUCCESS,
        )


@admin.register(Delivery)
class DeliveryAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = ("endpoint", "trigger", "queued", "created_at")
    list_filter = ("trigger", "endpoint")


@admin.register(DeliveryReceipt)
class DeliveryReceiptAdmin(OperationsAdminMixin, admin.ModelAdmin):
    list_display = (
        "certificate_number",
        "endpoint",
        "status",
        "attempts",
        "response_status",
        "next_attempt_at",
        "delivered_at",
    )
    list_filter = ("status", "endpoint")
    search_fields = ("certificate_number", "idempotency_key")
    readonly_fields = [f.name for f in DeliveryReceipt._meta.fields]
    actions = ["resend"]

    @admin.action(description=_("Re-send (same idempotency key)"), permissions=["change"])
    def resend(self, request, queryset):
        count = api.resend(receipt_ids=list(queryset.values_list("pk", flat=True)))
        self.message_user(
            request,
            ngettext("%(count)s record queued again.", "%(count)s records queued again.", count) % {"count": count},
            messages.SUCCESS,
        )

    def has_add_permission(self, request):
        return False
