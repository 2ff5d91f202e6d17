"""Lab sessions, their state-change log and their check runs: the truth behind every lab page and grade.

Only ``xblocks.labs.lifecycle`` changes ``LabSession.state``; everything else goes through ``api``.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache

from django.conf import settings
from django.db import models

from xblocks.labs.data import RUN_RESULT_STATES, RunState, SessionState


@lru_cache(maxsize=1)
def label_prefix() -> str:
    """The sandbox label prefix of this deployment: ``labsession-<database digest>-``.

    Sandboxes are labelled ``<prefix><session id>``. Several deployments (an LMS, a demo, test
    runs) may share one lab host; the digest of the database they use keeps each reconciler to its
    own sandboxes instead of destroying the others' as unowned. ``KAFAAT["SESSION_LABEL_PREFIX"]``
    overrides it (e.g. to keep labels stable across a database move).
    """
    configured = (getattr(settings, "KAFAAT", None) or {}).get("SESSION_LABEL_PREFIX")
    if configured:
        return str(configured)
    db = settings.DATABASES["default"]
    identity = "|".join(str(db.get(key) or "") for key in ("ENGINE", "HOST", "PORT", "NAME"))
    return f"labsession-{hashlib.sha256(identity.encode()).hexdigest()[:8]}-"


class LabSession(models.Model):
    """One learner's environment for one lab block, from Start to its end.

    ``live_key`` is set while the session is live (requested, provisioning, ready) and NULL
    otherwise; its unique index gives one live session per learner and block on every database
    (MariaDB has no partial indexes, and NULLs never collide in a unique index).
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_lab_sessions")
    course_key = models.CharField(max_length=255, blank=True, db_index=True)
    usage_key = models.CharField(max_length=255, db_index=True)
    live_key = models.CharField(max_length=64, null=True, blank=True, unique=True)
    # "<user id>:<n>" while live, n in 1..MAX_LIVE_LABS_PER_LEARNER, NULL otherwise: the unique index
    # keeps a learner's live labs (across blocks and courses) under the cap even when Starts race.
    live_slot = models.CharField(max_length=32, null=True, blank=True, unique=True)

    definition = models.TextField(help_text="The lab OLX this session was started from (a snapshot).")
    definition_hash = models.CharField(max_length=64)
    seed = models.CharField(max_length=64, help_text="Secret seed of this learner's parameters.")
    params = models.JSONField(default=dict, blank=True)
    time_limit = models.PositiveIntegerField(default=3600)
    idle_timeout = models.PositiveIntegerField(default=900)

    state = models.CharField(
        max_length=16, choices=[(s.value, s.value) for s in SessionState], default=SessionState.REQUESTED, db_index=True
    )
    phase = models.CharField(max_length=32, blank=True)
    phase_at = models.DateTimeField(null=True, blank=True)
    learner_message = models.TextField(blank=True)
    detail = models.TextField(blank=True, help_text="Operator detail of a failure; never shown to learners.")
    provision_attempts = models.PositiveSmallIntegerField(default=0)
    held_until = models.DateTimeField(
        null=True, blank=True, help_text="While provisioning: the lease of the worker process making it (renewed)."
    )

    handle = models.JSONField(null=True, blank=True)
    host = models.CharField(max_length=255, blank=True)

    created = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    ends_at = models.DateTimeField(null=True, blank=True)
    last_activity = models.DateTimeField(null=True, blank=True)
    stopped_at = models.DateTimeField(null=True, blank=True)
    extended_seconds = models.PositiveIntegerField(default=0)

    # Learner progress, carried from one session of a learner and block to the next so that a
    # reset neither erases earned credit nor refills attempts.
    progress = models.JSONField(default=dict, blank=True)
    best_score = models.FloatField(default=0)
    completed_at = models.DateTimeField(null=True, blank=True)
    result_at = models.DateTimeField(
        null=True, blank=True, db_index=True, help_text="When the learner's result (score, progress) last changed."
    )

    class Meta:
        app_label = "kafaat_labs"
        indexes = [models.Index(fields=["user", "usage_key", "-created"], name="kafaat_lab_user_usage")]

    def __str__(self) -> str:
        return f"LabSession {self.pk} ({self.user_id}, {self.usage_key}, {self.state})"

    @property
    def label(self) -> str:
        return f"{label_prefix()}{self.pk}"


class SessionEvent(models.Model):
    """One state change of a session: who moved it, from where to where, and why (audit and usage)."""

    session = models.ForeignKey(LabSession, on_delete=models.CASCADE, related_name="events")
    from_state = models.CharField(max_length=16, blank=True)
    to_state = models.CharField(max_length=16)
    actor = models.CharField(max_length=150, help_text="user:<id>, staff:<id> or system:<component>")
    reason = models.CharField(max_length=255, blank=True)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "kafaat_labs"
        ordering = ["at", "pk"]

    def __str__(self) -> str:
        return f"{self.session_id}: {self.from_state or '-'} → {self.to_state} ({self.actor})"


class CheckRun(models.Model):
    """One press of Check (or one flag submission) on one step: requested, run by a worker, then recorded.

    ``active_key`` holds the session id while the run is queued or running and NULL once it ended; its
    unique index allows one check or flag run per session at a time on every database (a second press
    fails to insert). Only finished rows (``done``, ``timed_out``) carry results and feed the grade.
    """

    class Kind(models.TextChoices):
        CHECK = "check"
        FLAG = "flag"

    session = models.ForeignKey(LabSession, on_delete=models.CASCADE, related_name="check_runs")
    step_id = models.CharField(max_length=100)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.CHECK)
    state = models.CharField(
        max_length=16, choices=[(s.value, s.value) for s in RunState], default=RunState.QUEUED, db_index=True
    )
    active_key = models.PositiveBigIntegerField(null=True, blank=True, unique=True)
    checks_total = models.PositiveSmallIntegerField(default=0)
    checks_done = models.PositiveSmallIntegerField(default=0, help_text="Checks finished so far (progress).")
    script_hash = models.CharField(max_length=64, help_text="SHA-256 of the rendered check scripts that ran.")
    outcomes = models.JSONField(default=list)
    duration = models.FloatField(default=0)
    points = models.FloatField(default=0, help_text="Points this run earned for its step (before hint costs).")
    max_points = models.PositiveIntegerField(default=0)
    passed = models.BooleanField(default=False)
    graded = models.BooleanField(default=True)
    learner_message = models.TextField(blank=True, help_text="Why a run ended without results (translated).")
    detail = models.TextField(blank=True, help_text="Operator detail of a run that could not run; never shown.")
    attempt_refunded = models.BooleanField(default=False)
    created = models.DateTimeField(auto_now_add=True)
    queued_at = models.DateTimeField(null=True, blank=True, help_text="Last time the run's task was sent.")
    started_at = models.DateTimeField(null=True, blank=True)
    held_until = models.DateTimeField(
        null=True, blank=True, help_text="While running: the lease of the worker process running it (renewed)."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(
        null=True, blank=True, help_text="When the block published the grade this run recorded."
    )

    class Meta:
        app_label = "kafaat_labs"
        ordering = ["created", "pk"]

    def __str__(self) -> str:
        verdict = ("pass" if self.passed else "fail") if self.state in RUN_RESULT_STATES else self.state
        return f"CheckRun {self.pk} ({self.session_id}/{self.step_id}: {verdict})"


class LabHost(models.Model):
    """A lab host as it last reported itself: its queue, its gateway and how many sessions it takes.

    Written only by the host's own heartbeat (``kafaat_lab_host run``); placement reads it. A host
    whose ``last_seen`` is older than ``LAB_HOST_DEAD_AFTER`` is treated as dead, whatever it said.
    """

    name = models.CharField(max_length=255, unique=True)
    queue = models.CharField(max_length=255, help_text="Celery queue of this host's own work.")
    gateway_url = models.CharField(max_length=500, blank=True, help_text="Where browsers reach its terminal gateway.")
    capacity = models.PositiveIntegerField(default=0, help_text="Live sessions it accepts.")
    sandboxes = models.PositiveIntegerField(default=0, help_text="Sandboxes on the machine at the last heartbeat.")
    accepting = models.BooleanField(default=False, help_text="Takes new sessions (worker up, self-test passed).")
    detail = models.TextField(blank=True, help_text="Why it does not accept sessions, for operators.")
    version = models.CharField(max_length=32, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    last_seen = models.DateTimeField(db_index=True)
    stopped_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "kafaat_labs"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"LabHost {self.name}"


class PeriodicJob(models.Model):
    """When each periodic job last ran, how it ended, and who holds it now (the lease).

    A scheduler (Celery beat, a ``kafaat_periodic`` loop) starts a job only by moving ``runs`` on from
    the value it read, so of two schedulers exactly one wins; ``lease_until`` lets another take over
    a run whose process died.
    """

    name = models.CharField(max_length=100, unique=True)
    runs = models.PositiveIntegerField(default=0)
    holder = models.CharField(max_length=255, blank=True)
    lease_until = models.DateTimeField(null=True, blank=True)
    last_started = models.DateTimeField(null=True, blank=True)
    last_finished = models.DateTimeField(null=True, blank=True)
    last_ok = models.BooleanField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_duration = models.FloatField(null=True, blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        app_label = "kafaat_labs"
        ordering = ["name"]

    def __str__(self) -> str:
        return f"PeriodicJob {self.name}"


class OutboxMessage(models.Model):
    """A cross-app message written in the same transaction as the change it announces, then delivered by a worker.

    One row per topic and key (a learner's lab, a certificate): a newer message of the same key replaces
    the payload and bumps ``version``, so receivers always end up with the latest one, and a delivery
    marks the row delivered only if no newer version arrived meanwhile. ``lease_until`` keeps two
    processors from delivering one row at once; a failed delivery waits ``next_attempt_at`` (backoff).
    Topics and their signals: ``xblocks.core.outbox``; the processor: ``xblocks.labs.api.outbox``.
    """

    topic = models.CharField(max_length=100)
    key = models.CharField(max_length=300)
    payload = models.JSONField(default=dict)
    version = models.PositiveIntegerField(default=1)
    pending = models.BooleanField(default=True, db_index=True)
    next_attempt_at = models.DateTimeField(help_text="Not delivered before this time (backoff after a failure).")
    lease_until = models.DateTimeField(null=True, blank=True, help_text="Being delivered by a worker until then.")
    attempts = models.PositiveIntegerField(default=0, help_text="Delivery attempts of the current version.")
    last_error = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)
    updated = models.DateTimeField(auto_now=True)
    delivered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "kafaat_labs"
        ordering = ["pk"]
        constraints = [models.UniqueConstraint(fields=["topic", "key"], name="kafaat_outbox_topic_key")]
        indexes = [models.Index(fields=["pending", "next_attempt_at"], name="kafaat_outbox_due")]

    def __str__(self) -> str:
        return f"OutboxMessage {self.pk} ({self.topic} {self.key}, v{self.version})"


class PoolSandbox(models.Model):
    """A sandbox made ahead of demand for one lab definition on one lab host (the warm pool).

    ``creating`` while a lab host's worker makes it, ``ready`` once its files and setup are in place,
    ``claimed`` from the moment one Start took it: the compare-and-set on ``ready`` is what hands it to
    exactly one session, and a claimed sandbox belongs to that session until it is destroyed with it.
    It is never returned to the pool. Sandboxes are labelled ``<label prefix>pool-<id>``.
    """

    class State(models.TextChoices):
        CREATING = "creating"
        READY = "ready"
        CLAIMED = "claimed"

    host = models.CharField(max_length=255, blank=True, db_index=True)
    definition_hash = models.CharField(max_length=64, db_index=True)
    state = models.CharField(max_length=16, choices=State.choices, default=State.CREATING, db_index=True)
    handle = models.JSONField(null=True, blank=True)
    session = models.OneToOneField(
        LabSession, null=True, blank=True, on_delete=models.SET_NULL, related_name="pool_sandbox"
    )
    created = models.DateTimeField(auto_now_add=True)
    ready_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(help_text="Destroyed unclaimed after this time.")
    claimed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "kafaat_labs"
        indexes = [models.Index(fields=["host", "definition_hash", "state"], name="kafaat_lab_pool_pick")]

    def __str__(self) -> str:
        return f"PoolSandbox {self.pk} ({self.host or 'any host'}, {self.definition_hash[:8]}, {self.state})"

    @property
    def label(self) -> str:
        return pool_label(self.pk)


def pool_label_prefix() -> str:
    return f"{label_prefix()}pool-"


def pool_label(pk: int) -> str:
    """The label of the pool sandbox ``pk`` (the reconciler tells pool sandboxes from sessions' by it)."""
    return f"{pool_label_prefix()}{pk}"
