"""The private network of a lab of several machines: a switch, a veth per machine, platform rules.

Decision 0064 has the design. The lab's user namespace owns the switch's network namespace (made by
the helper's ``lab`` mode and kept by a bind mount on a file of the lab's folder) and every
machine's own (made by bubblewrap, run as the root of that same namespace). This module wires them
from the host, as host root in the host's user namespace, with iproute2 and nftables entered into
one network namespace at a time: no program runs inside the lab's user namespace to do it, and no
object it makes belongs to host root (a network device belongs to its network namespace, and every
network namespace here belongs to the lab's user namespace).

In the switch: a bridge ``br0``, one port ``m<i>`` per machine (each machine's veth pair is made
in the machine's namespace and its other end sent to the switch), and (for ``<deny from to>`` rules)
an nftables table of the bridge family whose forward chain drops the frames that arrive from the
``from`` machine's port and would leave through the ``to`` machine's port: any protocol, ARP and
broadcasts included. In a machine: ``lo`` and ``eth0`` with ``10.77.0.<i+2>/24``, no route beyond
that subnet, no IPv6 address (no link-local either). The learner can change none of it: every
process of a lab has an empty capability bounding set, so not even ``sudo`` root in a machine holds
CAP_NET_ADMIN, and no process of the lab is in the switch's namespace at all.
"""

from __future__ import annotations

import contextlib
import os
import pathlib
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass

from xblocks.labs.sandbox.base import MACHINE_NAME, BackendUnavailable, SandboxError
from xblocks.labs.sandbox.local.kernel import start_time

SUBNET = "10.77.0"
PREFIX = 24
TOOLS_PATH = "/usr/sbin:/usr/bin:/sbin:/bin"
WIRE_TIMEOUT = 20.0
PING_GROUPS = "0 2147483647"


def valid_name(name: str) -> bool:
    return bool(MACHINE_NAME.match(name))


@dataclass(frozen=True)
class Port:
    """A machine as the switch sees it: its name, its init's host pid and start time."""

    name: str
    pid: int
    start: int | None


def address(index: int) -> str:
    """The address of the ``index``-th machine (0-based): ``.1`` is left free, as a gateway would be."""
    return f"{SUBNET}.{index + 2}"


def hosts_file(names: Sequence[str]) -> str:
    """The ``/etc/hosts`` every machine of the lab gets: loopback, then every machine by name."""
    lines = ["127.0.0.1\tlocalhost", "::1\tlocalhost ip6-localhost ip6-loopback"]
    lines += [f"{address(index)}\t{name}" for index, name in enumerate(names)]
    return "\n".join(lines) + "\n"


def _tool(name: str) -> str:
    found = shutil.which(name, path=TOOLS_PATH)
    if not found:
        package = "nftables" if name == "nft" else "iproute2" if name == "ip" else "util-linux"
        raise BackendUnavailable(f"{name} is not installed; a lab of several machines needs it (Debian: {package})")
    return found


def _run_in(namespace: str, command: list[str], script: str, fds: Sequence[int] = ()) -> subprocess.Popen:
    """Start ``command`` (a batch reader) inside one network namespace, as host root, fed ``script``."""
    process = subprocess.Popen(
        [_tool("nsenter"), f"--net={namespace}", "--", *command],
        stdin=subprocess.PIPE,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        env={"PATH": TOOLS_PATH},
        close_fds=True,
        pass_fds=tuple(fds),
    )
    assert process.stdin is not None
    with contextlib.suppress(BrokenPipeError):
        process.stdin.write(script.encode())
    with contextlib.suppress(BrokenPipeError):
        process.stdin.close()
    process.stdin = None  # written and closed: communicate() only reads stderr
    return process


def _finish(process: subprocess.Popen, what: str) -> None:
    try:
        _out, err = process.communicate(timeout=WIRE_TIMEOUT)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        raise SandboxError(f"lab network: {what} did not finish in time") from None
    if process.returncode != 0:
        raise SandboxError(f"lab network: {what} failed: {err.decode(errors='replace').strip()[-500:]}")


def start_switch(switch: pathlib.Path) -> subprocess.Popen:
    """Make the switch's bridge; runs while the machines start (``wire`` waits for it)."""
    lines = ["link add br0 type bridge", "link set br0 addrgenmode none", "link set br0 up"]
    return _run_in(str(switch), [_tool("ip"), "-batch", "-"], "\n".join(lines) + "\n")


def wire(
    switch: pathlib.Path,
    ports: Sequence[Port],
    deny: Sequence[tuple[str, str]] = (),
    bridge: subprocess.Popen | None = None,
) -> dict[str, str]:
    """Give every machine its port and address, apply the deny rules, and plug the ports in the bridge.

    Every machine's network namespace is opened once and checked against its init's start time, so a
    recycled pid cannot put a veth into another process's namespace; the tools then name namespaces
    through those descriptors (``/proc/self/fd/N``), never through a pid. Each machine makes its own
    veth pair and sends the switch's end over; its addresses, the rules and the bridge are made at
    the same time, and the switch's ends are plugged in once all exist.
    """
    index = {port.name: number for number, port in enumerate(ports)}
    for source, target in deny:
        if source not in index or target not in index:
            raise SandboxError(f"lab network: a rule names an unknown machine ({source!r} -> {target!r})")
    if deny:
        _tool("nft")  # fail closed, before anything is made: rules that cannot be applied are no lab
    fds: list[int] = []
    started: list[tuple[str, subprocess.Popen]] = []
    try:
        switch_fd = os.open(switch, os.O_RDONLY | os.O_CLOEXEC)
        fds.append(switch_fd)
        for port in ports:
            fd = os.open(f"/proc/{port.pid}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
            fds.append(fd)
            if start_time(port.pid) != port.start:
                raise SandboxError(f"lab network: machine {port.name} stopped while its network was made")
        for number, (port, fd) in enumerate(zip(ports, fds[1:], strict=True)):
            lines = [
                f"link add eth0 type veth peer name m{number} netns /proc/self/fd/{switch_fd}",
                "link set lo up",
                "link set eth0 addrgenmode none",
                f"addr add {address(number)}/{PREFIX} dev eth0",
                "link set eth0 up",
            ]
            # ping without CAP_NET_RAW (ICMP echo sockets), for every group, in this namespace only
            command = [
                "/bin/sh",
                "-c",
                f'echo "{PING_GROUPS}" > /proc/sys/net/ipv4/ping_group_range && exec "$0" -batch -',
                _tool("ip"),
            ]
            process = _run_in(f"/proc/self/fd/{fd}", command, "\n".join(lines) + "\n", [fd, switch_fd])
            started.append((f"machine {port.name}", process))
        if deny:
            rules = "".join(f'    iifname "m{index[a]}" oifname "m{index[b]}" drop\n' for a, b in deny)
            table = (
                "table bridge kafaat {\n  chain forward {\n"
                "    type filter hook forward priority 0; policy accept;\n" + rules + "  }\n}\n"
            )
            started.append(("the deny rules", _run_in(str(switch), [_tool("nft"), "-f", "-"], table)))
        if bridge is None:
            bridge = start_switch(switch)
        started.append(("the switch", bridge))
        for what, process in started:
            _finish(process, what)
        started = []
        plug = [f"link set m{number} master br0 up" for number in range(len(ports))]
        _finish(_run_in(str(switch), [_tool("ip"), "-batch", "-"], "\n".join(plug) + "\n"), "the switch's ports")
    finally:
        for _what, process in started:  # a failure left some running: end them
            with contextlib.suppress(OSError):
                process.kill()
            process.wait()
        for fd in fds:
            with contextlib.suppress(OSError):
                os.close(fd)
    return {port.name: address(number) for number, port in enumerate(ports)}
