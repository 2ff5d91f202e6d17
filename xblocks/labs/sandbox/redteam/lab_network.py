"""Attacks on a lab of several machines and its private network (issue 13 §1, decision 0064).

Each case makes its own labs (three machines, the middle one with sudo: the most a learner can be)
and destroys them. What they prove: a machine reaches the machines of its own lab and nothing else
(not another lab's, not the host's loopback services, not the host's addresses); no learner, not
even ``sudo`` root, can change a link, an address, a route or a netfilter rule; the platform's deny
rules hold whatever the learner does on their side.
"""

from __future__ import annotations

import contextlib
import re
import secrets
import socket
import threading
from collections.abc import Iterator

from xblocks.labs.sandbox.base import MachineSpec, SandboxHandle, SandboxSpec, User
from xblocks.labs.sandbox.redteam.rows import _host_addresses
from xblocks.labs.sandbox.selftest import Context, _expect

MACHINES = ("attacker", "portal", "db")
CAP_NET_ADMIN = 12
# A TCP server a machine leaves running (a learner-side daemon), answering every connection with a word.
SERVE = (
    "nohup python3 -c 'import socket,sys\n"
    "s=socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)\n"
    's.bind(("0.0.0.0", int(sys.argv[1]))); s.listen(8)\n'
    'while True:\n c,_=s.accept(); c.sendall(sys.argv[2].encode()+b"\\n"); c.close()\' "$1" "$2" >/dev/null 2>&1 &\n'
    "for i in $(seq 50); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && exit 0; sleep 0.05; done; exit 1\n"
)
# Connects to each HOST:PORT argument; prints what answered ("HOST:PORT=word") or "HOST:PORT=refused/..."
PROBE = (
    "import socket, sys\n"
    "for target in sys.argv[1:]:\n"
    "    host, port = target.rsplit(':', 1)\n"
    "    s = socket.socket(socket.AF_INET6 if ':' in host.strip('[]') else socket.AF_INET); s.settimeout(1.5)\n"
    "    try:\n"
    "        s.connect((host.strip('[]'), int(port))); print(target + '=' + s.recv(64).decode().strip())\n"
    "    except OSError as e:\n"
    "        print(target + '=' + type(e).__name__)\n"
)


@contextlib.contextmanager
def lab(
    ctx: Context, *, deny: tuple[tuple[str, str], ...] = (), label: str = "selftest-lab"
) -> Iterator[SandboxHandle]:
    spec = SandboxSpec(
        label=label,
        machines=tuple(MachineSpec(name, learner_sudo=name == "portal") for name in MACHINES),
        deny=deny,
    )
    handle = ctx.backend.create(spec)
    try:
        yield handle
    finally:
        ctx.backend.destroy(handle)


def serve(ctx: Context, machine: SandboxHandle, port: int, word: str) -> None:
    result = ctx.run(machine, SERVE, args=[str(port), word], timeout=10)
    _expect(result.exit_code == 0, f"the test server did not start: {result.stderr[-300:]}")


def probe(ctx: Context, machine: SandboxHandle, *targets: str) -> dict[str, str]:
    result = ctx.run(machine, 'python3 -c "$1" "${@:2}"', args=[PROBE, *targets], timeout=30)
    return dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)


@contextlib.contextmanager
def host_listener() -> Iterator[int]:
    """A real TCP service on the host's loopback that answers ``host-secret``."""
    server = socket.socket()
    server.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    server.bind(("0.0.0.0", 0))  # noqa: S104  every host address, loopback included: none may answer a lab
    server.listen(8)
    server.settimeout(0.2)
    stop = threading.Event()

    def answer() -> None:
        while not stop.is_set():
            try:
                connection, _ = server.accept()
            except OSError:
                continue
            with connection:
                connection.sendall(b"host-secret\n")

    thread = threading.Thread(target=answer, daemon=True)
    thread.start()
    try:
        yield server.getsockname()[1]
    finally:
        stop.set()
        thread.join(2)
        server.close()


def reach(ctx: Context) -> str:
    """Own lab by name: yes. Another lab (same addresses), the host's loopback and addresses: no."""
    word = secrets.token_hex(4)
    with lab(ctx) as mine, lab(ctx, label="selftest-lab-other") as other, host_listener() as host_port:
        serve(ctx, mine.machine("db"), 7001, "mine-" + word)
        serve(ctx, other.machine("db"), 7002, "other-" + word)
        targets = [
            "db:7001",
            "db:7002",  # the other lab's db has the same address as ours: only ours may answer
            "10.77.0.1:7002",
            f"127.0.0.1:{host_port}",
            *(f"[{ip}]:{host_port}" if ":" in ip else f"{ip}:{host_port}" for ip in _host_addresses()),
            "169.254.169.254:80",
        ]
        seen = probe(ctx, mine.machine("attacker"), *targets)
        _expect(seen.get("db:7001") == "mine-" + word, f"a machine did not reach its own lab's db by name: {seen}")
        leaked = {target: answer for target, answer in seen.items() if target != "db:7001" and "-" in answer}
        leaked |= {target: answer for target, answer in seen.items() if "host-secret" in answer}
        _expect(not leaked, f"reached from a lab's machine: {leaked}")
    return f"own db by name answered; {len(targets) - 1} other targets refused or unreachable"


ADMIN = r"""
grep CapBnd /proc/self/status
for command in "ip link set eth0 down" "ip link set eth0 address 02:00:00:00:00:99" \
    "ip addr add 10.77.0.99/24 dev eth0" \
    "ip route add default via 10.77.0.1" "ip link add x0 type dummy" "ip link add v0 type veth peer name v1" \
    "ip neigh replace 10.77.0.4 lladdr 02:00:00:00:00:01 dev eth0" "nft list ruleset" "unshare -n true" \
    "sysctl -w net.ipv4.ip_forward=1"; do
  if $command >/dev/null 2>&1; then echo "ALLOWED: $command"; fi
done
ip -o link show eth0 | grep -q 'state UP' && echo eth0-up
ip -o addr show eth0 | grep -c 'inet ' | sed 's/^/addresses=/'
"""


def network_admin(ctx: Context) -> str:
    """As ``sudo`` root in a machine: no CAP_NET_ADMIN in the bounding set, every change refused."""
    with lab(ctx) as handle:
        machine = handle.machine("portal")
        result = ctx.run(machine, 'sudo -n bash -c "$1"', args=[ADMIN], timeout=20)
        root = ctx.run(machine, ADMIN, user=User.ROOT, timeout=20)
        for who, output in (("sudo root", result.stdout), ("the machine's root", root.stdout)):
            bounding = re.search(r"CapBnd:\s*([0-9a-f]+)", output)
            _expect(bool(bounding), f"no bounding set read as {who}: {output}")
            _expect(
                not int(bounding.group(1), 16) & (1 << CAP_NET_ADMIN),
                f"{who} has CAP_NET_ADMIN in its bounding set: {output}",
            )
            _expect("ALLOWED" not in output, f"{who} changed the lab's network: {output}")
            _expect("eth0-up" in output and "addresses=1" in output, f"the machine's link changed: {output}")
    return "no CAP_NET_ADMIN in sudo root's bounding set; link, address, route, neighbour, nft, sysctl changes refused"


def deny_rules(ctx: Context) -> str:
    """``<deny from="attacker" to="db"/>``: attacker cannot reach db, whatever it tries; portal still can."""
    with lab(ctx, deny=(("attacker", "db"),)) as handle:
        serve(ctx, handle.machine("db"), 7003, "db")
        from_attacker = probe(ctx, handle.machine("attacker"), "db:7003", "10.77.0.4:7003")
        from_portal = probe(ctx, handle.machine("portal"), "db:7003")
        _expect(from_portal.get("db:7003") == "db", f"an allowed machine could not reach db: {from_portal}")
        _expect(all(answer != "db" for answer in from_attacker.values()), f"the deny rule let through: {from_attacker}")
        ping = ctx.run(handle.machine("attacker"), "ping -c1 -W1 db >/dev/null 2>&1 && echo reached; true")
        _expect("reached" not in ping.stdout, "attacker pinged db through a deny rule")
    return f"attacker -> db: {sorted(set(from_attacker.values()))}; portal -> db answered"


APART = r"""
python3 - <<'PY'
import os, socket
seen = []
# processes: only this machine's (its own pid namespace)
seen.append("procs=" + str(sorted(int(p) for p in os.listdir("/proc") if p.isdigit())[:3]))
# the other machine's abstract unix socket and its files are not this machine's
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect("\0kafaat-db-secret"); seen.append("ABSTRACT-REACHED")
except OSError:
    seen.append("abstract=refused")
seen.append("file=" + str(os.path.exists("/tmp/db-secret")))
# every pid namespace's init: what /proc/1 is here
seen.append("init=" + open("/proc/1/cmdline", "rb").read().split(b"\0")[0].decode())
print(" ".join(seen))
PY
"""


def machines_apart(ctx: Context) -> str:
    """Sudo root on one machine of a lab (same user namespace and host ids as the others) cannot see
    another machine's processes, files or abstract sockets."""
    with lab(ctx) as handle:
        db = handle.machine("db")
        started = ctx.run(
            db,
            "echo s3cret > /tmp/db-secret; nohup python3 -c 'import socket,time\n"
            's=socket.socket(socket.AF_UNIX); s.bind("\\0kafaat-db-secret"); s.listen(1); time.sleep(600)\' '
            ">/dev/null 2>&1 & sleep 0.5; ps -e -o args= | grep -c '[k]afaat-db-secret'",
            timeout=10,
        )
        _expect(started.stdout.strip() not in ("", "0"), f"the db listener did not start: {started.stderr[-200:]}")
        result = ctx.run(handle.machine("portal"), 'sudo -n bash -c "$1"', args=[APART], timeout=20)
        _expect("abstract=refused" in result.stdout, f"portal reached db's abstract socket: {result.stdout}")
        _expect("file=False" in result.stdout, f"portal sees db's files: {result.stdout}")
        _expect("ABSTRACT" not in result.stdout and "python3" not in result.stdout, result.stdout)
        pids = ctx.run(handle.machine("portal"), "sudo -n ps -e -o args= | grep -c '[k]afaat-db-secret' || true")
        _expect(pids.stdout.strip() == "0", f"portal's sudo root sees db's processes: {pids.stdout}")
    return "processes, files and abstract sockets of one machine are not another's: " + result.stdout.strip()


def no_net_admin(ctx: Context) -> str:
    """In any sandbox (one machine or a lab's), no learner-side process, sudo root or check holds
    CAP_NET_ADMIN, nor can get it back: it is out of the bounding set. Fast: the worker's self-test
    runs it, so a host whose helper predates the rule refuses lab work."""
    handle = ctx.sudo_sandbox()
    seen = {
        "sudo root": ctx.run(handle, "sudo -n grep CapBnd /proc/self/status").stdout,
        "root": ctx.run(handle, "grep CapBnd /proc/self/status", user=User.ROOT).stdout,
        "a check": ctx.run(handle, "grep CapBnd /proc/self/status", user=User.ROOT, check=True).stdout,
    }
    for who, output in seen.items():
        bounding = re.search(r"CapBnd:\s*([0-9a-f]+)", output)
        _expect(bool(bounding), f"no bounding set read as {who}: {output!r}")
        _expect(not int(bounding.group(1), 16) & (1 << CAP_NET_ADMIN), f"{who} may hold CAP_NET_ADMIN: {output}")
    return "CAP_NET_ADMIN is out of the bounding set of sudo root, the sandbox's root and checks"
