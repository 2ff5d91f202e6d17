"""Names, places and limits the local backend's modules share."""

from __future__ import annotations

import os
import re
import signal

from xblocks.labs.sandbox.base import Limits, MiB

ID_PATTERN = re.compile(r"^[0-9a-f]{16}$")
LEARNER_UID = 1000
PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
HANDLE_FILE = "handle.json"
SPAWNER_SOCKET = "spawner.sock"
OUTSIDE_NOTES = "outside"  # in a sandbox's folder: the throwaway sandboxes its outside checks use
HANDLE_VERSION = 2
# Ceiling for /dev/shm, which lives in memory like the writable layer but outside its size cap.
SHM_BYTES = 64 * 1024 * 1024
READY_TIMEOUT = 10.0
# How a run ends when a process hits RLIMIT_CPU: bash itself killed by SIGXCPU (the helper re-raises
# it), or a child killed by SIGXCPU or, past the hard limit, SIGKILL (bash exits 128 + signal).
CPU_LIMIT_CODES = (-signal.SIGXCPU, 128 + signal.SIGXCPU, -signal.SIGKILL, 128 + signal.SIGKILL)
# The throwaway sandbox an outside check runs in: the platform's own script, nothing of the learner's.
OUTSIDE_LIMITS = Limits(memory_bytes=256 * MiB, pids=128, cpus=1.0, disk_bytes=64 * MiB, inodes=20_000)
LAB_MOUNT = "/lab"


def new_id(nbytes: int = 8) -> str:
    """A random hex name (a sandbox's id: ``nbytes`` 8 matches ``ID_PATTERN``): ``secrets.token_hex``'s
    bytes, from ``os.urandom`` as there, without the imports of ``secrets`` (hmac, random, base64)."""
    return os.urandom(nbytes).hex()
