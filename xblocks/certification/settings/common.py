"""Settings applied by Open edX's plugin framework to the LMS and Studio."""

from xblocks.core.i18n import LOCALE_DIR


def plugin_settings(settings):
    """Add Kafaat's catalogs to LOCALE_PATHS and a KAFAAT dict operators can override."""
    paths = list(getattr(settings, "LOCALE_PATHS", []))
    if str(LOCALE_DIR) not in map(str, paths):
        paths.append(str(LOCALE_DIR))
        settings.LOCALE_PATHS = paths
    if not hasattr(settings, "KAFAAT"):
        settings.KAFAAT = {}
