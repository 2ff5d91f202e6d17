"""cgroup drivers: v1 or v2 chosen from the host's mounts, limits written in each version's files."""

from __future__ import annotations

import pathlib

import pytest

from xblocks.labs.sandbox import cgroups
from xblocks.labs.sandbox.base import BackendUnavailable, Limits, MiB

V1_ONLY = """\
30 24 0:26 / /sys/fs/cgroup/memory rw,relatime shared:10 - cgroup cgroup rw,memory
31 24 0:27 / /sys/fs/cgroup/pids rw,relatime shared:11 - cgroup cgroup rw,pids
32 24 0:28 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:12 - cgroup cgroup rw,cpu,cpuacct
33 24 0:29 / /sys/fs/cgroup/unified rw,relatime shared:13 - cgroup2 cgroup2 rw
"""


def _v2_line(root: pathlib.Path) -> str:
    return f"40 24 0:30 / {root} rw,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate\n"


@pytest.fixture
def fake_files(monkeypatch):
    """Control files as plain files, so the v2 driver can run against a folder standing in for /sys/fs/cgroup."""
    monkeypatch.setattr(cgroups, "_write", lambda path, value: pathlib.Path(path).write_text(str(value)))


def test_v1_is_chosen_when_the_unified_tree_lacks_the_controllers(tmp_path):
    driver = cgroups.choose(V1_ONLY.replace("/sys/fs/cgroup/unified", str(tmp_path)))
    assert driver.version == 1
    assert [str(p) for p in driver.paths("abc")] == [
        "/sys/fs/cgroup/memory/kafaat/abc",
        "/sys/fs/cgroup/pids/kafaat/abc",
        "/sys/fs/cgroup/cpu,cpuacct/kafaat/abc",
    ]
    assert driver.procs_files("abc")[0] == "/sys/fs/cgroup/memory/kafaat/abc/tasks"  # per thread: no global lock


def test_v2_is_chosen_when_the_unified_tree_has_memory_pids_and_cpu(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpuset cpu io memory hugetlb pids rdma misc\n")
    driver = cgroups.choose(_v2_line(tmp_path), parent="labs")
    assert driver.version == 2
    assert driver.paths("abc") == [tmp_path / "labs" / "abc"]


def test_a_host_without_the_controllers_is_refused(tmp_path):
    (tmp_path / "cgroup.controllers").write_text("cpu io\n")
    with pytest.raises(BackendUnavailable):
        cgroups.choose(_v2_line(tmp_path) + "30 24 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory\n")


def test_v2_limits_delegate_controllers_and_turn_swap_off(tmp_path, fake_files):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    driver = cgroups.CgroupV2("kafaat", tmp_path)
    (tmp_path / "kafaat").mkdir()
    (tmp_path / "kafaat" / "cgroup.subtree_control").write_text("")
    (folder,) = driver.create("s1", Limits(memory_bytes=128 * MiB, pids=50, cpus=0.5))
    assert (folder / "memory.max").read_text() == str(128 * MiB)
    assert (folder / "memory.swap.max").read_text() == "0"
    assert (folder / "pids.max").read_text() == "50"
    assert (folder / "cpu.max").read_text() == "50000 100000"
    assert driver.procs_files("s1") == [str(folder / "cgroup.procs")]


def test_v2_creates_its_parent_with_the_controllers_enabled(tmp_path, fake_files):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("")
    driver = cgroups.CgroupV2("kafaat", tmp_path)
    driver.create("s2", Limits())
    assert (tmp_path / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"
    assert (tmp_path / "kafaat" / "cgroup.subtree_control").read_text() == "+memory +pids +cpu"


def test_v2_usage_reads_memory_oom_pids_and_throttling(tmp_path):
    folder = tmp_path / "kafaat" / "s3"
    folder.mkdir(parents=True)
    (folder / "memory.current").write_text("4096\n")
    (folder / "memory.peak").write_text("8192\n")
    (folder / "memory.events").write_text("low 0\nhigh 0\nmax 3\noom 1\noom_kill 2\n")
    (folder / "pids.current").write_text("5\n")
    (folder / "cpu.stat").write_text(
        "usage_usec 900\nuser_usec 600\nsystem_usec 300\nnr_throttled 2\nthrottled_usec 77\n"
    )
    usage = cgroups.CgroupV2("kafaat", tmp_path).usage("s3")
    assert usage == cgroups.Usage(
        memory_bytes=4096, memory_peak_bytes=8192, oom_kills=2, pids=5, cpu_usage_us=900, cpu_throttled_us=77
    )


@pytest.mark.sandbox
def test_this_host_gets_a_working_driver_and_a_sandbox_cgroup_is_removed_with_it(local_backend):
    from xblocks.labs.sandbox.base import SandboxSpec

    driver = cgroups.driver(local_backend.settings.SANDBOX_CGROUP_PARENT)
    handle = local_backend.create(SandboxSpec(label="cgroup"))
    assert driver.exists(handle.id) and driver.pids(handle.id)
    local_backend.destroy(handle)
    assert not driver.exists(handle.id)


def test_a_check_gets_a_cgroup_beside_its_sandboxs_with_a_budget_of_its_own(tmp_path, fake_files):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("+memory +pids +cpu")
    (tmp_path / "kafaat").mkdir()
    (tmp_path / "kafaat" / "cgroup.subtree_control").write_text("+memory +pids +cpu")
    driver = cgroups.CgroupV2("kafaat", tmp_path)
    limits = Limits(memory_bytes=64 * MiB, pids=32, cpus=0.5)
    driver.create("s4", limits)
    check = driver.create_check("s4", "check-1", limits)
    assert check == "s4.check-1"
    folder = tmp_path / "kafaat" / "s4.check-1"
    assert (folder / "memory.max").read_text() == str(64 * MiB) and (folder / "pids.max").read_text() == "32"
    assert not (tmp_path / "kafaat" / "s4" / "check-1").exists()  # not inside: the learner's budget is not its
    (tmp_path / "kafaat" / "s40").mkdir()  # another sandbox whose id starts alike is no check of s4
    assert driver.family("s4") == ["s4", "s4.check-1"]
    assert driver.family("s4.check-1") == ["s4.check-1"]
    (folder / "cgroup.procs").write_text("4242\n")
    (tmp_path / "kafaat" / "s4" / "cgroup.procs").write_text("4241\n")
    assert driver.pids("s4") == {4241, 4242} and driver.exists("s4")
    with pytest.raises(ValueError):
        driver.create_check("s4.check-1", "x", limits)


def test_ending_a_check_does_not_read_every_sandboxs_cgroups(tmp_path, fake_files, monkeypatch):
    (tmp_path / "cgroup.controllers").write_text("cpu memory pids\n")
    (tmp_path / "cgroup.subtree_control").write_text("+memory +pids +cpu")
    (tmp_path / "kafaat").mkdir()
    (tmp_path / "kafaat" / "cgroup.subtree_control").write_text("+memory +pids +cpu")
    driver = cgroups.CgroupV2("kafaat", tmp_path)
    limits = Limits(memory_bytes=64 * MiB, pids=32, cpus=0.5)
    driver.create("s5", limits)
    check = driver.create_check("s5", "check-1", limits)
    scanned = []
    real_listdir = cgroups.os.listdir
    monkeypatch.setattr(cgroups.os, "listdir", lambda path: scanned.append(path) or real_listdir(path))
    assert driver.family(check) == [check] and scanned == []  # a check has no checks: nothing listed
    assert driver.family("s5") == ["s5", check] and scanned  # a sandbox's checks are still all found
