"""Django app config for the certification app, registered as an Open edX plugin app."""

from django.apps import AppConfig

from xblocks.core.plugin import CMS, LMS, plugin_config


class CertificationConfig(AppConfig):
    name = "xblocks.certification"
    label = "kafaat_certification"
    verbose_name = "Kafaat certification"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = plugin_config(
        "xblocks.certification",
        url_namespace="kafaat_certification",
        url_prefix="kafaat/certification/",
        url_projects=(LMS, CMS),
    )

    def ready(self):
        # Imported here, not at the top: apps.py loads before the models exist, and the handlers need them.
        from xblocks.certification import handlers  # noqa: PLC0415

        handlers.connect()
