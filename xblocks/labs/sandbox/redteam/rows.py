"""The abuse rows 1-18: the classic attacks on a shared lab machine (fork bomb, memory hog, egress,
other homes, host secrets, link tricks, ptrace, TIOCSTI...), each a case the self-test and the corpus run."""

from __future__ import annotations

import contextlib
import hashlib
import os
import pathlib
import re
import socket
import subprocess
import time
from collections.abc import Callable

from xblocks.labs.sandbox.base import MiB, SandboxHandle, User
from xblocks.labs.sandbox.selftest import SENTINEL_VARIABLE, Context, _expect

# Files whose hashes must not change whatever a sandbox does (symlink and hardlink tricks).
HOST_CANARIES = ("/etc/passwd", "/etc/shadow", "/etc/hostname", "/etc/hosts")


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
        before = ctx.backend.usage(handle).cpu_usage_us  # type: ignore[attr-defined]
        ctx.run(handle, "timeout 1 sh -c 'while :; do :; done'; true", timeout=3)
        usage = ctx.backend.usage(handle)  # type: ignore[attr-defined]
        throttled, used = usage.cpu_throttled_us, usage.cpu_usage_us - before
        # Throttled, or (on a host so busy that the loop never got its share) no more CPU than the
        # quota allows over the run: 0.2 of 1 s, with one period of slack.
        _expect(
            throttled > 0 or used <= 300_000,
            f"a busy loop used {used / 1000:.0f} ms of CPU in 1 s under a 0.2 CPU quota and was never throttled",
        )
    # The wall limit is far above the CPU limit: on a host under a class's load, one second of CPU can
    # take many seconds of wall time, and the case is about the CPU limit acting, not about the load.
    check = ctx.run(ctx.a, "python3 -c 'while True: pass'", timeout=60, cpu_seconds=1)
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
