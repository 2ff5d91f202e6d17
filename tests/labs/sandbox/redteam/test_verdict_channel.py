"""Issue 9 §2: checks a learner could read or fake.

Attack: a learner process, started before the check, waits for it and races it: drains the check's
script pipe through /proc/<pid>/fd/N before bash reads it (bash then runs an empty script and exits
0), reads its environment and memory, takes its descriptors with pidfd_getfd, signals it, kills the
child whose exit status decides the verdict, or ptraces it and rewrites its exit status.
Containment: learner-side processes live in one Landlock domain and checks run outside it, so
every one of those is refused by the kernel (ptrace_may_access and signal scoping); the check's own
tree has ptrace and process_vm_* denied; nothing a check starts outlives it.
Proves: the checker's identity: a check's verdict is what its script computed.
"""

from __future__ import annotations

import secrets
import time

import pytest

from xblocks.labs import runner
from xblocks.labs.definition import Check
from xblocks.labs.sandbox import redteam, selftest

pytestmark = pytest.mark.sandbox


@pytest.fixture
def ctx(local_backend, make_sandbox):
    return selftest.Context(backend=local_backend, a=make_sandbox(), b=make_sandbox())


def _through(log: str) -> list[str]:
    return [line for line in log.splitlines() if "=ok" in line]


@pytest.mark.parametrize("user", ["learner", "root"])
def test_a_learner_process_started_before_a_check_can_neither_read_nor_forge_it(ctx, user):
    outcome, log, secret = redteam.raced_check(ctx, ctx.a, user=user)
    assert "target" in log, log  # the attacker found the check while it ran
    assert not _through(log), log
    assert secret not in log
    assert not outcome.passed and outcome.exit_code == 3 and "failed as it should" in outcome.feedback


def test_draining_the_script_pipe_before_bash_reads_it_never_passes_a_check(ctx):
    """The race of the issue: before, 9 of 10 runs passed with an empty script."""
    log_path = f"/tmp/drain-{secrets.token_hex(4)}.log"
    redteam.start_attacker(ctx, ctx.a, log_path, 30, mode="quick")
    secret = "SECRET-" + secrets.token_hex(8)
    outcomes = [
        runner.run_check(ctx.backend, ctx.a, Check("d", 1, 10, "learner", f"# {secret}\nexit 1")) for _ in range(10)
    ]
    log = ctx.run(ctx.a, f"cat {log_path}").stdout
    assert log.count("target") >= 5, log  # the attacker saw most checks start
    assert not any(outcome.passed for outcome in outcomes)
    assert all(outcome.exit_code == 1 for outcome in outcomes)
    assert secret not in log and not _through(log)


def test_a_learner_with_sudo_cannot_reach_a_check_either(local_backend, make_sandbox):
    """Root in the sandbox is still in the learner's domain: Landlock, not uids, keeps it off the check."""
    handle = make_sandbox(learner_sudo=True)
    ctx = selftest.Context(backend=local_backend, a=handle, b=handle)
    log_path = f"/tmp/attack-{secrets.token_hex(4)}.log"
    local_backend.exec(
        handle,
        f'sudo -n nohup python3 -c "$1" {log_path} 10 >/dev/null 2>&1 &',
        args=[redteam.VERDICT_ATTACKER],
    )
    deadline = time.monotonic() + 5
    while "ready" not in ctx.run(handle, f"cat {log_path} 2>/dev/null").stdout and time.monotonic() < deadline:
        time.sleep(0.02)
    outcome = runner.run_check(
        local_backend, handle, Check("c", 1, 10, "root", redteam.RACED_CHECK.format(secret="x", seconds=0.8))
    )
    log = ctx.run(handle, f"cat {log_path}").stdout
    assert "target" in log and not _through(log), log
    assert not outcome.passed and outcome.exit_code == 3


def test_a_check_leaves_no_process_behind_and_its_tree_cannot_trace_it(ctx):
    assert redteam.check_leftovers(ctx)
    assert redteam.check_tree_ptrace(ctx)


def test_learner_side_processes_share_one_domain_so_a_learner_manages_what_setup_started(ctx, local_backend):
    """The reason for the spawner: processes from setup, exec and terminals are one domain, not siblings."""
    local_backend.exec(ctx.a, "nohup sleep 300 >/dev/null 2>&1 &", user="learner")  # as a setup script would
    pty = local_backend.open_pty(ctx.a)
    try:
        pty.write(b"pkill -x sleep && echo KILLED-$((40+2)); ls /proc/$(pgrep -n bash)/fd >/dev/null && echo FD-OK\n")
        seen = b""
        deadline = time.monotonic() + 5
        while (b"KILLED-42" not in seen or b"FD-OK" not in seen) and time.monotonic() < deadline:
            seen += pty.read()
        assert b"KILLED-42" in seen and b"FD-OK" in seen, seen[-500:]
    finally:
        pty.close()


def test_the_spawner_comes_back_when_a_learner_with_sudo_kills_it(local_backend, make_sandbox):
    handle = make_sandbox(learner_sudo=True)
    killed = local_backend.exec(handle, "sudo -n pkill -9 -x kafaat-spawner; echo rc=$?")
    assert "rc=0" in killed.stdout or killed.exit_code is None  # the exec itself dies with its spawner
    time.sleep(0.1)
    assert local_backend.exec(handle, "echo back; pgrep -c -x kafaat-spawner").stdout == "back\n1\n"
    assert local_backend.exec(handle, "sudo -n id -u").stdout == "0\n"
