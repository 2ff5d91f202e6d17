"""Running a process to its end: feeding its script, gathering capped output, wall and CPU limits."""

from __future__ import annotations

import contextlib
import dataclasses
import math
import os
import selectors
import signal
import subprocess
import time
from typing import Any

from xblocks.labs.sandbox.base import (
    ExecResult,
)
from xblocks.labs.sandbox.local.layout import CPU_LIMIT_CODES


class Launched:
    """A helper process started with subprocess, with the calls ``collect`` makes on a spawned one."""

    def __init__(self, process: subprocess.Popen):
        self.process = process

    @property
    def returncode(self) -> int | None:
        return self.process.returncode

    def poll(self) -> int | None:
        return self.process.poll()

    def wait(self, timeout: float | None = None) -> int:
        return self.process.wait(timeout)

    def kill(self) -> None:
        # the helper leads its own session; the check it started is in its process group
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)

    def close(self) -> None:
        pass


def cpu_verdict(result: ExecResult, cpu_seconds: float | None, returncode: int | None) -> ExecResult:
    if cpu_seconds is not None and not result.timed_out and returncode in CPU_LIMIT_CODES:
        return dataclasses.replace(result, cpu_exceeded=True)
    return result


def cpu_limit(seconds: float | None) -> str:
    if seconds is None:
        return ""
    soft = max(1, math.ceil(seconds))
    return f"ulimit -S -t {soft} && ulimit -H -t {soft + 1} || exit 125; "


def collect(
    process: Any,
    writes: list[tuple[int, bytes]],
    reads: dict[int, str],
    timeout: float,
    output_limit: int,
    started: float,
    *,
    with_helper: bool = False,
) -> Any:
    """Feed the script and stdin, gather capped output, enforce the wall timeout on the process group.

    ``process`` is a spawned process or a helper (``poll``, ``wait``, ``kill``, ``returncode``). Every
    descriptor given is this side's end and is closed here. With ``with_helper`` the helper's error
    pipe (named ``helper`` in ``reads``) is read too and returned beside the result.
    """
    out: dict[str, bytearray] = {"stdout": bytearray(), "stderr": bytearray(), "helper": bytearray()}
    kept = 0
    truncated = timed_out = False
    deadline = started + max(0.1, timeout)
    pending = {fd: memoryview(data) for fd, data in writes}
    for fd in pending:
        os.set_blocking(fd, False)
    selector = selectors.DefaultSelector()
    for fd in pending:
        selector.register(fd, selectors.EVENT_WRITE)
    for fd in reads:
        selector.register(fd, selectors.EVENT_READ)
    exited_at: float | None = None
    try:
        while selector.get_map():
            now = time.monotonic()
            if exited_at is None and process.poll() is not None:
                exited_at = now
            if exited_at is not None and now - exited_at > 0.05:
                break  # a background process still holds the pipes; the script itself is done
            if now >= deadline:
                timed_out = True
                break
            for key, _ in selector.select(min(0.05, deadline - now)):
                fd = key.fd
                if fd in pending:
                    try:
                        written = os.write(fd, pending[fd][:65536]) if pending[fd] else 0
                    except OSError:
                        written = -1
                    if written >= 0:
                        pending[fd] = pending[fd][written:]
                    if written < 0 or not pending[fd]:
                        selector.unregister(fd)
                        os.close(fd)
                        del pending[fd]
                    continue
                chunk = os.read(fd, 65536)
                if not chunk:
                    selector.unregister(fd)
                    continue
                if reads[fd] == "helper":
                    out["helper"] += chunk
                    continue
                room = max(0, output_limit - kept)
                if len(chunk) > room:
                    truncated = True
                out[reads[fd]] += chunk[:room]
                kept += min(room, len(chunk))
    finally:
        selector.close()
        for fd in list(pending):
            with contextlib.suppress(OSError):
                os.close(fd)
        if not timed_out and process.poll() is None:
            # output closed before the script ended: wait for it, within the wall limit
            try:
                process.wait(max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out:
            process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10.0)
        for fd, name in reads.items():
            if name == "helper":
                out["helper"] += _drain(fd)
            os.close(fd)
    returncode = process.returncode
    code = None if timed_out or returncode is None or returncode < 0 else returncode
    result = ExecResult(
        exit_code=code,
        stdout=out["stdout"].decode("utf-8", "replace"),
        stderr=out["stderr"].decode("utf-8", "replace"),
        duration=time.monotonic() - started,
        timed_out=timed_out,
        truncated=truncated,
    )
    if with_helper:
        return result, out["helper"].decode("utf-8", "replace")
    return result


def _drain(fd: int) -> bytes:
    """What is left in a pipe whose writers are gone (or nothing, without waiting)."""
    data = b""
    os.set_blocking(fd, False)
    with contextlib.suppress(OSError):
        while chunk := os.read(fd, 4096):
            data += chunk
    return data
