"""Frozen values the labs api returns: session status, check results, staff rows (never querysets)."""

from __future__ import annotations

import enum
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any


class SessionState(enum.StrEnum):
    REQUESTED = "requested"
    PROVISIONING = "provisioning"
    READY = "ready"
    STOPPING = "stopping"
    STOPPED = "stopped"
    FAILED = "failed"


# A learner holds at most one session per block in these states (enforced by LabSession.live_key).
LIVE_STATES = frozenset({SessionState.REQUESTED, SessionState.PROVISIONING, SessionState.READY})


class RunState(enum.StrEnum):
    """Where one press of Check (or one flag submission) is: see ``models.CheckRun``."""

    QUEUED = "queued"  # recorded by the web request; a worker has not taken it yet
    RUNNING = "running"  # a worker is running its checks one by one
    DONE = "done"  # every check ran; results recorded (passed or not)
    TIMED_OUT = "timed_out"  # the press's time cap ended it; what finished is recorded, the rest did not pass
    ERROR = "error"  # it could not run (lab gone, engine refused, no worker, worker lost): attempt given back


# A session has at most one run in these states (enforced by CheckRun.active_key).
RUN_ACTIVE_STATES = frozenset({RunState.QUEUED, RunState.RUNNING})
# Runs in these states carry results and feed the grade.
RUN_RESULT_STATES = frozenset({RunState.DONE, RunState.TIMED_OUT})


class Phase(enum.StrEnum):
    """Where a start is, shown to the learner as honest progress (see runner.provision)."""

    QUEUED = "queued"
    CREATING = "creating"
    COPYING_FILES = "copying_files"
    RUNNING_SETUP = "running_setup"
    READY = "ready"


class LabError(Exception):
    """Base of api errors. ``learner_message`` is translated and safe to show."""

    def __init__(self, learner_message: str, detail: str = ""):
        super().__init__(detail or learner_message)
        self.learner_message = learner_message
        self.detail = detail


class SessionNotFound(LabError, LookupError):
    """No such session (or not one the caller may see)."""


class SessionNotReady(LabError):
    """The session exists but has no running environment."""


class ActionRefused(LabError):
    """The request is understood but not allowed now (gating, attempts, state)."""


class RunInProgress(ActionRefused):
    """A check or flag run of this session is queued or running; the learner waits for it."""


class LiveLabLimit(ActionRefused):
    """The learner already has as many live labs as ``MAX_LIVE_LABS_PER_LEARNER`` allows."""


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


@dataclass(frozen=True)
class CheckResult:
    """One check's outcome as the learner may see it (feedback is plain text; the page escapes it)."""

    id: str
    passed: bool
    points: float
    max_points: int
    feedback: str
    timed_out: bool = False
    truncated: bool = False


@dataclass(frozen=True)
class StepStatus:
    id: str
    title: str
    open: bool
    passed: bool
    points: float
    max_points: int
    attempts: int
    attempts_left: int | None
    hints_revealed: int
    hints_total: int
    next_hint_cost: int | None
    solution_revealed: bool
    has_checks: bool
    flags: tuple[str, ...] = ()
    flags_accepted: tuple[str, ...] = ()
    hints: tuple[str, ...] = ()  # revealed hints, as sanitised HTML
    solution: str | None = None  # the solve script once revealed (plain text; the page escapes it)
    solution_ungraded: bool = False  # shown before the step passed: the step earns no points


@dataclass(frozen=True)
class SessionStatus:
    """What the learner's page shows: state, phase, times, progress and score, all server-side truths."""

    session_id: int | None
    state: str
    phase: str
    learner_message: str
    ready_at: datetime | None
    ends_at: datetime | None
    seconds_left: int | None
    score: float
    max_score: int
    completed: bool
    steps: tuple[StepStatus, ...] = ()
    idle_seconds_left: int | None = None  # until the idle timeout ends a ready lab
    active_run: CheckRunStatus | None = None  # the session's queued or running run, for a page that reloads

    @property
    def live(self) -> bool:
        return self.state in LIVE_STATES

    def as_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["ready_at"] = _iso(self.ready_at)
        value["ends_at"] = _iso(self.ends_at)
        value["live"] = self.live
        return value


@dataclass(frozen=True)
class CheckRunResult:
    """The outcome of pressing Check (or submitting a flag) on one step."""

    run_id: int
    step_id: str
    passed: bool
    graded: bool
    step_points: float
    results: tuple[CheckResult, ...]
    status: SessionStatus

    @property
    def score(self) -> float:
        return self.status.score

    @property
    def max_score(self) -> int:
        return self.status.max_score

    def as_json(self) -> dict[str, Any]:
        return {
            "run_id": self.run_id,
            "step_id": self.step_id,
            "passed": self.passed,
            "graded": self.graded,
            "step_points": self.step_points,
            "results": [asdict(result) for result in self.results],
            "status": self.status.as_json(),
        }


@dataclass(frozen=True)
class CheckRunStatus:
    """One press of Check as the page polls it: progress while active, then results or why it could not run.

    ``result`` is set once the run recorded results (``done`` or ``timed_out``); ``learner_message``
    says why a run ended without them (``error``) or that the time cap cut it short (``timed_out``).
    """

    run_id: int
    step_id: str
    kind: str
    state: str
    checks_done: int
    checks_total: int
    learner_message: str = ""
    result: CheckRunResult | None = None
    status: SessionStatus | None = None  # the session once the run ended (attempts, score, state)

    @property
    def finished(self) -> bool:
        return self.state not in RUN_ACTIVE_STATES

    def as_json(self) -> dict[str, Any]:
        value: dict[str, Any] = {
            "run_id": self.run_id,
            "step_id": self.step_id,
            "kind": self.kind,
            "state": self.state,
            "finished": self.finished,
            "checks_done": self.checks_done,
            "checks_total": self.checks_total,
            "message": self.learner_message,
        }
        if self.result is not None:
            value.update(self.result.as_json())
        elif self.status is not None:
            value["status"] = self.status.as_json()
        return value


@dataclass(frozen=True)
class LabResult:
    """A learner's current result in one lab block: what ``lab_result_recorded`` announces and healing re-reads.

    ``recorded_at`` is when the result last changed (a graded run, a hint); ``occurred_at`` dates the
    evidence: the lab's completion, else that change, so a later result always dates later.
    """

    user_id: int
    course_key: str
    usage_key: str
    lab_key: str
    score: float
    max_score: float
    passed: bool
    completed_at: datetime | None
    recorded_at: datetime

    @property
    def occurred_at(self) -> datetime:
        return self.completed_at or self.recorded_at

    def as_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["completed_at"] = self.completed_at.isoformat() if self.completed_at else None
        value["recorded_at"] = self.recorded_at.isoformat()
        return value

    @classmethod
    def from_json(cls, value: dict[str, Any]) -> LabResult:
        completed = value.get("completed_at")
        return cls(
            user_id=int(value["user_id"]),
            course_key=str(value.get("course_key") or ""),
            usage_key=str(value["usage_key"]),
            lab_key=str(value.get("lab_key") or ""),
            score=float(value["score"]),
            max_score=float(value["max_score"]),
            passed=bool(value["passed"]),
            completed_at=datetime.fromisoformat(completed) if completed else None,
            recorded_at=datetime.fromisoformat(value["recorded_at"]),
        )


@dataclass(frozen=True)
class PendingGrade:
    """A learner's recorded score that finished runs changed and the block has not published yet."""

    run_ids: tuple[int, ...]
    status: SessionStatus


@dataclass(frozen=True)
class HintReveal:
    step_id: str
    index: int
    text: str
    cost: int
    status: SessionStatus


@dataclass(frozen=True)
class SolutionReveal:
    step_id: str
    script: str
    status: SessionStatus


@dataclass(frozen=True)
class StaffSessionRow:
    """One learner's lab in a block, for the staff view."""

    session_id: int
    username: str
    state: str
    phase: str
    current_step: str | None
    last_check_at: datetime | None
    last_check_passed: bool | None
    attempts: int
    seconds_used: int
    score: float
    max_score: int
    learner_message: str = ""
    detail: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["last_check_at"] = _iso(self.last_check_at)
        return value


@dataclass(frozen=True)
class SweepReport:
    """What the reaper or the reconciler did in one pass (logged and returned by the task)."""

    stopped: tuple[int, ...] = ()
    failed: tuple[int, ...] = ()
    retried: tuple[int, ...] = ()
    destroyed: tuple[str, ...] = ()
    runs_failed: tuple[int, ...] = ()  # check runs ended by the reaper (no worker, worker lost)
    runs_requeued: tuple[int, ...] = ()  # check runs whose task was sent again

    def as_json(self) -> dict[str, Any]:
        return {key: list(value) for key, value in asdict(self).items()}


@dataclass(frozen=True)
class LabHostStatus:
    """A lab host as placement sees it: what it reported, whether it is alive, and its load now."""

    name: str
    queue: str
    gateway_url: str
    capacity: int
    live_sessions: int  # requested, provisioning and ready sessions placed on it (from the database)
    sandboxes: int  # sandboxes on the machine at its last heartbeat
    accepting: bool  # what the host said of itself
    alive: bool  # heard from within LAB_HOST_DEAD_AFTER and not stopped
    detail: str
    last_seen: datetime
    started_at: datetime | None = None

    @property
    def available(self) -> int:
        """Sessions it can still take now (0 when dead, stopped, refusing or full)."""
        if not (self.alive and self.accepting):
            return 0
        return max(0, self.capacity - self.live_sessions)

    def as_json(self) -> dict[str, Any]:
        value = asdict(self)
        value["last_seen"] = _iso(self.last_seen)
        value["started_at"] = _iso(self.started_at)
        value["available"] = self.available
        return value


@dataclass(frozen=True)
class JobRun:
    """What one scheduler's attempt to run a periodic job did."""

    name: str
    ran: bool  # False: not due, or another scheduler holds it
    ok: bool = True
    reason: str = ""  # why it did not run, or the error it ended with
    seconds: float = 0.0
    result: Any = None

    def as_json(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ServiceTarget:
    """Where a service of a ready session lives: its machine's sandbox handle (``SandboxHandle``) and port.

    ``kind`` is ``web``, ``notebook`` or ``editor`` (no port; the editor works under ``root``).
    """

    session_id: int
    service_id: str
    label: str
    kind: str
    machine: str
    handle: Any
    port: int | None
    path: str = "/"
    root: str = ""
