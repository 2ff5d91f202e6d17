"""Django app config for the certification app, registered as an Open edX plugin app."""
from django.apps import AppConfig


class CertificationConfig(AppConfig):
    name = "xblocks.certification"
    label = "kafaat_certification"
    verbose_name = "Kafaat certification"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = {
        "url_config": {
            "lms.djangoapp": {
                "namespace": "kafaat_certification",
                "regex": r"^kafaat/certification/",
                "relative_path": "urls",
            },
            "cms.djangoapp": {
                "namespace": "kafaat_certification",
                "regex": r"^kafaat/certification/",
                "relative_path": "urls",
            },
        },
        "settings_config": {
            "lms.djangoapp": {"common": {"relative_path": "settings.common"}},
            "cms.djangoapp": {"common": {"relative_path": "settings.common"}},
        },
    }
