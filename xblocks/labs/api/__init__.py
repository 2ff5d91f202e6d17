"""The one door to lab sessions and check runs: blocks, tasks, the terminal gateway, commands and other apps call this.

Functions are domain actions returning frozen values from ``xblocks.labs.data``. Work that needs the
sandbox (provisioning, teardown, check runs) runs on lab hosts' Celery workers (``xblocks.labs.tasks``);
the api queues it after the transaction that asked for it commits. The state of a session changes only
through ``xblocks.labs.lifecycle.transition``. One topic per module: ``status`` (what the page shows),
``sessions`` (start, stop, reset), ``checks`` (check runs and grades), ``steps`` (flags, hints,
solutions), ``staff``, ``gateway`` (the terminal's contract), ``sweeps`` (reaper and reconciler),
``hosts`` (lab hosts and queues), ``pool`` (the warm pool), ``outbox`` (messages to other apps, delivered
by workers), ``results`` (learners' current lab results, for the apps that heal from them).
"""

from xblocks.labs.api.catalogue import (
    catalogue_paths,
    lab_catalogue,
)
from xblocks.labs.api.checks import (
    claim_unpublished_grade,
    prepare_steps,
    release_grade_claim,
    request_checks,
    run_checks,
)
from xblocks.labs.api.gateway import (
    add_terminal_assets,
    can_watch,
    machine_handle,
    record_activity,
    service_target,
    service_token,
    services,
    services_enabled,
    session_owner,
    terminal_target,
    terminal_token,
    transcript,
    transcript_machines,
)
from xblocks.labs.api.hosts import (
    gateway_url,
    heartbeat,
    host_queue,
    lab_host_stopped,
    lab_hosts,
    lab_task_destination,
    lab_task_queue,
    may_run_lab_work,
    queue_reconciles,
)
from xblocks.labs.api.outbox import (
    deliver_due_messages,
    deliver_message,
    deliver_now,
    publish,
)
from xblocks.labs.api.pool import (
    fill_pool,
    purge_pool,
)
from xblocks.labs.api.pool import (
    queue_fills as queue_pool_fills,
)
from xblocks.labs.api.results import (
    lab_results,
)
from xblocks.labs.api.sessions import (
    provision_session,
    reset_session,
    start_session,
    stop_session,
    teardown_session,
)
from xblocks.labs.api.staff import (
    extend_session,
    list_sessions,
    session_in_block,
    staff_reset,
)
from xblocks.labs.api.status import (
    check_run_status,
    definition_source,
    latest_session_id,
    learner_check_run,
    learner_definition,
    learner_seed,
    learner_status,
    live_session_id,
    session_status,
)
from xblocks.labs.api.steps import (
    reveal_hint,
    reveal_solution,
    submit_flag,
)
from xblocks.labs.api.sweeps import (
    reap_sessions,
    reconcile_sessions,
)
from xblocks.labs.catalog import known_lab_keys

__all__ = [
    "catalogue_paths",
    "lab_catalogue",
    "add_terminal_assets",
    "can_watch",
    "check_run_status",
    "claim_unpublished_grade",
    "definition_source",
    "deliver_due_messages",
    "deliver_message",
    "deliver_now",
    "extend_session",
    "fill_pool",
    "purge_pool",
    "queue_pool_fills",
    "gateway_url",
    "heartbeat",
    "host_queue",
    "known_lab_keys",
    "lab_results",
    "lab_host_stopped",
    "lab_hosts",
    "lab_task_destination",
    "lab_task_queue",
    "latest_session_id",
    "learner_check_run",
    "learner_definition",
    "learner_seed",
    "learner_status",
    "list_sessions",
    "live_session_id",
    "may_run_lab_work",
    "prepare_steps",
    "provision_session",
    "publish",
    "queue_reconciles",
    "reap_sessions",
    "reconcile_sessions",
    "record_activity",
    "release_grade_claim",
    "request_checks",
    "reset_session",
    "reveal_hint",
    "reveal_solution",
    "run_checks",
    "session_in_block",
    "session_owner",
    "session_status",
    "staff_reset",
    "start_session",
    "stop_session",
    "submit_flag",
    "teardown_session",
    "terminal_target",
    "terminal_token",
    "machine_handle",
    "service_target",
    "service_token",
    "services",
    "services_enabled",
    "transcript",
    "transcript_machines",
]
