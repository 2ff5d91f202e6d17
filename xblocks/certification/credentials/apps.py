"""Django app config for credentials (its own tables: signed credentials, status lists, verifications)."""

from django.apps import AppConfig
from django.core import checks

from xblocks.core import site
from xblocks.core.plugin import LMS, plugin_config


class CredentialsConfig(AppConfig):
    name = "xblocks.certification.credentials"
    label = "kafaat_credentials"
    verbose_name = "Kafaat credentials"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = plugin_config(
        "xblocks.certification.credentials",
        url_namespace="kafaat_credentials",
        url_prefix="kafaat/credentials/",
        url_projects=(LMS,),
    )

    def ready(self):
        # Imported here, not at the top: apps.py loads before the models exist, and these need them.
        from xblocks.certification.credentials import handlers  # noqa: PLC0415
        from xblocks.certification.credentials.checks import check_signed_credentials  # noqa: PLC0415

        handlers.connect()
        checks.register(site.check_site_urls, "kafaat")
        checks.register(check_signed_credentials, "kafaat", checks.Tags.database)
