"""The start-up self-test: the sandbox abuse cases run in real sandboxes; lab work is refused while one escapes.

codejail's README gives the advice this follows: check confinement before accepting untrusted
input, because a missing kernel feature silently turns a jail into no jail. Each case is one row of
the project's abuse-case table, short enough that the whole run takes
a few seconds. The test suite runs the same cases (``tests/labs/sandbox/test_selftest.py``), so
the worker checks exactly what CI checks.

Workers start ``run_in_background()`` when they start (Celery ``worker_ready``): the run is marked as
running, in this process and in the host's record, before the worker consumes anything, and then goes
on beside consumption, so other tasks flow at once. ``LocalBackend.create`` waits for a running
self-test to end (``wait_until_settled``) and raises ``BackendUnavailable`` while the last recorded
run failed or never ended: no sandbox is made for a learner before a self-test passed. Before the
cases, ``requirements`` checks each piece the host must provide and names the ones that are missing.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import pathlib
import re
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from xblocks.labs.sandbox import requirements as host_requirements
from xblocks.labs.sandbox.base import Backend, Limits, MiB, SandboxHandle, SandboxSpec, User

log = logging.getLogger(__name__)

# Files whose hashes must not change whatever a sandbox does (symlink and hardlink tricks).
HOST_CANARIES = ("/etc/passwd", "/etc/shadow", "/etc/hostname", "/etc/hosts")
SENTINEL_VARIABLE = "KAFAAT_SELFTEST_SENTINEL"


@dataclass(frozen=True)
class CaseResult:
    """One abuse case: ``passed`` means the defence held."""

    name: str
    row: str
    passed: bool
    detail: str
    seconds: float

    def line(self) -> str:
        mark = "ok  " if self.passed else "FAIL"
        return f"{mark} {self.name:<22} ({self.row:>10}) {self.seconds * 1000:6.0f} ms  {self.detail}"


@dataclass(frozen=True)
class SelfTestReport:
    cases: tuple[CaseResult, ...]
    seconds: float
    error: str = ""
    requirements: tuple[host_requirements.RequirementResult, ...] = ()

    @property
    def passed(self) -> bool:
        return not self.error and bool(self.cases) and all(case.passed for case in self.cases)

    @property
    def failures(self) -> list[CaseResult]:
        return [case for case in self.cases if not case.passed]

    def summary(self) -> str:
        if self.error:
            return f"sandbox self-test could not run: {self.error}"
        failed = ", ".join(case.name for case in self.failures)
        verdict = "passed" if self.passed else f"FAILED ({failed})"
        return f"sandbox self-test {verdict}: {len(self.cases)} cases in {self.seconds:.1f} s"


class Escape(AssertionError):
    """A defence did not hold; the message says what got through."""


@dataclass
class Context:
    """Shared sandboxes for the cheap cases; destructive cases make their own through ``sandbox()``."""

    backend: Backend
    a: SandboxHandle
    b: SandboxHandle
    made: list[SandboxHandle] = field(default_factory=list)

    def sudo_sandbox(self) -> SandboxHandle:
        """One shared sandbox whose learner has sudo (the most a learner can be), made on first use."""
        for handle in self.made:
            if handle.label == "selftest-sudo":
                return handle
        handle = self.backend.create(SandboxSpec(image="base", learner_sudo=True, label="selftest-sudo"))
        self.made.append(handle)
        return handle

    @contextlib.contextmanager
    def sandbox(self, **limits: int | float) -> Iterator[SandboxHandle]:
        handle = self.backend.create(SandboxSpec(image="base", limits=Limits(**limits), label="selftest"))
        try:
            yield handle
        finally:
            self.backend.destroy(handle)

    def run(self, handle: SandboxHandle, script: str, *, user: User = User.LEARNER, timeout: float = 5.0, **kwargs):
        return self.backend.exec(handle, script, user=user, timeout=timeout, **kwargs)


def _expect(condition: bool, message: str) -> None:
    if not condition:
        raise Escape(message)


# ---------------------------------------------------------------------------------------------------
# The cases. Each returns a one-line account of what it saw; raising Escape means it failed.


def fork_bomb(ctx: Context) -> str:
    with ctx.sandbox(pids=64) as handle:
        ctx.run(handle, "bomb() { bomb | bomb & }; (bomb) >/dev/null 2>&1 &", timeout=2)
        peak, refused = 0, 0
        end = time.monotonic() + 1.0
        while time.monotonic() < end:  # sample from the host while the bomb runs
            usage = ctx.backend.usage(handle)  # type: ignore[attr-defined]
            peak, refused = max(peak, usage.pids), usage.forks_refused
            time.sleep(0.05)
        _expect(peak <= 64, f"{peak} processes under a limit of 64")
        _expect(refused > 0, "the bomb never hit the process limit")
        neighbour = ctx.run(ctx.b, "echo alive", timeout=5)
        _expect(neighbour.stdout.strip() == "alive", "a neighbour stopped answering during a fork bomb")
    return (
        f"peak {peak} of 64 processes, {refused} forks refused (EAGAIN); "
        f"neighbour answered in {neighbour.duration * 1000:.0f} ms"
    )


def memory_hog(ctx: Context) -> str:
    with ctx.sandbox(memory_bytes=64 * MiB) as handle:
        result = ctx.run(handle, "python3 -c 'b = bytearray(160 * 1024 * 1024); print(len(b))'", timeout=10)
        kills = ctx.backend.usage(handle).oom_kills  # type: ignore[attr-defined]
        _expect(result.exit_code != 0, "allocating 160 MiB under a 64 MiB limit succeeded")
        _expect(kills >= 1, "no OOM kill counted by the memory cgroup")
    return f"killed (exit {result.exit_code}), oom_kill={kills}, caller alive"


def cpu_quota(ctx: Context) -> str:
    with ctx.sandbox(cpus=0.2) as handle:
        ctx.run(handle, "timeout 1 sh -c 'while :; do :; done'; true", timeout=3)
        throttled = ctx.backend.usage(handle).cpu_throttled_us  # type: ignore[attr-defined]
        _expect(throttled > 0, "a busy loop was never throttled under a 0.2 CPU quota")
    check = ctx.run(ctx.a, "python3 -c 'while True: pass'", timeout=10, cpu_seconds=1)
    _expect(check.cpu_exceeded and not check.timed_out, f"a check over its CPU limit ended as {check}")
    return (
        f"throttled for {throttled / 1000:.0f} ms of a 1 s busy loop; a check stopped at its 1 s CPU "
        f"limit after {check.duration:.1f} s, reported as such"
    )


def wall_timeout(ctx: Context) -> str:
    result = ctx.run(ctx.a, "sleep 30", timeout=0.3)
    _expect(result.timed_out and result.exit_code is None, f"sleep 30 under a 0.3 s limit ended as {result}")
    _expect(result.duration < 2.0, f"the wall limit took {result.duration:.1f} s to act")
    return f"killed after {result.duration:.2f} s, recorded as a timeout"


def daemons(ctx: Context) -> str:
    from xblocks.labs.sandbox import cgroups  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.local import LocalBackend  # pylint: disable=import-outside-toplevel

    with ctx.sandbox() as handle:
        ctx.run(
            handle,
            "sleep infinity & setsid sleep 1000 & (sleep 1000 &) & nohup sleep 1000 >/dev/null 2>&1 &\n"
            "python3 -c 'import os\nif os.fork() == 0:\n os.setsid()\n if os.fork() == 0:\n"
            '  os.execvp("sleep", ["sleep", "999"])\'',
        )
        backend = ctx.backend
        driver = cgroups.driver(backend.settings.SANDBOX_CGROUP_PARENT) if isinstance(backend, LocalBackend) else None
        before = driver.pids(handle.id) if driver else set()
        _expect(len(before) >= 6, f"expected the daemons to be running, saw {len(before)} processes")
    alive = [pid for pid in before if _running(pid)]
    _expect(not alive, f"processes {alive} survived destroy")
    _expect(driver is None or not driver.exists(handle.id), "the sandbox's cgroup survived destroy")
    return f"{len(before)} processes incl. setsid, nohup and double-forked daemons; none after destroy"


def big_file(ctx: Context) -> str:
    free = os.statvfs("/var").f_bfree
    with ctx.sandbox(disk_bytes=16 * MiB) as handle:
        result = ctx.run(handle, "dd if=/dev/zero of=$HOME/big bs=1M count=64 2>&1; echo rc=$?", timeout=10)
        _expect(
            "No space left" in result.stdout or "File too large" in result.stdout,
            f"writing 64 MiB on a 16 MiB layer did not fail: {result.stdout[-200:]}",
        )
        size = ctx.run(handle, "stat -c %s $HOME/big").stdout.strip()
    drift = abs(os.statvfs("/var").f_bfree - free) * os.statvfs("/var").f_frsize
    _expect(int(size or 0) <= 16 * MiB, f"the file grew to {size} bytes")
    return f"stopped at {int(size or 0) / MiB:.1f} MiB (ENOSPC); host free space moved {drift / MiB:.1f} MiB"


def many_files(ctx: Context) -> str:
    with ctx.sandbox(inodes=2000) as handle:
        result = ctx.run(
            handle, "mkdir -p ~/f && cd ~/f && for i in $(seq 1 5000); do : > $i || exit 3; done", timeout=10
        )
        _expect(
            result.exit_code == 3 and "No space left" in result.stderr,
            f"creating 5000 files under a 2000-inode cap ended as {result.exit_code}: {result.stderr[-200:]}",
        )
        count = ctx.run(handle, "ls ~/f | wc -l").stdout.strip()
    return f"inode cap stopped file creation at {count} files (ENOSPC)"


def _host_addresses() -> list[str]:
    addresses: set[str] = set()
    with contextlib.suppress(OSError, subprocess.SubprocessError):
        output = subprocess.run(
            ["ip", "-o", "addr", "show"], capture_output=True, text=True, timeout=5, check=False
        ).stdout
        addresses.update(re.findall(r"\binet6?\s+([0-9a-f.:]+)/", output))
    with contextlib.suppress(OSError):
        addresses.add(socket.gethostbyname(socket.gethostname()))
    return sorted(a for a in addresses if not a.startswith(("127.", "::1", "fe80")))


def egress(ctx: Context) -> str:
    # Inside a namespace with only loopback these fail before any packet could leave the host.
    targets = [
        "169.254.169.254:80",
        "10.0.0.1:80",
        "172.16.0.1:80",
        "192.168.0.1:80",
        "100.64.0.1:80",
        "127.0.0.1:3306",
        "127.0.0.1:6379",
        "127.0.0.1:5672",
        "[fd00::1]:80",
        "[fe80::1]:80",
        "example.com:443",
        *(f"[{ip}]:22" if ":" in ip else f"{ip}:22" for ip in _host_addresses()),
    ]
    script = (
        "import socket, sys\nopen_ = []\n"
        "for target in sys.argv[1:]:\n"
        "    host, port = target.rsplit(':', 1)\n"
        "    host = host.strip('[]')\n"
        "    family = socket.AF_INET6 if ':' in host else socket.AF_INET\n"
        "    s = socket.socket(family, socket.SOCK_STREAM); s.settimeout(1)\n"
        "    try:\n        s.connect((host, int(port))); open_.append(target)\n"
        "    except OSError:\n        pass\n"
        "print(' '.join(open_) or 'none')\n"
    )
    result = ctx.run(ctx.a, 'python3 -c "$1" "${@:2}"', args=[script, *targets], timeout=20)
    _expect(
        result.stdout.strip() == "none", f"reachable from a sandbox: {result.stdout.strip()} {result.stderr[-200:]}"
    )
    return (
        f"{len(targets)} targets unreachable: a name on the internet, metadata, private ranges, "
        "host addresses, database, cache and broker ports"
    )


def other_homes(ctx: Context) -> str:
    ctx.run(ctx.a, "echo a-secret > ~/secret && chmod 644 ~/secret")
    a_root = pathlib.Path(str(getattr(ctx.backend, "root", "/var/lib/kafaat/sandboxes"))) / ctx.a.id
    probes = [str(a_root / "root/home/learner/secret"), f"/proc/{ctx.a.data.get('pid', 1)}/root/home/learner/secret"]
    result = ctx.run(
        ctx.b,
        'for p in "$@"; do cat "$p" 2>/dev/null && echo "READ $p"; done; cat ~/secret 2>/dev/null; true',
        args=probes,
    )
    _expect("a-secret" not in result.stdout, f"sandbox B read A's file: {result.stdout.strip()}")
    return "B cannot name or read A's home through host paths, /proc or its own home"


def host_secrets(ctx: Context) -> str:
    secrets_: list[str] = [os.environ[SENTINEL_VARIABLE]]
    settings_file = ""
    with contextlib.suppress(Exception):
        from django.conf import settings  # pylint: disable=import-outside-toplevel

        if settings.configured:
            secrets_.append(str(settings.SECRET_KEY))
            module = __import__(settings.SETTINGS_MODULE, fromlist=["_"])
            settings_file = str(getattr(module, "__file__", "") or "")
    shadow = pathlib.Path("/etc/shadow").read_bytes() if os.path.exists("/etc/shadow") else b""
    checks = ctx.run(
        ctx.a,
        "cat /etc/shadow >/dev/null 2>&1 && echo learner-read-shadow; "
        'test -n "$1" && test -e "$1" && echo settings-visible; env; '
        'cat /proc/[0-9]*/environ 2>/dev/null | tr "\\0" "\\n"; '
        'for s in "${@:2}"; do grep -rlsIF -- "$s" /etc /home /root /tmp /run 2>/dev/null; done; true',
        args=[settings_file, *secrets_],
        timeout=10,
    )
    _expect("learner-read-shadow" not in checks.stdout, "the learner read /etc/shadow")
    _expect("settings-visible" not in checks.stdout, f"the Django settings file {settings_file} is visible")
    for secret in secrets_:
        _expect(secret not in checks.stdout, "a host secret appears in the sandbox's environment")
    _expect(
        not [
            line
            for line in checks.stdout.splitlines()
            if line.startswith(("/etc/", "/home/", "/root/", "/tmp/", "/run/"))
        ],
        "a host secret appears in a file inside the sandbox",
    )
    as_root = ctx.run(ctx.a, "cat /etc/shadow", user=User.ROOT)
    _expect(not shadow or as_root.stdout.encode() != shadow, "the sandbox's /etc/shadow is the host's")
    identity = ctx.run(ctx.a, "hostname; cat /etc/hostname /etc/resolv.conf 2>/dev/null").stdout
    host_name = socket.gethostname()
    _expect(host_name in ("lab", "localhost") or host_name not in identity.split(), "the host's name shows inside")
    for server in _host_nameservers():
        _expect(server not in identity, f"the host's resolver {server} shows inside")
    return "no host shadow, settings file, SECRET_KEY, worker environment, host name or resolvers inside"


def _host_nameservers() -> list[str]:
    with contextlib.suppress(OSError):
        text = pathlib.Path("/etc/resolv.conf").read_text(encoding="utf-8", errors="replace")
        return [s for s in re.findall(r"^nameserver\s+(\S+)", text, re.MULTILINE) if not s.startswith("127.")]
    return []


def proc_view(ctx: Context) -> str:
    result = ctx.run(
        ctx.a,
        "ls /proc | grep -c '^[0-9]*$'; "
        "cat /proc/self/mountinfo /proc/self/cgroup /proc/1/cmdline /proc/1/environ 2>/dev/null | tr '\\0' ' '",
    )
    count, _, rest = result.stdout.partition("\n")
    _expect(int(count or 99) <= 8, f"/proc lists {count} processes")
    root = str(getattr(ctx.backend, "root", "/var/lib/kafaat"))
    for leak in (root, "/var/cache/kafaat", "kafaat/", os.environ[SENTINEL_VARIABLE]):
        _expect(leak not in rest, f"/proc inside shows host detail {leak!r}")
    return f"/proc lists {count.strip()} processes; mountinfo, cgroup and pid 1 show no host paths"


def setuid_binaries(ctx: Context) -> str:
    result = ctx.run(
        ctx.a,
        "cat-setuid /proc/self/status | grep -E '^(Uid|CapEff|CapPrm|NoNewPrivs)'; "
        "cat-netraw /proc/self/status | grep -E '^(CapEff|CapPrm)'",
    )
    lines = result.stdout.split("\n")
    _expect(
        any(re.match(r"Uid:\s+1000\s+1000\s+1000", line) for line in lines), f"setuid changed the uid: {result.stdout}"
    )
    caps = [line for line in lines if line.startswith(("CapEff", "CapPrm"))]
    _expect(
        len(caps) == 4 and all(line.split()[1] == "0000000000000000" for line in caps), f"capabilities gained: {caps}"
    )
    _expect("NoNewPrivs:\t1" in result.stdout, "no_new_privs is not set")
    return "setuid-root and cap_net_raw+ep copies run without privilege (NoNewPrivs 1, CapEff 0)"


PTRACE_PROBE = """
import ctypes, errno, sys
libc = ctypes.CDLL(None, use_errno=True)
libc.ptrace.restype = ctypes.c_long
for pid in sys.argv[1:]:
    rc = libc.ptrace(16, int(pid), None, None)  # PTRACE_ATTACH
    print(pid, "ATTACHED" if rc == 0 else errno.errorcode[ctypes.get_errno()])
"""


def ptrace_neighbour(ctx: Context) -> str:
    ctx.run(ctx.b, "sleep 60 >/dev/null 2>&1 &")
    # the worker, a neighbour's processes (host pids), the sandbox's own init and every root process in it
    targets = [str(os.getpid()), *(str(p) for p in _sandbox_host_pids(ctx, ctx.b)), "1"]
    result = ctx.run(
        ctx.a,
        'python3 -c "$1" "${@:2}" $(ps -o pid= -u root)',
        args=[PTRACE_PROBE, *targets],
        timeout=10,
    )
    _expect(result.exit_code == 0 and result.stdout.strip(), f"the probe did not run: {result.stderr[-300:]}")
    _expect("ATTACHED" not in result.stdout, f"ptrace attached: {result.stdout.strip()}")
    count = len(result.stdout.splitlines())
    return f"ptrace of the worker, a neighbour's processes, init and the sandbox's root processes: refused ({count})"


def _sandbox_host_pids(ctx: Context, handle: SandboxHandle) -> list[int]:
    from xblocks.labs.sandbox import cgroups  # pylint: disable=import-outside-toplevel

    with contextlib.suppress(Exception):
        return sorted(cgroups.driver(ctx.backend.settings.SANDBOX_CGROUP_PARENT).pids(handle.id))  # type: ignore[attr-defined]
    return []


TIOCSTI_PROBE = """
import ctypes, errno, fcntl, os, termios
libc = ctypes.CDLL(None, use_errno=True)
master, slave = os.openpty()
out = []
for name, request in (("plain", termios.TIOCSTI), ("high-bits", termios.TIOCSTI | (1 << 32))):
    c = ctypes.c_char(b"x")
    rc = libc.syscall(16 if os.uname().machine == "x86_64" else 29, slave, ctypes.c_ulong(request), ctypes.byref(c))
    out.append(f"{name}={'ok' if rc == 0 else errno.errorcode[ctypes.get_errno()]}")
print(" ".join(out))
"""


def tiocsti(ctx: Context) -> str:
    result = ctx.run(ctx.a, 'python3 -c "$1"', args=[TIOCSTI_PROBE])
    _expect(
        result.exit_code == 0 and "=ok" not in result.stdout and "plain=" in result.stdout,
        f"TIOCSTI injection: {result.stdout.strip()} {result.stderr[-200:]}",
    )
    return f"TIOCSTI refused: {result.stdout.strip()}"


COVERT_PROBE = """
import ctypes, errno, os, socket
libc = ctypes.CDLL(None, use_errno=True)
x86 = os.uname().machine == "x86_64"
out = []
for name, nr, args in (("keyctl", 250 if x86 else 219, (0, -3, 0)), ("io_uring_setup", 425, (1, 0)),
                       ("add_key", 248 if x86 else 217, (0, 0, 0, 0, 0))):
    rc = libc.syscall(nr, *[ctypes.c_long(a) for a in args])
    out.append(f"{name}={'ok' if rc >= 0 else errno.errorcode[ctypes.get_errno()]}")
try:
    socket.socket(40, socket.SOCK_STREAM); out.append("vsock=ok")
except OSError as e:
    out.append(f"vsock={errno.errorcode.get(e.errno, e.errno)}")
print(" ".join(out))
"""


def covert_channels(ctx: Context) -> str:
    result = ctx.run(ctx.a, 'python3 -c "$1"', args=[COVERT_PROBE])
    _expect(
        result.exit_code == 0 and "=ok" not in result.stdout,
        f"covert channel open: {result.stdout.strip()} {result.stderr[-200:]}",
    )
    ctx.run(ctx.a, "flock -x /etc/passwd sleep 3 >/dev/null 2>&1 &")
    time.sleep(0.05)
    lock = ctx.run(ctx.b, "flock -n -x /etc/passwd true && echo free")
    _expect(lock.stdout.strip() == "free", "a lock taken in A on a shared image file is visible in B")
    return f"{result.stdout.strip()}; image-file locks not shared"


def nested_userns(ctx: Context) -> str:
    outputs = []
    for user in (User.LEARNER, User.ROOT):
        result = ctx.run(ctx.a, "unshare -Ur true 2>&1; echo rc=$?", user=user)
        _expect("rc=0" not in result.stdout, f"unshare -Ur succeeded as {user}")
        outputs.append(f"{user}: refused")
    return ", ".join(outputs)


def output_flood(ctx: Context) -> str:
    result = ctx.backend.exec(ctx.a, "yes | head -c 20000000; echo done >&2", output_limit=64 * 1024, timeout=10)
    _expect(
        result.truncated and len(result.stdout.encode()) + len(result.stderr.encode()) <= 64 * 1024,
        f"output not capped: truncated={result.truncated}, {len(result.stdout)} bytes",
    )
    return f"20 MB of output capped at 64 KiB, flagged truncated, {result.duration * 1000:.0f} ms"


def link_tricks(ctx: Context) -> str:
    before = {path: _hash(path) for path in HOST_CANARIES}
    ctx.run(
        ctx.a,
        "ln -sf /etc/passwd ~/check.sh; ln -sf /etc/shadow ~/.bashrc; ln -sf /etc/cron.d/x ~/x; "
        "ln -sf /proc/1/root/etc/passwd ~/p; ln /etc/passwd ~/hard 2>/dev/null; ln -sf / ~/up; true",
    )
    delivered = ctx.run(ctx.a, "echo delivered from a pipe; echo $0")
    _expect(delivered.stdout.startswith("delivered from a pipe"), "a script did not run with links planted")
    for target in ("/home/learner/check.sh", "/home/learner/x", "/home/learner/up/etc/kafaat-canary"):
        with contextlib.suppress(Exception):
            ctx.backend.put_file(ctx.a, target, b"overwritten\n")  # type: ignore[attr-defined]
    read = ctx.backend.read_file(ctx.a, "/home/learner/p")  # type: ignore[attr-defined]
    after = {path: _hash(path) for path in HOST_CANARIES}
    _expect(before == after, f"host files changed: {[p for p in before if before[p] != after[p]]}")
    _expect(
        "root:" not in read.stdout or read.stdout != pathlib.Path("/etc/passwd").read_text(),
        "reading a planted link returned the host's /etc/passwd",
    )
    return "links at the paths the engine writes redirect nothing; host file hashes unchanged"


def _hash(path: str) -> str:
    try:
        return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()
    except OSError:
        return "absent"


def _running(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as handle:
            return handle.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        return False


CASES: tuple[tuple[str, str, Callable[[Context], str]], ...] = (
    ("fork_bomb", "1", fork_bomb),
    ("memory_hog", "2", memory_hog),
    ("cpu_quota", "3", cpu_quota),
    ("wall_timeout", "4", wall_timeout),
    ("daemons", "5", daemons),
    ("big_file", "6", big_file),
    ("many_files", "7", many_files),
    ("egress", "8-9", egress),
    ("other_homes", "10", other_homes),
    ("host_secrets", "10,19", host_secrets),
    ("link_tricks", "11", link_tricks),
    ("proc_view", "12", proc_view),
    ("setuid_binaries", "13", setuid_binaries),
    ("ptrace_neighbour", "14", ptrace_neighbour),
    ("tiocsti", "15", tiocsti),
    ("covert_channels", "16", covert_channels),
    ("nested_userns", "17", nested_userns),
    ("output_flood", "18", output_flood),
)


def _cases() -> list[tuple[str, str, Callable[[Context], str]]]:
    """What the self-test runs: the red-team corpus's in-sandbox cases (abuse rows 1-18 first)."""
    from xblocks.labs.sandbox import redteam  # pylint: disable=import-outside-toplevel

    return [
        (attack.name, attack.ref.replace("abuse row ", ""), attack.run) for attack in redteam.CORPUS if attack.selftest
    ]


def run_case(ctx: Context, name: str) -> CaseResult:
    row, function = next((row, fn) for case, row, fn in _cases() if case == name)
    started = time.monotonic()
    try:
        detail, passed = function(ctx), True
    except Escape as escape:
        detail, passed = str(escape), False
    except Exception as error:  # pylint: disable=broad-except  # a case that cannot run counts as failed
        log.exception("self-test case %s could not run", name)
        detail, passed = f"could not run: {error}", False
    return CaseResult(name=name, row=row, passed=passed, detail=detail, seconds=time.monotonic() - started)


def _local_backend() -> bool:
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    return str(labs_settings.SANDBOX_BACKEND) == "local"


@contextlib.contextmanager
def context(backend: Backend | None = None) -> Iterator[Context]:
    """Two shared sandboxes (A and B) for the cases, destroyed afterwards."""
    from xblocks.labs.sandbox.local import LocalBackend  # pylint: disable=import-outside-toplevel

    backend = backend or LocalBackend.instance()
    os.environ.setdefault(SENTINEL_VARIABLE, "kafaat-sentinel-" + os.urandom(8).hex())
    made: list[SandboxHandle] = []
    ctx: Context | None = None
    with _bypass_gate():
        try:
            a = backend.create(SandboxSpec(image="base", label="selftest-a"))
            made.append(a)
            b = backend.create(SandboxSpec(image="base", label="selftest-b"))
            made.append(b)
            ctx = Context(backend=backend, a=a, b=b)
            yield ctx
        finally:
            for handle in [*made, *(ctx.made if ctx else [])]:
                with contextlib.suppress(Exception):
                    backend.destroy(handle)


def run(
    backend: Backend | None = None,
    *,
    progress: Callable[[CaseResult], None] | None = None,
    only: list[str] | None = None,
) -> SelfTestReport:
    """Check the host's requirements, then run every abuse case (or ``only`` those) in real sandboxes.

    A missing requirement stops the run before any sandbox is made: the report's error names each
    missing piece (``requirements`` holds every check).
    """
    started = time.monotonic()
    results: list[CaseResult] = []
    needs: tuple[host_requirements.RequirementResult, ...] = ()
    if backend is None and _local_backend():
        needs = host_requirements.check()
    if not all(need.ok for need in needs):
        return SelfTestReport(
            cases=(), seconds=time.monotonic() - started, error=host_requirements.summary(needs), requirements=needs
        )
    try:
        with context(backend) as ctx:
            for name, _row, _fn in _cases():
                if only and name not in only:
                    continue
                result = run_case(ctx, name)
                results.append(result)
                if progress:
                    progress(result)
    except Exception as error:  # pylint: disable=broad-except  # cannot even create a sandbox: fail closed
        log.exception("sandbox self-test could not run")
        return SelfTestReport(
            cases=tuple(results), seconds=time.monotonic() - started, error=str(error), requirements=needs
        )
    return SelfTestReport(cases=tuple(results), seconds=time.monotonic() - started, requirements=needs)


# ---------------------------------------------------------------------------------------------------
# The gate LocalBackend.create consults.

_state_lock = threading.Lock()
_settled = threading.Condition(_state_lock)
_state: dict[str, object] = {"report": None, "running": False}
_bypass = threading.local()

# How long a sandbox creation waits for a running self-test before refusing (it takes a few seconds).
SETTLE_TIMEOUT = 120.0
_SETTLE_POLL = 0.02


@contextlib.contextmanager
def _bypass_gate() -> Iterator[None]:
    """The self-test itself must create sandboxes while a previous run is recorded as failed."""
    previous = getattr(_bypass, "active", False)
    _bypass.active = True
    try:
        yield
    finally:
        _bypass.active = previous


def run_and_record(backend: Backend | None = None) -> SelfTestReport:
    """Run the self-test and remember the outcome for this process and for the host.

    Celery runs ``worker_ready`` in the main process after the pool's children are forked, so the
    outcome is also written to ``SANDBOX_ROOT/.selftest.json``, which every process on the host
    consults: a failure anywhere stops lab work everywhere until a later run passes
    (``kafaat sandbox selftest`` records too). While it runs, the record says so, and sandbox
    creation everywhere on the host waits for it.
    """
    begin()
    return _run_marked(backend)


def _run_marked(backend: Backend | None) -> SelfTestReport:
    try:
        report = run(backend)
    except BaseException as error:  # run() reports its own failures; anything else must not leave "running"
        record(SelfTestReport(cases=(), seconds=0.0, error=f"the self-test crashed: {error}"), host=True)
        raise
    record(report, host=True)
    return report


def begin() -> None:
    """Mark a self-test as running, in this process and in the host's record: creation waits for its end."""
    with _state_lock:
        _state["running"] = True
    _write_host_file(
        {
            "passed": False,
            "running": True,
            "summary": "sandbox self-test running",
            "pid": os.getpid(),
            "at": time.time(),
            "failures": [],
        }
    )


def run_in_background(backend: Backend | None = None) -> threading.Thread:
    """Mark a run as begun now, then run the self-test in a thread and record it (a worker's start).

    The mark is written before this returns, so a caller that starts consuming afterwards never makes
    a sandbox on an earlier run's word: a start arriving meanwhile waits in ``wait_until_settled``.
    """
    begin()

    def work() -> None:
        try:
            _run_marked(backend)
        except Exception:  # recorded as a failure by _run_marked; logged here, the worker goes on
            log.exception("sandbox self-test crashed")

    thread = threading.Thread(target=work, name="kafaat-sandbox-selftest", daemon=True)
    thread.start()
    return thread


def _alive(pid: object) -> bool:
    try:
        os.kill(int(pid), 0)  # type: ignore[arg-type]
    except (TypeError, ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def running() -> bool:
    """True while a self-test runs in this process, or in a live process of this host."""
    with _state_lock:
        if _state["running"]:
            return True
        if _state["report"] is not None:
            return False
    outcome = _host_outcome()
    return bool(outcome and outcome.get("running") and _alive(outcome.get("pid")))


def wait_until_settled(timeout: float | None = None) -> bool:
    """Wait while a self-test runs (here or elsewhere on the host); False if it still runs after ``timeout``.

    A run whose process died without recording an outcome counts as settled: ``failed()`` then
    answers True (the record says not passed), so creation still refuses until a later run passes.
    """
    if getattr(_bypass, "active", False):
        return True
    deadline = time.monotonic() + (SETTLE_TIMEOUT if timeout is None else timeout)
    with _settled:
        while _state["running"]:
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            _settled.wait(left)
        if _state["report"] is not None:
            return True
    while running():
        if time.monotonic() >= deadline:
            return False
        time.sleep(_SETTLE_POLL)
    return True


def _host_file() -> pathlib.Path:
    from xblocks.labs.sandbox.conf import sandbox_settings as labs_settings  # pylint: disable=import-outside-toplevel

    return pathlib.Path(labs_settings.SANDBOX_ROOT) / ".selftest.json"


def _write_host_file(value: dict) -> None:
    with contextlib.suppress(OSError):
        path = _host_file()
        path.parent.mkdir(parents=True, exist_ok=True)
        temporary = path.with_name(f".selftest.{os.getpid()}.{threading.get_ident()}.tmp")
        temporary.write_text(json.dumps(value))
        os.replace(temporary, path)


def record(report: SelfTestReport, *, host: bool = False) -> None:
    if host:
        # the host's record first: a waiter in another process must never see "settled" before it
        _write_host_file(
            {
                "passed": report.passed,
                "summary": report.summary(),
                "pid": os.getpid(),
                "at": time.time(),
                "failures": [{"case": c.name, "row": c.row, "detail": c.detail} for c in report.failures],
            }
        )
    with _settled:
        _state["report"] = report
        _state["running"] = False
        _settled.notify_all()
    if report.passed:
        log.info("%s", report.summary())
    else:
        log.error("%s; lab work refused on this worker until a self-test passes", report.summary())
        for case in report.failures:
            log.error("self-test case %s (abuse row %s) escaped: %s", case.name, case.row, case.detail)


def host_outcome() -> dict | None:
    """The last outcome recorded for this host (``passed``, ``summary``, ``at``, ``failures``), or None."""
    return _host_outcome()


def _host_outcome() -> dict | None:
    try:
        return json.loads(_host_file().read_text())
    except (OSError, ValueError):
        return None


def failed() -> bool:
    """True while the last recorded self-test failed or is still running: this process's own run, else the host's."""
    if getattr(_bypass, "active", False):
        return False
    with _state_lock:
        report = _state["report"]
        if _state["running"]:
            return True  # not passed yet: a run under way vouches for nothing
    if report is not None:
        return not report.passed  # type: ignore[attr-defined]
    outcome = _host_outcome()
    return outcome is not None and not outcome.get("passed", False)


def last_summary() -> str:
    with _state_lock:
        report = _state["report"]
    if report is not None:
        return report.summary()  # type: ignore[attr-defined]
    outcome = _host_outcome()
    return str(outcome.get("summary")) if outcome else "never run"


def reset() -> None:
    """Forget the recorded outcome (tests)."""
    with _settled:
        _state["report"] = None
        _state["running"] = False
        _settled.notify_all()
