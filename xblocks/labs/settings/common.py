"""COMMON plugin settings, applied to the LMS and Studio before their derived settings are computed."""

from xblocks.core import periodic, routing
from xblocks.core.plugin import common_settings


def plugin_settings(settings):
    """The ``KAFAAT`` override dict, beat entries and routes; options are read late, with defaults in this
    app's ``conf``. Nothing here reads a setting the platform may still hold as a derived placeholder."""
    common_settings(settings)
    # Every periodic job, registered once here (the labs app is installed wherever Kafaat is): no
    # hand-copied beat entries. Deployments without Celery beat run ``kafaat_periodic`` instead.
    periodic.add_to_settings(settings)
    # Lab tasks sent without a queue still reach a lab host (edx-platform's EXPLICIT_QUEUES).
    routing.add_to_settings(settings)
