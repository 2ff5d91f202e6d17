"""Django app config for the terminal gateway (its own tables: tokens, attaches, transcripts)."""

from django.apps import AppConfig
from django.core import checks

from xblocks.core import site
from xblocks.core.plugin import plugin_config


class TerminalConfig(AppConfig):
    name = "xblocks.labs.terminal"
    label = "kafaat_terminal"
    verbose_name = "Kafaat lab terminal"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = plugin_config("xblocks.labs.terminal")

    def ready(self):
        checks.register(site.check_site_urls, "kafaat")
