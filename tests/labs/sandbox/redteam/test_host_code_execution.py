"""Issue 9 §1: a learner with sudo made the kernel run their program in the host's namespaces (binfmt_misc).

Attack: from a ``learner_sudo`` sandbox, mount binfmt_misc (per user namespace since Linux 6.7)
and register a handler matching every position-independent executable, with the F flag pointing
at a program of the learner's that writes a marker; then have the platform run a check, place a
file and open a terminal. The launcher of before executed ``nsenter`` from inside the sandbox's
user namespace while still in the host's mount namespace, so the kernel ran the handler there.
Containment: the mount is refused; and even with a handler registered behind the filter's back, the
helper never executes anything from inside the sandbox's user namespace until it is in every one
of the sandbox's namespaces: the handler runs inside the sandbox or not at all, never on the host.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import select
import subprocess
import time

import pytest

from xblocks.labs import runner
from xblocks.labs.definition import Check

pytestmark = pytest.mark.sandbox

# A static, non-PIE program (ELF type EXEC), so a handler matching type DYN does not match itself.
HANDLER_C = r"""
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
int main(int argc, char **argv) {
    char ns[128] = {0}, line[512];
    readlink("/proc/self/ns/mnt", ns, sizeof ns - 1);
    int fd = open(MARKER, O_WRONLY | O_CREAT | O_APPEND, 0666);
    if (fd >= 0) {
        snprintf(line, sizeof line, "%s %s\n", ns, argc > 1 ? argv[1] : "");
        write(fd, line, strlen(line));
        close(fd);
    }
    return 0;
}
"""
# Match the ELF type at offset 16: 3 (ET_DYN), every program of a Debian image.
REGISTER = r"echo ':kafaat:M:16:\x03\x00::/tmp/handler:F' > /proc/sys/fs/binfmt_misc/register"


@pytest.fixture
def marker():
    path = pathlib.Path(f"/tmp/kafaat-binfmt-{secrets.token_hex(6)}")
    yield path
    path.unlink(missing_ok=True)


def _handler(tmp_path: pathlib.Path, marker: pathlib.Path) -> bytes:
    source = tmp_path / "handler.c"
    source.write_text(HANDLER_C)
    binary = tmp_path / "handler"
    subprocess.run(
        ["cc", "-static", "-no-pie", "-O2", f'-DMARKER="{marker}"', "-o", str(binary), str(source)],
        check=True,
        capture_output=True,
    )
    return binary.read_bytes()


def _everything_the_platform_runs(backend, handle) -> None:
    """A check, a root and a learner exec, a file placed and read, a terminal opened: whatever they return."""
    for call in (
        lambda: runner.run_check(backend, handle, Check("c", 1, 5, "learner", "true")),
        lambda: runner.run_check(backend, handle, Check("r", 1, 5, "root", "true")),
        lambda: backend.exec(handle, "true", user="root", timeout=5),
        lambda: backend.exec(handle, "true", timeout=5),
        lambda: backend.put_file(handle, "/home/learner/placed.txt", b"x\n"),
        lambda: backend.read_file(handle, "/etc/hostname"),
    ):
        try:
            call()
        except Exception:  # noqa: S110  a hijacked sandbox may fail every call; only the host matters here
            pass
    pty = backend.open_pty(handle)
    try:
        pty.write(b"id\n")
        deadline = time.monotonic() + 1
        while time.monotonic() < deadline and pty.alive():
            if select.select([pty.fileno()], [], [], 0.1)[0]:
                pty.read()
    finally:
        pty.close()


def test_a_learner_with_sudo_cannot_register_a_handler_and_nothing_runs_on_the_host(
    make_sandbox, local_backend, tmp_path, marker
):
    handle = make_sandbox(learner_sudo=True)
    local_backend.put_file(handle, "/tmp/handler", _handler(tmp_path, marker), mode=0o755)
    attempt = local_backend.exec(
        handle,
        "sudo -n mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc 2>&1; echo mount=$?; "
        f'sudo -n sh -c "{REGISTER}" 2>&1; echo register=$?',
    )
    assert "mount=0" not in attempt.stdout and "register=0" not in attempt.stdout, attempt.stdout
    _everything_the_platform_runs(local_backend, handle)
    assert not marker.exists(), marker.read_text()[:500]
    assert local_backend.exec(handle, "echo still-a-sandbox").stdout == "still-a-sandbox\n"


def test_a_handler_registered_behind_the_filter_runs_inside_the_sandbox_never_on_the_host(
    make_sandbox, local_backend, tmp_path, marker
):
    """Suppose a learner found a way past the filter: the launcher design alone must still hold."""
    handle = make_sandbox(learner_sudo=True)
    local_backend.put_file(handle, "/tmp/handler", _handler(tmp_path, marker), mode=0o755)
    # Host root registers it in the sandbox's own user and mount namespaces, as its root could without the filter.
    registered = subprocess.run(
        [
            "nsenter",
            "-t",
            str(handle.data["pid"]),
            "-U",
            "-m",
            "--",
            "/bin/sh",
            "-c",
            f"mount -t binfmt_misc binfmt_misc /proc/sys/fs/binfmt_misc && {REGISTER} && echo registered",
        ],
        capture_output=True,
        text=True,
        timeout=10,
        check=False,
    )
    assert registered.stdout.strip().endswith("registered"), registered.stderr
    _everything_the_platform_runs(local_backend, handle)
    assert not marker.exists(), f"the handler ran on the host: {marker.read_text()[:500]}"
    inside = pathlib.Path(f"/proc/{handle.data['pid']}/root") / str(marker).lstrip("/")
    lines = inside.read_text().splitlines()  # it did run, in the sandbox's mount namespace
    host_ns = os.readlink("/proc/self/ns/mnt")
    assert lines and all(not line.startswith(host_ns) for line in lines), lines[:5]
    assert any("/bash" in line for line in lines), lines[:5]
