"""Django app config for HR exports (its own tables: exports, endpoints, deliveries, receipts)."""

from django.apps import AppConfig


class ExportsConfig(AppConfig):
    name = "xblocks.certification.exports"
    label = "kafaat_exports"
    verbose_name = "Kafaat HR exports"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = {
        "url_config": {
            "lms.djangoapp": {"namespace": "kafaat_exports", "regex": r"^kafaat/exports/", "relative_path": "urls"},
        },
        "settings_config": {
            "lms.djangoapp": {"common": {"relative_path": "settings"}},
        },
    }

    def ready(self) -> None:
        from xblocks.certification import signals  # pylint: disable=import-outside-toplevel

        from .receivers import queue_event_deliveries  # pylint: disable=import-outside-toplevel

        signals.certificate_issued.connect(queue_event_deliveries, dispatch_uid="kafaat_exports_issued")
        signals.certificate_status_changed.connect(queue_event_deliveries, dispatch_uid="kafaat_exports_status")
