"""Django app config for the labs app, registered as an Open edX plugin app."""

from django.apps import AppConfig

from xblocks.core.plugin import CMS, LMS, plugin_config


class LabsConfig(AppConfig):
    name = "xblocks.labs"
    label = "kafaat_labs"
    verbose_name = "Kafaat labs"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = plugin_config(
        "xblocks.labs", url_namespace="kafaat_labs", url_prefix="kafaat/labs/", url_projects=(LMS, CMS)
    )
