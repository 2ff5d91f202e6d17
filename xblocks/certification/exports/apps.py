"""Django app config for HR exports (its own tables: exports, endpoints, deliveries, receipts)."""

from django.apps import AppConfig

from xblocks.core.plugin import LMS, plugin_config


class ExportsConfig(AppConfig):
    name = "xblocks.certification.exports"
    label = "kafaat_exports"
    verbose_name = "Kafaat HR exports"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = plugin_config(
        "xblocks.certification.exports",
        url_namespace="kafaat_exports",
        url_prefix="kafaat/exports/",
        url_projects=(LMS,),
    )

    def ready(self) -> None:
        from xblocks.certification import signals  # pylint: disable=import-outside-toplevel

        from .receivers import queue_event_deliveries  # pylint: disable=import-outside-toplevel

        signals.certificate_issued.connect(queue_event_deliveries, dispatch_uid="kafaat_exports_issued")
        signals.certificate_status_changed.connect(queue_event_deliveries, dispatch_uid="kafaat_exports_status")
