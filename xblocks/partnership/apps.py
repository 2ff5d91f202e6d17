"""Django app config for the partnership app, an Open edX plugin app of the LMS and Studio (URLs in the LMS)."""

from django.apps import AppConfig

from xblocks.core.plugin import LMS, plugin_config


class PartnershipConfig(AppConfig):
    name = "xblocks.partnership"
    label = "kafaat_partnership"
    verbose_name = "Kafaat partnership"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = plugin_config(
        "xblocks.partnership",
        url_namespace="kafaat_partnership",
        url_prefix="kafaat/partnership/",
        url_projects=(LMS,),  # the committee's pages serve the LMS; Studio installs the models only
    )

    def ready(self):
        # Imported here, not at the top: apps.py loads before the models exist, and the rules read them.
        from xblocks.partnership import permissions  # noqa: F401, PLC0415  (registers the named permissions)
