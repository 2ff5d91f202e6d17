"""A lab of several machines on its private network, in real sandboxes (decision 0064).

The attacks (another lab, the host's loopback and addresses, network admin as sudo root, the deny
rules) are red-team corpus entries (``lab_network_*``, run by ``redteam/test_corpus.py``); this file
holds what a lab of machines must do and what its destroy must leave: nothing.
"""

from __future__ import annotations

import glob
import json
import os
import subprocess
import uuid

import pytest

from xblocks.labs.sandbox import ranges
from xblocks.labs.sandbox.base import MachineSpec, SandboxError, SandboxHandle, SandboxNotFound, SandboxSpec, User
from xblocks.labs.sandbox.redteam.lab_network import SERVE, probe
from xblocks.labs.sandbox.selftest import Context

pytestmark = pytest.mark.sandbox

THREE = (MachineSpec("attacker"), MachineSpec("portal", learner_sudo=True), MachineSpec("db"))


@pytest.fixture
def make_lab(local_backend):
    made = []

    def make(machines=THREE, deny=(), label="test-lab"):
        handle = local_backend.create(SandboxSpec(machines=tuple(machines), deny=tuple(deny), label=label))
        made.append(handle)
        return handle

    yield make
    for handle in made:
        local_backend.destroy(handle)


def _ctx(backend, handle):
    return Context(backend=backend, a=handle, b=handle)


def test_machines_have_their_names_and_reach_each_other_by_name(local_backend, make_lab):
    handle = make_lab()
    assert handle.machines == ("attacker", "portal", "db")
    for number, name in enumerate(handle.machines):
        machine = handle.machine(name)
        result = local_backend.exec(machine, "hostname; ip -o -4 addr show eth0; getent hosts attacker portal db")
        lines = result.stdout.splitlines()
        assert lines[0] == name
        assert f"inet 10.77.0.{number + 2}/24" in lines[1]
        assert [line.split()[1] for line in lines[2:]] == ["attacker", "portal", "db"]
    ctx = _ctx(local_backend, handle)
    local_backend.exec(handle.machine("db"), SERVE, args=["7100", "db-here"], timeout=10)
    assert probe(ctx, handle.machine("attacker"), "db:7100")["db:7100"] == "db-here"
    # no route leaves the subnet; ICMP echo works without CAP_NET_RAW, by name
    routes = local_backend.exec(handle.machine("portal"), "ip route; ping -c1 -W2 attacker >/dev/null && echo pong")
    assert routes.stdout.splitlines() == ["10.77.0.0/24 dev eth0 proto kernel scope link src 10.77.0.3 ", "pong"]


def test_a_group_handle_names_its_machines_and_acts_on_the_first_by_default(local_backend, make_lab):
    handle = make_lab(machines=(MachineSpec("web"), MachineSpec("db")))
    again = SandboxHandle.from_json(json.loads(json.dumps(handle.as_json())))
    assert again.machines == ("web", "db") and again.machine("db") == handle.machine("db")
    assert local_backend.exec(handle, "hostname").stdout == "web\n"
    assert local_backend.alive(again)
    with pytest.raises(SandboxNotFound):
        handle.machine("nope")
    local_backend.put_file(handle.machine("db"), "/tmp/x", b"on db\n")
    assert local_backend.read_file(handle.machine("db"), "/tmp/x").stdout == "on db\n"
    assert local_backend.exec(handle.machine("web"), "cat /tmp/x 2>&1 || echo absent").stdout.endswith("absent\n")
    # an outside check of a lab's machine sees that machine's files
    outside = local_backend.exec_outside(handle.machine("db"), "cat /lab/tmp/x")
    assert outside.stdout == "on db\n"
    # a single machine is its own only machine
    single = local_backend.create(SandboxSpec(label="test-single"))
    try:
        assert single.machines == () and single.machine() is single and single.machine("anything") is single
    finally:
        local_backend.destroy(single)


def test_machines_of_a_lab_are_separate_machines(local_backend, make_lab):
    """Same learner, same id slot, but one machine's processes, files and sockets are not another's."""
    handle = make_lab(machines=(MachineSpec("one", learner_sudo=True), MachineSpec("two")))
    local_backend.exec(handle.machine("two"), "nohup sleep 301 >/dev/null 2>&1 & echo secret > ~/mine")
    seen = local_backend.exec(
        handle.machine("one"),
        "ps -e -o args= | grep -c '^sleep 301$'; sudo -n cat /home/learner/mine 2>&1; "
        "sudo -n ls /proc | grep -c '^[0-9]'",
    )
    count, file_answer, _procs = seen.stdout.splitlines()
    assert count == "0" and "No such file" in file_answer


def _ours(backend, label: str) -> list[str]:
    """Folders of sandboxes and labs with ``label`` (other sandboxes may come and go on a shared host)."""
    found = []
    for folder in backend.root.iterdir():
        try:
            if json.loads((folder / "handle.json").read_text()).get("label") == label:
                found.append(folder.name)
        except (OSError, ValueError):
            continue
    return found


def test_bad_machine_lists_are_refused_and_leave_nothing(local_backend):
    label = f"test-bad-{uuid.uuid4().hex[:8]}"
    for machines, deny in (
        ((MachineSpec("web"), MachineSpec("web")), ()),
        ((MachineSpec("Web"), MachineSpec("db")), ()),
        ((MachineSpec("web"), MachineSpec("db")), (("web", "nowhere"),)),
    ):
        with pytest.raises(SandboxError):
            local_backend.create(SandboxSpec(machines=machines, deny=deny, label=label))
    assert _ours(local_backend, label) == []
    assert not [h for h in local_backend.inventory() if h.label == label]


def _links() -> list[str]:
    links = subprocess.run(["ip", "-o", "link"], capture_output=True, text=True, check=True).stdout
    return sorted(line.split(":")[1].strip() for line in links.splitlines())


def _holders(namespaces: set[str]) -> set[tuple[str, str]]:
    """(pid, start time) of every process in one of ``namespaces``: a pid and its start time name one process."""
    found = set()
    for folder in glob.glob("/proc/[0-9]*"):
        try:
            if not {os.readlink(path) for path in glob.glob(f"{folder}/ns/*")} & namespaces:
                continue
            with open(f"{folder}/stat", encoding="ascii", errors="replace") as stat:
                found.add((folder, stat.read().rsplit(")", 1)[1].split()[19]))
        except (OSError, IndexError):
            continue
    return found


def test_destroy_leaves_no_namespace_link_mount_cgroup_or_process(local_backend, make_lab):
    links = _links()
    handle = make_lab(deny=(("attacker", "db"),))
    local_backend.exec(handle.machine("portal"), "nohup sleep 600 >/dev/null 2>&1 & setsid sleep 600 & true")
    ids = [handle.id, *(handle.machine(name).id for name in handle.machines)]
    lab_namespaces = {
        os.readlink(f"/proc/{handle.machine(name).data['pid']}/ns/{kind}")
        for name in handle.machines
        for kind in ("user", "net", "mnt", "pid")
    }
    lab_namespaces.add(f"net:[{os.stat(local_backend.root / handle.id / 'netns').st_ino}]")
    host = {os.readlink(path) for path in glob.glob("/proc/self/ns/*")}
    assert lab_namespaces.isdisjoint(host)  # the lab's namespaces are its own, not the host's
    # Every process in the lab's namespaces now: after destroy none may be left. (Namespace numbers
    # are reused once freed, so a process started later by someone else in a new namespace with the
    # same number is no leak; a pid and its start time name one process.)
    holders = _holders(lab_namespaces)
    assert holders
    base, count = int(handle.data["uid_base"]), ranges.slot(int(handle.data["slot"])).count
    local_backend.destroy(handle)
    local_backend.destroy(handle)  # idempotent
    assert _links() == links
    assert not holders & _holders(lab_namespaces)
    with open("/proc/self/mountinfo", encoding="utf-8") as mountinfo:
        assert not [line for line in mountinfo if any(sandbox_id in line for sandbox_id in ids)]
    cgroups = glob.glob("/sys/fs/cgroup/**/", recursive=True)
    assert not [path for path in cgroups if any(sandbox_id in path for sandbox_id in ids)]
    assert not [sandbox_id for sandbox_id in ids if (local_backend.root / sandbox_id).exists()]
    assert not [entry for entry in ranges.directory().iterdir() if handle.id in entry.read_text(errors="replace")]
    survivors = []
    for status in glob.glob("/proc/[0-9]*/status"):
        try:
            with open(status, encoding="utf-8") as handle_file:
                fields = dict(line.split(":", 1) for line in handle_file if ":" in line)
        except OSError:
            continue
        # A process that has exited but whose parent has not collected it yet (state Z or X: an init
        # whose monitor was killed, handed to the host's pid 1) runs nothing; the id-slot registry
        # ignores those too (ranges._running_in). Anything else with the lab's ids is a leak.
        if fields.get("State", "").strip().startswith(("Z", "X")):
            continue
        uid = int(fields.get("Uid", "-1 ").split()[0])
        if base <= uid < base + count:
            survivors.append((status, fields.get("Name", "").strip(), fields.get("State", "").strip()))
    assert not survivors
    assert not local_backend.alive(handle)


def test_the_switch_namespace_holds_the_bridge_and_rules_and_belongs_to_the_lab(local_backend, make_lab):
    """Seen from the host: the switch's network namespace is owned by the lab's user namespace (no
    host-root-owned object in the lab), holds one port per machine and the deny table."""
    handle = make_lab(deny=(("attacker", "db"),))
    folder = local_backend.root / handle.id
    links = subprocess.run(
        ["nsenter", f"--net={folder / 'netns'}", "ip", "-o", "link"], capture_output=True, text=True, check=True
    ).stdout
    assert {"br0", "m0", "m1", "m2"} <= {line.split(":")[1].strip().split("@")[0] for line in links.splitlines()}
    rules = subprocess.run(
        ["nsenter", f"--net={folder / 'netns'}", "nft", "list", "ruleset"], capture_output=True, text=True, check=True
    ).stdout
    assert 'iifname "m0" oifname "m2" drop' in rules
    owner = subprocess.run(
        ["lsns", "-n", "-o", "NS", "-t", "user", "-p", str(handle.machine("db").data["pid"])],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert os.stat(folder / "userns").st_ino == int(owner)
    # the machines run as the lab's slot, never as host root
    for name in handle.machines:
        with open(f"/proc/{handle.machine(name).data['pid']}/status", encoding="utf-8") as status:
            uid = next(line for line in status if line.startswith("Uid:")).split()[1]
        assert int(uid) == int(handle.data["uid_base"])
    root = local_backend.exec(handle.machine("db"), "id -u; grep CapBnd /proc/self/status", user=User.ROOT)
    assert root.stdout.startswith("0\n")


def test_the_sandbox_commands_see_a_lab_and_its_machines_images(local_backend, make_lab, monkeypatch, capsys):
    """``kafaat sandbox list`` names a lab's machines; ``kafaat image prune`` keeps the images they use."""
    import argparse  # pylint: disable=import-outside-toplevel

    from xblocks.labs.sandbox import cli, images  # pylint: disable=import-outside-toplevel

    handle = make_lab(label=f"test-cli-{uuid.uuid4().hex[:6]}")
    cli.sandbox_list(argparse.Namespace())
    listed = [line for line in capsys.readouterr().out.splitlines() if line.startswith(handle.id)]
    assert listed and "alive" in listed[0] and "lab: attacker, portal, db" in listed[0]
    kept = {}
    monkeypatch.setattr(images, "prune", lambda in_use, dry_run: kept.setdefault("in_use", set(in_use)) and [])
    cli.image_prune(argparse.Namespace(dry_run=True))
    machine = handle.machine("db")
    assert f"{machine.data['image']}-{machine.data['image_hash']}" in kept["in_use"]
