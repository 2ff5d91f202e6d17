"""Celery tasks of the labs app: thin, JSON arguments, one api call each, safe to run twice or at once.

``acks_late`` means a worker killed mid-task leaves the message to be delivered again; the api's
state machine makes the repeat harmless, and the reaper takes over starts that stall anyway.
"""

from __future__ import annotations

import logging
from datetime import timedelta

from celery import shared_task
from celery.signals import worker_ready

from xblocks.labs import api
from xblocks.labs.sandbox.base import BackendUnavailable
from xblocks.labs.session_conf import session_settings

log = logging.getLogger(__name__)


@shared_task(
    bind=True,
    acks_late=True,
    autoretry_for=(BackendUnavailable,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
    ignore_result=True,
)
def provision_session(self, session_id: int) -> None:  # pylint: disable=unused-argument
    """Create the environment of a requested lab session; see api.provision_session."""
    api.provision_session(int(session_id))


# The name the design uses for the same step ("start" queues the provisioning).
start_session = provision_session


@shared_task(bind=True, acks_late=True, ignore_result=True, max_retries=5, default_retry_delay=10)
def teardown_session(self, session_id: int) -> None:  # pylint: disable=unused-argument
    """Destroy a stopping session's environment and mark it stopped; see api.teardown_session."""
    api.teardown_session(int(session_id))


@shared_task(acks_late=True, ignore_result=True)
def run_checks(run_id: int) -> None:
    """Run the checks of one press of Check and record the result; see api.run_checks.

    Queued by the web request that recorded the press (on the session's lab host queue). Safe twice:
    only the worker that moves the run from queued to running works on it; the reaper ends a run
    whose worker died.
    """
    api.run_checks(int(run_id))


@shared_task(acks_late=True, ignore_result=True)
def stop_session(session_id: int, actor: str = "system:task", reason: str = "stop") -> None:
    """Stop a live session (queues its teardown); see api.stop_session."""
    api.stop_session(int(session_id), actor=str(actor), reason=str(reason))


@shared_task(acks_late=True, ignore_result=True)
def reap_sessions() -> dict:
    """End expired and idle sessions, retry or fail stalled starts; see api.reap_sessions."""
    return api.reap_sessions().as_json()


@shared_task(acks_late=True, ignore_result=True)
def reconcile_sessions() -> dict:
    """Heal drift between the sandbox inventory and the database, both ways; see api.reconcile_sessions."""
    return api.reconcile_sessions().as_json()


def _beat_schedule() -> dict:
    # Read at import by demo.celery; settings are configured by then in every process that imports tasks.
    try:
        reap, reconcile = int(session_settings.REAP_INTERVAL), int(session_settings.RECONCILE_INTERVAL)
    except Exception:  # pylint: disable=broad-except  # settings not configured (docs builds, linters)
        reap, reconcile = 30, 300
    return {
        "kafaat-labs-reap-sessions": {"task": reap_sessions.name, "schedule": timedelta(seconds=reap)},
        "kafaat-labs-reconcile-sessions": {"task": reconcile_sessions.name, "schedule": timedelta(seconds=reconcile)},
    }


BEAT_SCHEDULE = _beat_schedule()


@worker_ready.connect
def _self_test_on_worker_start(sender=None, **kwargs):  # pylint: disable=unused-argument
    """Run the sandbox abuse self-test when a worker starts; a failure makes the backend refuse lab work."""
    try:
        from xblocks.labs.sandbox import selftest  # pylint: disable=import-outside-toplevel
    except ImportError:
        log.warning("sandbox self-test module missing: lab work is not confinement-checked on this worker")
        return
    try:
        selftest.run_and_record()
    except Exception:  # pylint: disable=broad-except
        # run_and_record records failures itself; an exception here must not kill the worker's
        # other queues (certification tasks share it), so it is logged loudly instead.
        log.exception("sandbox self-test crashed")
