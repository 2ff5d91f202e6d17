"""Checks: a script run outside the learner's Landlock domain, in a cgroup of its own that dies with it."""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from xblocks.labs.sandbox.base import (
    ExecResult,
    SandboxError,
    SandboxHandle,
    User,
)
from xblocks.labs.sandbox.local.entering import enter_command, open_init, program_fd
from xblocks.labs.sandbox.local.layout import new_id
from xblocks.labs.sandbox.local.running import Launched, collect, cpu_limit, cpu_verdict

if TYPE_CHECKING:
    from xblocks.labs.sandbox.local.backend import LocalBackend

log = logging.getLogger(__name__)


def run_check(
    backend: LocalBackend,
    handle: SandboxHandle,
    user: User,
    uid: int,
    script_fd: int,
    child_ends: list[int],
    ours: dict,
    env: Mapping[str, str] | None,
    args: Sequence[str],
    timeout: float,
    output_limit: int,
    cpu_seconds: float | None,
    started: float,
) -> ExecResult:
    driver = backend._cgroups()
    group = None
    opened: list[int] = []
    try:
        # beside the sandbox's cgroup, with the lab's limits as its own budget: nothing the learner
        # does to the sandbox's memory, processes or CPU decides which of the check's commands fail
        group = driver.create_check(handle.id, f"check-{new_id(6)}", backend._limits(handle))
        pidfd, root = open_init(handle)
        opened += [pidfd, root]
        filter_fd = program_fd("check")
        error_r, error_w = os.pipe()
        opened += [filter_fd, error_w]
        ours["reads"][error_r] = "helper"
        command = enter_command(
            handle,
            error_fd=error_w,
            pidfd=pidfd,
            root=root,
            filter_fd=filter_fd,
            procs_files=driver.procs_files(group),
            uid=uid,
            options=["--nnp", "--"],
        )
        wrapper = f'{cpu_limit(cpu_seconds)}cd "$HOME" 2>/dev/null || cd /; . /dev/fd/{script_fd}'
        stdin_r, out_w, err_w, _script = child_ends
        process = subprocess.Popen(
            [*command, "/bin/bash", "--noprofile", "--norc", "-c", wrapper, "bash", *args],
            stdin=stdin_r,
            stdout=out_w,
            stderr=err_w,
            env=backend._env(handle, user, env),
            close_fds=True,
            pass_fds=(*opened, script_fd),
            start_new_session=True,
        )
    except BaseException:
        for fd, _data in ours["writes"]:
            os.close(fd)
        for fd in ours["reads"]:
            os.close(fd)
        if group:
            driver.remove(group)
        raise
    finally:
        for fd in [*child_ends, *opened]:
            with contextlib.suppress(OSError):
                os.close(fd)
    try:
        result, helper_errors = collect(
            Launched(process), ours["writes"], ours["reads"], timeout, output_limit, started, with_helper=True
        )
    finally:
        # nothing a check started outlives it: not a daemon, not a learner program it ran
        if not driver.kill(group, deadline=2.0):
            log.error("sandbox %s: processes of check cgroup %s survive SIGKILL", handle.id, group)
        driver.remove(group)
    if helper_errors:
        raise SandboxError(f"could not run a check in sandbox {handle.id}: {helper_errors.strip()[-1000:]}")
    return cpu_verdict(result, cpu_seconds, process.returncode)
