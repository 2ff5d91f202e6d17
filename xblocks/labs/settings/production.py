"""PRODUCTION plugin settings: the periodic jobs' beat entries and the lab tasks' routes.

They run after the platform's own production settings, which define ``CELERYBEAT_SCHEDULE`` and
``EXPLICIT_QUEUES``; entries are added, never replaced, and an operator's own entry of the same name
wins. Deployments without Celery beat run ``kafaat_periodic`` instead.
"""

from xblocks.core import periodic, routing


def plugin_settings(settings):
    """Every periodic job registered once (the labs app is installed wherever Kafaat is) and lab routes."""
    periodic.add_to_settings(settings)
    routing.add_to_settings(settings)
