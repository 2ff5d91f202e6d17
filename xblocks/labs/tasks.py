"""Celery tasks of the labs app: thin, JSON arguments, one api call each, safe to run twice or at once.

``acks_late`` with ``reject_on_worker_lost`` means a worker process killed mid-task (a pool child
SIGKILLed, out of memory) gives its message back to the queue at once instead of acknowledging it as
failed: a start or check it had not begun is run by another process. What it had begun (a session
``provisioning``, a run ``running``) is no longer what the task takes up; the reaper takes it over once
the dead process's lease runs out (``leases``, ``WORKER_LOST_TIMEOUT``). The api's state machine
makes every repeat harmless, and a start redelivered too often fails after ``PROVISION_MAX_ATTEMPTS``.

Lab tasks (``base=LabHostTask``) run only on lab hosts. Another worker that receives one (a routing
mistake, a ``.delay()`` without a queue) runs nothing: it sends the task, under the same id, to the lab
queue it belongs on and acknowledges its own copy, so a caller waiting for the result still gets it.

The api queues every lab task through ``enqueue``, naming the task object itself. The api and this
module import each other (tasks call the api; the api queues tasks): neither uses the other at import
time, so either may be imported first.
"""

from __future__ import annotations

import logging

from celery import Task, shared_task
from celery.exceptions import Ignore
from celery.signals import worker_ready
from django.db import transaction

from xblocks.labs import api, periodic
from xblocks.labs.sandbox import selftest
from xblocks.labs.sandbox.base import BackendUnavailable

log = logging.getLogger(__name__)


class LabHostTask(Task):
    """A task that needs a lab host's sandboxes: elsewhere it is sent on to the right lab queue, not run."""

    def __call__(self, *args, **kwargs):
        target = api.lab_task_destination(self.name, args, kwargs)
        if target is None:
            return super().__call__(*args, **kwargs)
        came_from = (self.request.delivery_info or {}).get("routing_key") if self.request.id else None
        if came_from == target:
            # This worker consumes the queue it would send the task to without being the lab host
            # that queue is for: sending it on would loop. The reaper requeues starts and stops; a
            # waiting Check times out with a message.
            log.error(
                "lab task %s[%s] dropped: this worker consumes %s but may not run it "
                "(set KAFAAT_LAB_HOST_ROLE=1 and KAFAAT_LAB_HOST on lab hosts only)",
                self.name,
                self.request.id,
                target,
            )
            raise Ignore()
        log.warning(
            "lab task %s[%s] received by a process that may not run it (from %s); sent on to %s",
            self.name,
            self.request.id,
            came_from or "a direct call",
            target,
        )
        self.apply_async(args=args, kwargs=kwargs, queue=target, task_id=self.request.id or None)
        raise Ignore()


@shared_task(
    base=LabHostTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(BackendUnavailable,),
    retry_backoff=2,
    retry_backoff_max=60,
    max_retries=5,
    ignore_result=True,
)
def provision_session(self, session_id: int) -> None:
    """Create the environment of a requested lab session; see api.provision_session."""
    api.provision_session(int(session_id))


@shared_task(
    base=LabHostTask,
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    ignore_result=True,
    max_retries=5,
    default_retry_delay=10,
)
def teardown_session(self, session_id: int) -> None:
    """Destroy a stopping session's environment and mark it stopped; see api.teardown_session."""
    api.teardown_session(int(session_id))


@shared_task(base=LabHostTask, acks_late=True, reject_on_worker_lost=True, ignore_result=True)
def run_checks(run_id: int) -> None:
    """Run the checks of one press of Check and record the result; see api.run_checks.

    Queued by the web request that recorded the press (on the session's lab host queue). Safe twice:
    only the worker that moves the run from queued to running works on it; the reaper ends a run
    whose worker died.
    """
    api.run_checks(int(run_id))


@shared_task(base=LabHostTask, acks_late=True, ignore_result=True)
def prepare_steps(session_id: int, step_ids: list) -> None:
    """Run the setup scripts of steps the learner has just reached; see api.prepare_steps."""
    api.prepare_steps(int(session_id), [str(step_id) for step_id in step_ids])


@shared_task(base=LabHostTask, acks_late=True, ignore_result=True)
def stop_session(session_id: int, actor: str = "system:task", reason: str = "stop") -> None:
    """Stop a live session (queues its teardown); see api.stop_session."""
    api.stop_session(int(session_id), actor=str(actor), reason=str(reason))


@shared_task(base=LabHostTask, acks_late=True, ignore_result=True)
def reap_sessions() -> dict:
    """End expired and idle sessions, retry or fail stalled starts; see api.reap_sessions."""
    return api.reap_sessions().as_json()


@shared_task(base=LabHostTask, acks_late=True, ignore_result=True)
def reconcile_sessions(host: str = "") -> dict:
    """Heal drift between this lab host's sandboxes and the database, both ways; see api.reconcile_sessions.

    ``host`` names the lab host it is meant for (it travels on that host's queue).
    """
    return api.reconcile_sessions().as_json()


@shared_task(base=LabHostTask, acks_late=True, ignore_result=True)
def reconcile_lab_hosts() -> list:
    """Queue a reconcile on every live lab host; see api.queue_reconciles."""
    return api.queue_reconciles()


@shared_task(base=LabHostTask, acks_late=True, ignore_result=True)
def fill_pool(host: str = "") -> list:
    """Top this lab host's warm pool up to recent demand, after destroying what expired; see api.fill_pool.

    ``host`` names the lab host it is meant for (it travels on that host's queue).
    """
    return api.fill_pool()


@shared_task(base=LabHostTask, acks_late=True, ignore_result=True)
def fill_pools() -> list:
    """Queue a warm pool pass on every live lab host (nothing when the pool is off); see api.queue_pool_fills."""
    return api.queue_pool_fills()


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox_message(message_id: int) -> bool:
    """Deliver one outbox message to its receivers (queued on commit by ``api.publish``); see api.deliver_message.

    Not a lab task: ordinary workers deliver. Safe twice: a delivered message is not sent again, and a
    failed one waits for its backoff and the periodic job.
    """
    return api.deliver_message(int(message_id))


@shared_task(acks_late=True, ignore_result=True)
def deliver_outbox() -> int:
    """Deliver every due outbox message (the ``kafaat-outbox-deliver`` periodic job); see api.deliver_due_messages."""
    return api.deliver_due_messages()


@shared_task(bind=True, acks_late=True, ignore_result=True)
def run_periodic_job(self, name: str) -> dict:
    """Run one periodic job if it is due and nobody else runs it (Celery beat's entry); see periodic.run_job."""
    came_from = (self.request.delivery_info or {}).get("routing_key") if self.request.id else None
    return periodic.run_job(str(name), came_from=came_from).as_json()


@worker_ready.connect
def _self_test_on_worker_start(sender=None, **kwargs):
    """Start the sandbox abuse self-test when a lab host's worker starts; a failure makes the backend refuse lab work.

    It runs beside consumption (a thread of this process), so the queue never stalls for its few
    seconds: the run is marked as under way before this returns, and a sandbox creation that arrives
    meanwhile waits for its outcome (and is refused if it fails). Workers without the lab-host role
    never make sandboxes, so they skip it.
    """
    if not api.may_run_lab_work():
        return
    try:
        # Pool sandboxes of this host's previous run may be gone or half made: never hand them out.
        api.purge_pool()
    except Exception:
        log.exception("warm pool: could not purge the previous run's pool; the reconciler will")
    try:
        selftest.run_in_background()
    except Exception:
        # an exception here must not kill the worker's other queues (certification tasks share it),
        # so it is logged loudly instead; with no passing run recorded, creation keeps refusing.
        log.exception("sandbox self-test could not start")


def enqueue(task, *args, queue: str, countdown: float = 0) -> None:
    """Queue ``task`` (one of this module's task objects) on ``queue`` once the current transaction commits.

    A worker must see the row it is given, hence after commit. A broker that is down (or an eager run
    that fails) is logged, not raised: the row is committed and the reaper queues the work again after
    ``REQUEST_REQUEUE_AFTER``, ``STOPPING_REQUEUE_AFTER`` or ``CHECK_REQUEUE_AFTER``, so the learner is not
    shown an error for work that will still happen. ``countdown``: seconds before a worker may run it.
    """

    def send() -> None:
        try:
            task.apply_async(args=list(args), queue=queue, **({"countdown": countdown} if countdown else {}))
        except Exception:
            log.exception("could not queue %s%r on %s; the reaper will retry", task.name, args, queue)

    transaction.on_commit(send)
