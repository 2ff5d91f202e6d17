"""COMMON plugin settings, applied to the LMS and Studio before their derived settings are computed."""

from xblocks.core.plugin import common_settings


def plugin_settings(settings):
    """Only the ``KAFAAT`` override dict; options are read late, with defaults in this app's ``conf``."""
    common_settings(settings)
