"""Where Kafaat's lab tasks go, as data: the lab queues, and the routes edx-platform's Celery router reads.

Model-free and import-light, because Open edX reads it from plugin settings. The labs api always names
the queue when it sends a lab task; these routes cover a task sent without one (by hand, by another
app), so that it still reaches a lab host instead of an ordinary LMS worker. A worker that gets one
anyway sends it on (``xblocks.labs.tasks.LabHostTask``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

DEFAULT_LAB_QUEUE = "kafaat.labs"
LAB_TASKS = (
    "xblocks.labs.tasks.provision_session",
    "xblocks.labs.tasks.teardown_session",
    "xblocks.labs.tasks.run_checks",
    "xblocks.labs.tasks.prepare_steps",
    "xblocks.labs.tasks.stop_session",
    "xblocks.labs.tasks.reap_sessions",
    "xblocks.labs.tasks.reconcile_sessions",
    "xblocks.labs.tasks.reconcile_lab_hosts",
    "xblocks.labs.tasks.fill_pool",
    "xblocks.labs.tasks.fill_pools",
)
# edx-platform's router (openedx.core.lib.celery.routers.route_task) looks tasks up here first.
ROUTES_SETTING = "EXPLICIT_QUEUES"


def lab_queue(overrides: Mapping[str, Any] | None = None) -> str:
    """The queue every lab host consumes: ``KAFAAT_LAB_QUEUE``, then ``KAFAAT["LAB_QUEUE"]``, then the default."""
    return str(os.environ.get("KAFAAT_LAB_QUEUE") or (overrides or {}).get("LAB_QUEUE") or DEFAULT_LAB_QUEUE)


def add_to_settings(settings: Any) -> None:
    """Plugin-settings step: route every lab task to the lab queue, where the host project has explicit routes.

    Only a project that defines ``EXPLICIT_QUEUES`` (edx-platform) gets routes; an operator's own
    route for a task wins.
    """
    routes = getattr(settings, ROUTES_SETTING, None)
    if not isinstance(routes, dict):
        return
    overrides = getattr(settings, "KAFAAT", None)
    queue = lab_queue(overrides if isinstance(overrides, Mapping) else None)
    for task in LAB_TASKS:
        routes.setdefault(task, {"queue": queue})
