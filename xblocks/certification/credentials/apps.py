"""Django app config for credentials (its own tables: signed credentials, status lists, verifications)."""

from django.apps import AppConfig

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
        from django.core import checks  # pylint: disable=import-outside-toplevel

        from xblocks.core import site  # pylint: disable=import-outside-toplevel

        from . import receivers  # pylint: disable=import-outside-toplevel
        from .checks import check_signed_credentials  # pylint: disable=import-outside-toplevel

        receivers.connect()
        checks.register(site.check_site_urls, "kafaat")
        checks.register(check_signed_credentials, "kafaat", checks.Tags.database)
