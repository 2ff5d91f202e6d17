"""The demo on a full disk: its workers survive, its clean-up still ends every lab, a restart does not crash.

``KAFAAT_VAR_DIR`` on a small tmpfs mounted for the test (root only), unmounted afterwards.
"""

from __future__ import annotations

import contextlib
import errno
import os
import pathlib
import signal
import subprocess
import time
import uuid

import pytest

from tests.demo.helpers import RunningDemo, nothing_left, wait_for

pytestmark = [
    pytest.mark.sandbox,
    pytest.mark.slow,
    pytest.mark.timeout(900),
    pytest.mark.skipif(os.geteuid() != 0, reason="mounting a small tmpfs needs root"),
]


@pytest.fixture
def small_disk(tmp_path):
    mount = tmp_path / "disk"
    mount.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m,mode=0700", "kafaat-test-disk", str(mount)], check=True)
    try:
        yield mount
    finally:
        if subprocess.run(["umount", str(mount)], check=False).returncode:
            subprocess.run(["umount", "-l", str(mount)], check=False)
        assert str(mount) not in pathlib.Path("/proc/self/mountinfo").read_text()


def _fill(folder) -> int:
    """Fill the file system of ``folder`` to the last byte; returns how much was written."""
    written = 0
    with open(folder / "filler", "wb", buffering=0) as handle:
        for size in (1 << 20, 1 << 12, 1):
            chunk = b"\0" * size
            while True:
                try:
                    written += handle.write(chunk)
                except OSError as error:
                    assert error.errno == errno.ENOSPC
                    break
    return written


def test_a_full_disk_costs_no_worker_no_lab_left_behind_and_no_crash_on_restart(small_disk, tmp_path):
    var_dir = small_disk / "var"
    demo = RunningDemo(var_dir, tmp_path / "demo.log")
    try:
        demo.start()
        demo.start_lab("alice")
        workers = (demo.lab_worker_pid(), demo.part_pid("worker"))
        assert _fill(small_disk) > 0
        # the message a writer cut short on the full disk: empty
        poison = var_dir / "broker" / f"0_{uuid.uuid4()}.kafaat.labs.msg"
        poison.touch()
        wait_for(lambda: not poison.exists(), 30, "the worker to set the empty message aside", demo)
        time.sleep(2)
        assert (demo.lab_worker_pid(), demo.part_pid("worker")) == workers
        assert demo.process.poll() is None
        # stopping on the full disk: the database may refuse to record it, the labs end anyway
        demo.signal(signal.SIGTERM)
        assert demo.wait(180) == 0, demo.output()[-6000:]
        assert nothing_left(demo) == []
    finally:
        demo.ensure_stopped()

    # started again on the still full disk: it runs, or says clearly why not; it never loops
    again = RunningDemo(var_dir, tmp_path / "again.log")
    try:
        with contextlib.suppress(AssertionError):
            again.start(timeout=240)
        if again.process.poll() is None:
            again.signal(signal.SIGTERM)
        code = again.wait(180)
        assert code == 0 or "KiB free in" in again.output(), again.output()[-6000:]
        assert nothing_left(again) == []
    finally:
        again.ensure_stopped()

    # space freed, an empty message still queued from before: the restart sets it aside and runs
    (small_disk / "filler").unlink()
    (var_dir / "broker" / f"0_{uuid.uuid4()}.celery.msg").touch()
    last = RunningDemo(var_dir, tmp_path / "last.log")
    try:
        last.start()
        wait_for(lambda: "is unreadable (0 bytes: empty)" in last.output(), 30, "the message to be set aside", last)
        assert last.start_lab("bob")["state"] == "ready"
        last.signal(signal.SIGTERM)
        assert last.wait(180) == 0
        assert nothing_left(last) == []
        assert "restarting" not in last.output() and " exited with " not in last.output()
    finally:
        last.ensure_stopped()
