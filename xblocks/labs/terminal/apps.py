"""Django app config for the terminal gateway (its own tables: tokens, attaches, transcripts)."""

from django.apps import AppConfig


class TerminalConfig(AppConfig):
    name = "xblocks.labs.terminal"
    label = "kafaat_terminal"
    verbose_name = "Kafaat lab terminal"
    default_auto_field = "django.db.models.BigAutoField"

    plugin_app = {
        "settings_config": {
            "lms.djangoapp": {"common": {"relative_path": "settings"}},
            "cms.djangoapp": {"common": {"relative_path": "settings"}},
        },
    }
