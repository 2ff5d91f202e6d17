"""Django app config for credentials (its own tables: signed credentials, status lists, verifications)."""

from django.apps import AppConfig


class CredentialsConfig(AppConfig):
    name = "xblocks.certification.credentials"
    label = "kafaat_credentials"
    verbose_name = "Kafaat credentials"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = {
        "url_config": {
            "lms.djangoapp": {
                "namespace": "kafaat_credentials",
                "regex": r"^kafaat/credentials/",
                "relative_path": "urls",
            },
        },
        "settings_config": {
            "lms.djangoapp": {"common": {"relative_path": "settings"}},
        },
    }

    def ready(self):
        from . import receivers  # pylint: disable=import-outside-toplevel

        receivers.connect()
