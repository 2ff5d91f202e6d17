"""The red-team corpus: every attack on the sandbox the project knows of, as data, run against real sandboxes.

Each entry states the attack, the containment expected and what a pass proves. ``make test`` runs
every entry (``tests/labs/sandbox/redteam/``); the worker's start-up self-test runs the ones marked
``selftest`` (in-sandbox and fast), so a lab host checks at start what CI checks, and refuses lab
work when a defence is missing on it (no helper, no Landlock, no seccomp filter, shared id ranges).
The abuse rows 1-18 come from ``selftest.py``; the rest are the trust-boundary attacks of issue 9
(host code execution, forged and read checks, per-user kernel limits) and a survey of what the
kernel offers a namespaced root (``KERNEL_SURFACE``, one probe per facility).
"""

from xblocks.labs.sandbox.redteam.budget import check_own_budget, check_rlimits
from xblocks.labs.sandbox.redteam.corpus import CORPUS, Attack, by_name
from xblocks.labs.sandbox.redteam.forged import (
    RACED_CHECK,
    VERDICT_ATTACKER,
    check_leftovers,
    check_tree_ptrace,
    raced_check,
    start_attacker,
)
from xblocks.labs.sandbox.redteam.kernel_limits import inotify_per_sandbox, pipes_per_sandbox
from xblocks.labs.sandbox.redteam.outside import outside_special_files
from xblocks.labs.sandbox.redteam.surface import KERNEL_SURFACE, Probe, surface_results

__all__ = [
    "Attack",
    "CORPUS",
    "KERNEL_SURFACE",
    "Probe",
    "RACED_CHECK",
    "VERDICT_ATTACKER",
    "by_name",
    "check_leftovers",
    "check_own_budget",
    "check_rlimits",
    "check_tree_ptrace",
    "inotify_per_sandbox",
    "outside_special_files",
    "pipes_per_sandbox",
    "raced_check",
    "start_attacker",
    "surface_results",
]
