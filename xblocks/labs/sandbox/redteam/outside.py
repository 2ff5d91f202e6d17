"""Outside checks: what the learner's files can be under /lab."""

from __future__ import annotations

from xblocks.labs.sandbox.selftest import Context, _expect

# ---------------------------------------------------------------------------------------------------
# Outside checks: what the learner's files can be under /lab


OUTSIDE_FILES_SETUP = r"""
cd ~ && rm -f fifo sock sparse id-setuid
mkfifo fifo
nohup sh -c 'while :; do echo FED-BY-LEARNE''R > ~/fifo; done' >/dev/null 2>&1 &
nohup python3 -c '
import os, socket
s = socket.socket(socket.AF_UNIX)
s.bind(os.path.expanduser("~/sock"))
s.listen()
while True:
    c, _ = s.accept()
    c.send(b"SERVED-BY-LEARNE" b"R")
    c.close()' >/dev/null 2>&1 &
truncate -s 1T sparse
sudo -n cp /usr/bin/id id-setuid && sudo -n chmod 4755 id-setuid
for i in $(seq 100); do [ -S sock ] && break; sleep 0.02; done
"""

OUTSIDE_FILES_CHECK = r"""
echo "fifo=$(timeout 0.3 cat /lab/home/learner/fifo 2>&1 | head -c 40; echo " rc=${PIPESTATUS[0]}")"
python3 -c '
import socket
s = socket.socket(socket.AF_UNIX)
s.settimeout(1)
try:
    s.connect("/lab/home/learner/sock")
    print("socket=" + s.recv(64).decode())
except OSError as error:
    print("socket=" + type(error).__name__)'
timeout 0.2 sha256sum /lab/home/learner/sparse >/dev/null 2>&1; echo "sparse=$?"
/lab/home/learner/id-setuid -u >/dev/null 2>&1; echo "setuid=$?"
"""


def outside_special_files(ctx: Context) -> str:
    handle = ctx.sudo_sandbox()
    ctx.run(handle, OUTSIDE_FILES_SETUP, timeout=10)
    try:
        result = ctx.backend.exec_outside(handle, OUTSIDE_FILES_CHECK, timeout=10)  # type: ignore[attr-defined]
    finally:
        ctx.run(handle, "pkill -f 'BY-LEARNE[R]'; rm -f ~/fifo ~/sock ~/sparse; sudo -n rm -f ~/id-setuid", timeout=5)
    seen = dict(line.split("=", 1) for line in result.stdout.splitlines() if "=" in line)
    _expect("BY-LEARNER" not in result.stdout, f"a learner program answered the outside checker: {result.stdout}")
    _expect(seen.get("fifo", "").endswith("rc=124"), f"reading the learner's FIFO: {seen.get('fifo')}")
    _expect(seen.get("socket") == "ConnectionRefusedError", f"the learner's socket: {seen.get('socket')}")
    _expect(seen.get("sparse") == "124", f"a 1 TiB sparse file: {seen.get('sparse')}")
    _expect(seen.get("setuid") == "126", f"a setuid-root program under /lab: {seen.get('setuid')}")
    return (
        "under /lab a learner's FIFO has no writer and their socket no listener (an overlay of its own, not "
        "their live mount); a 1 TiB sparse file only times out; a setuid program does not run"
    )
