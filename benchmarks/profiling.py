"""Where an operation's CPU goes: a CPU-time profile of this process, summed by area, beside its children's CPU.

``measure(operation, runs)`` runs ``operation`` ``runs`` times under ``cProfile`` with a CPU clock
(``time.process_time``), so time spent blocked (waiting for the helper, a sandbox, a socket) counts for
nothing and what is left is work this process did. Each function's own time goes to the first area
whose path fragment its file contains; the children's CPU (the sandbox helper, bash and the check
scripts, reaped by this process) is read from ``RUSAGE_CHILDREN`` and reported as an area of its own.

Profiling slows Python down (every call is counted), so the shares are the figure; ``scale_to``
turns them into milliseconds of an unprofiled run measured separately.
"""

from __future__ import annotations

import cProfile
import pstats
import resource
import time
from collections.abc import Callable

# (area, path fragments): the first area one of whose fragments is in a function's file name wins.
AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("sandbox engine (Python side: spawn, cgroups, pipes)", ("xblocks/labs/sandbox/", "subprocess.py", "selectors.py")),
    ("Django ORM (query building, SQLite/MariaDB driver)", ("django/db/", "sqlite3", "pymysql", "MySQLdb")),
    ("XBlock runtime and the workbench's field storage", ("/workbench/", "/xblock/", "/opaque_keys/")),
    ("Celery (eager hand-off, signatures)", ("/celery/", "/kombu/", "/billiard/", "/vine/")),
    ("Django request stack (middleware, CSRF, sessions, URLs)", ("/django/",)),
    ("Kafaat labs code (block, api, terminal tokens)", ("/xblocks/",)),
    ("Python standard library and the rest (json, logging, …)", ("",)),
]
CHILDREN = "children: sandbox helper, nsenter, bash and the check scripts"


def _area(filename: str) -> str:
    for name, fragments in AREAS:
        if any(fragment in filename for fragment in fragments):
            return name
    return AREAS[-1][0]


def _owners(filename: str, own: float, callers: dict) -> list[tuple[str, float]]:
    """Whose area a function's own time belongs to: its file's, or for a built-in (``getattr``,
    ``isinstance``, a C method: file ``~``) its callers' areas, in proportion to what each caller spent there."""
    if filename != "~" or not callers:
        return [(_area(filename), own)]
    spent = {caller: figures[2] for caller, figures in callers.items()}
    whole = sum(spent.values()) or 1.0
    return [(_area(caller[0]), own * seconds / whole) for caller, seconds in spent.items()]


def _profiled(
    operation: Callable[[], object], runs: int, between: Callable[[], object] | None, clock: Callable[[], float]
) -> tuple[cProfile.Profile, float]:
    """``operation`` run ``runs`` times under one profile on ``clock``, ``between`` after each run
    unprofiled; the profile and the CPU seconds of the children reaped during the runs."""
    profile = cProfile.Profile(clock)
    children = 0.0
    for _ in range(runs):
        before = _children_cpu()
        profile.enable()
        try:
            operation()
        finally:
            profile.disable()
        children += _children_cpu() - before
        if between is not None:
            between()
    return profile, children


def statements(operation: Callable[[], object]) -> dict[str, int]:
    """SQL statements one run of ``operation`` sends, counted by who sent them: the innermost frame
    outside Django and the standard library (``xblocks.labs.api.sessions``, ``workbench.runtime``…)."""
    import sys
    import traceback

    from django.db import connections

    counts: dict[str, int] = {}

    def count(execute, sql, params, many, context):
        for frame in reversed(traceback.extract_stack(sys._getframe(1))):
            name = frame.filename
            if "/django/" in name or "/lib/python3" in name and "site-packages" not in name:
                continue
            module = name.rsplit("site-packages/", 1)[-1].rsplit("/xblocks/", 1)[-1]
            key = module.removesuffix(".py").replace("/", ".")
            key = key if "site-packages" in name else f"xblocks.{key}"
            counts[key] = counts.get(key, 0) + 1
            break
        return execute(sql, params, many, context)

    wrappers = [connection.execute_wrapper(count) for connection in connections.all()]
    for wrapper in wrappers:
        wrapper.__enter__()
    try:
        operation()
    finally:
        for wrapper in reversed(wrappers):
            wrapper.__exit__(None, None, None)
    return dict(sorted(counts.items(), key=lambda item: -item[1]))


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def measure(
    operation: Callable[[], object], runs: int, between: Callable[[], object] | None = None
) -> dict[str, float]:
    """Seconds of CPU per run by area (profiled), the children's CPU per run under ``CHILDREN``;
    ``between`` runs unprofiled and uncounted after each run (a Stop after a Start, say)."""
    profile, children = _profiled(operation, runs, between, time.process_time)
    areas: dict[str, float] = {}
    for (filename, _line, _name), (_cc, _nc, own, _cum, callers) in pstats.Stats(profile).stats.items():
        for area, seconds in _owners(filename, own, callers):
            areas[area] = areas.get(area, 0.0) + seconds / runs
    areas[CHILDREN] = children / runs
    return areas


def hottest(
    operation: Callable[[], object], runs: int, between: Callable[[], object] | None = None, limit: int = 12
) -> list[tuple[str, float]]:
    """The functions with the most CPU of their own per run (``file:line(name)``, seconds), profiled."""
    profile, _children = _profiled(operation, runs, between, time.process_time)
    rows = [
        (f"{filename.rsplit('/site-packages/', 1)[-1]}:{line}({name})", own / runs)
        for (filename, line, name), (_cc, _nc, own, _cum, _callers) in pstats.Stats(profile).stats.items()
    ]
    return sorted(rows, key=lambda row: -row[1])[:limit]


def rows(areas: dict[str, float], scale_to: float | None = None) -> list[dict]:
    """Table rows, largest first: profiled ms per run and, given ``scale_to`` (the whole operation's CPU
    per run measured unprofiled, ms, children included), each area's ms of it: the children's CPU as
    measured, this process's own areas in their profiled proportions of the rest."""
    children = 1000 * areas.get(CHILDREN, 0.0)
    own_total = 1000 * sum(value for name, value in areas.items() if name != CHILDREN) or 1.0
    table = []
    for name, value in sorted(areas.items(), key=lambda item: -item[1]):
        ms = 1000 * value
        row = {"area": name, "profiled ms/op": round(ms, 1)}
        if scale_to is not None:
            share = ms if name == CHILDREN else max(0.0, scale_to - children) * ms / own_total
            row["ms/op unprofiled"] = round(share, 1)
            row["share"] = f"{100 * share / scale_to:.0f} %" if scale_to else ""
        table.append(row)
    return table


def cumulative(operation: Callable[[], object], runs: int) -> dict[str, float]:
    """Wall-clock seconds per run spent in each function and what it called (``file:line(name)``),
    waits included: for an operation that waits on processes it starts (a sandbox's create)."""
    profile, _children = _profiled(operation, runs, None, time.perf_counter)
    return {
        f"{filename.rsplit('/site-packages/', 1)[-1].rsplit('/xblocks/', 1)[-1]}:{line}({name})": cum / runs
        for (filename, line, name), (_cc, _nc, _own, cum, _callers) in pstats.Stats(profile).stats.items()
    }


def grown(before: dict[str, float], after: dict[str, float], limit: int = 12) -> list[dict]:
    """The functions whose time per run grew most from ``before`` to ``after`` (two ``cumulative`` runs)."""
    rows = [
        {
            "function": name,
            "before ms": round(1000 * before.get(name, 0.0), 2),
            "after ms": round(1000 * seconds, 2),
            "grown ms": round(1000 * (seconds - before.get(name, 0.0)), 2),
        }
        for name, seconds in after.items()
    ]
    return sorted(rows, key=lambda row: -row["grown ms"])[:limit]
