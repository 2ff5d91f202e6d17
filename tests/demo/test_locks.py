"""Lock files of the demo (one demo per var folder, one beat per demo): held by a live process only."""

from __future__ import annotations

import signal
import subprocess
import sys

from demo import locks
from tests.demo.helpers import CHECKOUT, wait_for

HOLD = "import sys, time; from demo import locks; lock = locks.hold(__import__('pathlib').Path(sys.argv[1])); " \
    "print('held' if lock else 'refused', flush=True); time.sleep(60)"  # fmt: skip


def _holder(path):
    return subprocess.Popen([sys.executable, "-c", HOLD, str(path)], cwd=CHECKOUT, stdout=subprocess.PIPE, text=True)


def test_a_lock_held_by_a_live_process_is_refused_and_names_its_holder(tmp_path):
    path = tmp_path / "beat.lock"
    other = _holder(path)
    try:
        assert other.stdout.readline().strip() == "held"
        assert locks.hold(path) is None
        assert locks.holder(path) == other.pid
    finally:
        other.kill()
        other.wait()
        other.stdout.close()


def test_a_lock_left_by_a_process_killed_with_kill_9_is_taken_over(tmp_path):
    path = tmp_path / "beat.lock"
    other = _holder(path)
    assert other.stdout.readline().strip() == "held"
    other.send_signal(signal.SIGKILL)
    other.wait()
    other.stdout.close()
    assert locks.holder(path) == other.pid  # the file still names the dead holder…
    lock = wait_for(lambda: locks.hold(path), 5, "the lock to be free")  # …but nothing holds it
    try:
        assert locks.holder(path) is not None and locks.holder(path) != other.pid
    finally:
        lock.release()
