"""Django app config for the labs app, registered as an Open edX plugin app."""

from django.apps import AppConfig


class LabsConfig(AppConfig):
    name = "xblocks.labs"
    label = "kafaat_labs"
    verbose_name = "Kafaat labs"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = {
        "url_config": {
            "lms.djangoapp": {"namespace": "kafaat_labs", "regex": r"^kafaat/labs/", "relative_path": "urls"},
            "cms.djangoapp": {"namespace": "kafaat_labs", "regex": r"^kafaat/labs/", "relative_path": "urls"},
        },
        "settings_config": {
            "lms.djangoapp": {"common": {"relative_path": "settings.common"}},
            "cms.djangoapp": {"common": {"relative_path": "settings.common"}},
        },
    }
