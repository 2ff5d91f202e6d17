"""Settings applied by Open edX's plugin framework to the LMS and Studio."""

from xblocks.core import periodic, routing
from xblocks.core.i18n import LOCALE_DIR


def plugin_settings(settings):
    """Add Kafaat's catalogs to LOCALE_PATHS, a KAFAAT dict operators can override, beat entries and routes."""
    paths = list(getattr(settings, "LOCALE_PATHS", []))
    if str(LOCALE_DIR) not in map(str, paths):
        paths.append(str(LOCALE_DIR))
        settings.LOCALE_PATHS = paths
    if not hasattr(settings, "KAFAAT"):
        settings.KAFAAT = {}
    # Every periodic job, registered once here (the labs app is installed wherever Kafaat is): no
    # hand-copied beat entries. Deployments without Celery beat run ``kafaat_periodic`` instead.
    periodic.add_to_settings(settings)
    # Lab tasks sent without a queue still reach a lab host (edx-platform's EXPLICIT_QUEUES).
    routing.add_to_settings(settings)
