"""DEVSTACK plugin settings: as in production (beat entries and lab routes)."""

from xblocks.labs.settings.production import plugin_settings  # noqa: F401
