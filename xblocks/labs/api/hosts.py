"""Lab hosts and the lab queues: which process may run lab work, where each lab task goes, heartbeats."""

from __future__ import annotations

import logging
from typing import Any

from xblocks.labs import hosts, tasks
from xblocks.labs.data import (
    LabHostStatus,
    SessionState,
)
from xblocks.labs.models import CheckRun, LabSession
from xblocks.labs.sandbox.conf import sandbox_settings

log = logging.getLogger(__name__)

S = SessionState


def host_queue(host: str) -> str:
    """The Celery queue of a lab host's own work ("<LAB_QUEUE>.<host>"); the shared lab queue for ""."""

    return hosts.host_queue(host)


def may_run_lab_work() -> bool:
    """Whether this process is a lab host (``LAB_HOST_ROLE``); lab tasks received elsewhere are sent on."""

    return hosts.lab_host_role()


def _here(host: str) -> bool:
    """Whether this process can reach sandboxes of ``host`` directly: it is that lab host."""

    return bool(host) and may_run_lab_work() and host == str(sandbox_settings.LAB_HOST)


def lab_task_queue(task_name: str, args: list | tuple = (), kwargs: dict | None = None) -> str:
    """Where a lab task belongs: its session's host queue, the named host's queue, else the shared lab queue."""

    kwargs = kwargs or {}
    short = task_name.rsplit(".", 1)[-1]
    if short == "run_checks":  # one press of Check: its run names the session
        run_id = kwargs.get("run_id", args[0] if args else None)
        try:
            host = CheckRun.objects.filter(pk=int(run_id)).values_list("session__host", flat=True).first() or ""
        except (TypeError, ValueError):
            host = ""
        return hosts.host_queue(host)
    if short in {"provision_session", "start_session", "teardown_session", "stop_session"}:
        session_id = kwargs.get("session_id", args[0] if args else None)
        try:
            host = LabSession.objects.filter(pk=int(session_id)).values_list("host", flat=True).first() or ""
        except (TypeError, ValueError):
            host = ""
        return hosts.host_queue(host)
    if short in {"reconcile_sessions", "fill_pool"}:
        return hosts.host_queue(str(kwargs.get("host", args[0] if args else "") or ""))
    return hosts.lab_queue()


def lab_task_destination(task_name: str, args: list | tuple = (), kwargs: dict | None = None) -> str | None:
    """Where a lab task received by this process must go instead of running here (None: run it here).

    Anywhere but a lab host, every lab task goes back to the lab queues. On a lab host, work on
    another host's sandboxes (a teardown, checks, a reconcile) goes to that host's queue.
    """

    if not may_run_lab_work():
        return lab_task_queue(task_name, args, kwargs)
    short = task_name.rsplit(".", 1)[-1]
    if short in {"teardown_session", "run_checks", "reconcile_sessions", "fill_pool"}:
        target = lab_task_queue(task_name, args, kwargs)
        if target != host_queue("") and target != host_queue(str(sandbox_settings.LAB_HOST)):
            return target
    return None


def queue_reconciles() -> list[str]:
    """Ask every live lab host to reconcile its sandboxes with the database (one task on each host's queue).

    With no lab host registered, one reconcile goes to the shared lab queue (the one-machine case).
    Returns the queues asked.
    """

    names = hosts.live_host_names()
    targets = [(name, hosts.host_queue(name)) for name in names] or [("", hosts.lab_queue())]
    for name, queue in targets:
        tasks.reconcile_sessions.apply_async(args=[name] if name else [], queue=queue)
    return [queue for _name, queue in targets]


def heartbeat(name: str, **report: Any) -> None:
    """A lab host reports itself: capacity, gateway URL, whether it accepts sessions and why not."""

    hosts.heartbeat(name, **report)


def lab_host_stopped(name: str) -> None:
    """A lab host's service stops cleanly; placement skips it from now on."""

    hosts.stopped(name)


def lab_hosts() -> list[LabHostStatus]:
    """Every registered lab host with its load now (alive ones first)."""

    return hosts.hosts()


def gateway_url(host: str) -> str:
    """The terminal gateway base URL lab host ``host`` reported ("" when it reported none)."""

    return hosts.gateway_url(host)
