"""Scores from server-side records: step points, hint costs, gating and completion (pure functions).

``progress`` is the JSON kept on ``LabSession.progress``:
``{"steps": {step_id: {"check_points", "checks_passed", "flags", "hints", "solution", "solution_shown", "attempts"}}}``.
``solution`` means the solution was shown before the step passed (the step is then ungraded);
``solution_shown`` means it was shown after the step passed (its points are kept).
The grade is always computed here from those records, which only check runs and flag submissions
recorded by ``api`` change; nothing the browser sends is ever summed into a score.
"""

from __future__ import annotations

from typing import Any

EMPTY_STEP = {
    "check_points": 0.0,
    "checks_passed": False,
    "flags": [],
    "hints": 0,
    "solution": False,
    "solution_shown": False,
    "attempts": 0,
}


def step_record(progress: dict[str, Any], step_id: str) -> dict[str, Any]:
    """The record of one step (a fresh copy with defaults filled in)."""
    record = dict(EMPTY_STEP)
    record.update((progress.get("steps") or {}).get(step_id) or {})
    record["flags"] = list(record.get("flags") or [])
    return record


def with_step(progress: dict[str, Any], step_id: str, record: dict[str, Any]) -> dict[str, Any]:
    """A copy of ``progress`` with one step's record replaced."""
    steps = dict(progress.get("steps") or {})
    steps[step_id] = record
    return {**progress, "steps": steps}


def hint_cost(step, revealed: int) -> int:
    return sum(hint.cost for hint in step.hints[:revealed])


def step_points(step, record: dict[str, Any]) -> float:
    """Points a step earns: best check points plus accepted flags, minus revealed hints.

    0 when the solution was shown before the step passed; a solution read after passing keeps the points.
    """
    if record.get("solution"):
        return 0.0
    earned = float(record.get("check_points") or 0)
    accepted = set(record.get("flags") or [])
    earned += sum(flag.points for flag in step.flags if flag.id in accepted)
    return max(0.0, earned - hint_cost(step, int(record.get("hints") or 0)))


def step_passed(step, record: dict[str, Any]) -> bool:
    accepted = set(record.get("flags") or [])
    checks_ok = not step.checks or bool(record.get("checks_passed"))
    return checks_ok and all(flag.id in accepted for flag in step.flags)


def solution_revealed(record: dict[str, Any]) -> bool:
    """Whether the learner has seen the step's solution (before or after passing it)."""
    return bool(record.get("solution") or record.get("solution_shown"))


def reveal_solution(step, record: dict[str, Any]) -> dict[str, Any]:
    """The record once the solution is shown: ungraded if the step has not passed yet, else unchanged points."""
    record = dict(record)
    if step_passed(step, record):
        record["solution_shown"] = True
    else:
        record["solution"] = True
    return record


def lab_score(definition, progress: dict[str, Any]) -> float:
    return round(sum(step_points(step, step_record(progress, step.id)) for step in definition.steps), 4)


def lab_completed(definition, progress: dict[str, Any]) -> bool:
    return all(step_passed(step, step_record(progress, step.id)) for step in definition.steps)


def step_open(definition, progress: dict[str, Any], step_id: str) -> bool:
    """Sequential gating opens a step only when every earlier step has passed; free gating opens all."""
    if definition.gating != "sequential":
        return True
    for step in definition.steps:
        if step.id == step_id:
            return True
        if not step_passed(step, step_record(progress, step.id)):
            return False
    return False


def current_step(definition, progress: dict[str, Any]) -> str | None:
    """The first step not yet passed (None when all passed)."""
    for step in definition.steps:
        if not step_passed(step, step_record(progress, step.id)):
            return step.id
    return None


def reached_steps(definition, progress: dict[str, Any]) -> tuple[str, ...]:
    """The steps the learner has reached (their setup scripts have run): every open step, in order."""
    return tuple(step.id for step in definition.steps if step_open(definition, progress, step.id))


def attempts_left(definition, record: dict[str, Any]) -> int | None:
    """Check presses and flag submissions left on a step (None: unlimited)."""
    if definition.max_attempts is None:
        return None
    return max(0, int(definition.max_attempts) - int(record.get("attempts") or 0))
