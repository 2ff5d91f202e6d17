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
        from . import receivers  # pylint: disable=import-outside-toplevel

        receivers.connect()
