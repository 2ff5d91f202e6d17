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
        # Imported here, not at the top: apps.py loads before the models exist, and the handlers need them.
        from xblocks.certification.exports import handlers  # noqa: PLC0415

        handlers.connect()
