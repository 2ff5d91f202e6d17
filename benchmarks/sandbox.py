"""``python -m benchmarks sandbox``: the local sandbox engine's create, exec and destroy latency, and density.

Baseline, measured in the same run: a raw ``bwrap --unshare-all`` running ``true`` on the same image
(what any bubblewrap-based engine pays at the least); exec (a learner-side command, started by the
sandbox's spawner) is also compared with a plain fork/exec of ``true`` on the host, and a check
(``check=True``: the helper enters the sandbox from outside the learner's domain) with exec.
Density: N idle sandboxes at once, each one's memory measured two ways: what its cgroup is charged
(its processes, page tables, its tmpfs layer and kernel objects) and the proportional set size
(PSS) of its host-side processes; plus the drop in the host's MemAvailable divided by N, which also
counts what no cgroup is charged for (mounts, namespaces).
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import time

from benchmarks import profiling, report

TARGETS = {"create_p95_ms": 150.0, "exec_p95_ms": 25.0, "idle_mib_per_sandbox": 8.0}


def _timed(function, count: int) -> list[float]:
    samples = []
    for _ in range(count):
        started = time.perf_counter()
        function()
        samples.append((time.perf_counter() - started) * 1000)
    return samples


def _mem_available_kib() -> int:
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def _pss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _host_mounts() -> int:
    """Lines of the host's mount table (this process's mount namespace, the host's)."""
    with open("/proc/self/mountinfo", encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def _host_tasks() -> int:
    """Every task (process or thread) on the host: what kernel.pid_max bounds."""
    with open("/proc/loadavg", encoding="ascii") as handle:
        return int(handle.read().split()[3].split("/")[1])


def _sysctl(name: str) -> int:
    try:
        return int(pathlib.Path("/proc/sys", *name.split(".")).read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return 0


def _first_limit(per_sandbox: dict[str, float], memory_mib: float, tasks_now: int) -> list[dict]:
    """How many idle sandboxes this host holds before each kernel or memory limit, smallest first."""
    rows = []
    for name in ("kernel.pid_max", "kernel.threads-max"):  # both count every task of an idle sandbox
        value = _sysctl(name)
        if per_sandbox["tasks"] > 0 and value:
            rows.append({"limit": name, "value": value, "idle labs": int((value - tasks_now) / per_sandbox["tasks"])})
    namespaces = _sysctl("user.max_user_namespaces")
    if namespaces:
        rows.append({"limit": "user.max_user_namespaces", "value": namespaces, "idle labs": namespaces})
    mounts = _sysctl("fs.mount-max")
    if per_sandbox["mounts"] > 0 and mounts:
        rows.append(
            {"limit": "fs.mount-max (host table)", "value": mounts, "idle labs": int(mounts / per_sandbox["mounts"])}
        )
    from xblocks.labs.sandbox.conf import sandbox_settings  # pylint: disable=import-outside-toplevel

    slots = int(sandbox_settings.SANDBOX_UID_SLOTS)
    rows.append({"limit": "SANDBOX_UID_SLOTS (setting; ≤ 65,534)", "value": slots, "idle labs": slots})
    available = _mem_available_kib() / 1024.0
    if memory_mib > 0:
        rows.append(
            {
                "limit": "memory (MemAvailable)",
                "value": f"{available:.0f} MiB",
                "idle labs": int(available / memory_mib),
            }
        )
    return sorted(rows, key=lambda row: row["idle labs"])


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks sandbox")
    parser.add_argument("--runs", type=int, default=40, help="create/destroy cycles and baseline runs")
    parser.add_argument("--execs", type=int, default=200, help="exec calls of `true`")
    parser.add_argument("--density", type=int, default=200, help="idle sandboxes held at once")
    parser.add_argument(
        "--profile",
        action="store_true",
        help="also profile creates on the idle host and with the idle sandboxes alive: what grows",
    )
    args = parser.parse_args(argv)

    from xblocks.labs.sandbox import cgroups, images  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import SandboxSpec  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.local import LocalBackend  # pylint: disable=import-outside-toplevel

    backend = LocalBackend.instance()
    image = images.ensure("base", progress=lambda line: print(line, file=sys.stderr))
    rootfs = str(image.rootfs)
    driver = cgroups.driver(backend.settings.SANDBOX_CGROUP_PARENT)

    # Baselines: what bubblewrap alone costs, and a bare fork/exec.
    raw = ["bwrap", "--unshare-all", "--ro-bind", rootfs, "/", "--proc", "/proc", "--dev", "/dev", "--", "/bin/true"]
    subprocess.run(raw, check=True)
    bwrap_true = _timed(lambda: subprocess.run(raw, check=True), args.runs)
    fork_true = _timed(lambda: subprocess.run(["/bin/true"], check=True), args.runs)

    # create -> ready, exec, destroy
    spec = SandboxSpec(image="base", label="benchmark")
    backend.destroy(backend.create(spec))  # warm caches (image dentries, binaries)
    create_ms, destroy_ms = [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        handle = backend.create(spec)
        create_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        backend.destroy(handle)
        destroy_ms.append((time.perf_counter() - started) * 1000)
    handle = backend.create(spec)
    try:
        exec_ms = _timed(lambda: backend.exec(handle, "true"), args.execs)
        # a check: the helper enters from outside the learner's domain, in a cgroup of its own
        check_ms = _timed(lambda: backend.exec(handle, "true", check=True), args.execs // 2)
    finally:
        backend.destroy(handle)

    def create_and_destroy() -> None:
        backend.destroy(backend.create(spec))

    idle_profile = profiling.cumulative(create_and_destroy, min(args.runs, 20)) if args.profile else {}

    # Density: N idle sandboxes, then create latency with them all alive.
    available_before = _mem_available_kib()
    mounts_before, tasks_before = _host_mounts(), _host_tasks()
    held = []
    loaded_bwrap_true: list[float] = []
    started = time.perf_counter()
    try:
        for index in range(args.density):
            held.append(backend.create(SandboxSpec(image="base", label=f"benchmark-idle-{index}")))
        fill_s = time.perf_counter() - started
        time.sleep(1.0)  # let lazily freed memory settle before reading
        charged = [driver.usage(h.id).memory_bytes / 1024 for h in held]
        pss = [sum(_pss_kib(pid) for pid in driver.pids(h.id)) for h in held]
        available_drop = max(0, available_before - _mem_available_kib()) / max(1, len(held))
        processes = [len(driver.pids(h.id)) for h in held]
        mounts_each = (_host_mounts() - mounts_before) / max(1, len(held))
        tasks_each = (_host_tasks() - tasks_before) / max(1, len(held))
        loaded_create_ms = []
        for _ in range(min(args.runs, 20)):
            started = time.perf_counter()
            extra = backend.create(spec)
            loaded_create_ms.append((time.perf_counter() - started) * 1000)
            backend.destroy(extra)
        loaded_profile = profiling.cumulative(create_and_destroy, min(args.runs, 20)) if args.profile else {}
        # the baseline with them alive too: what a larger host mount table costs bubblewrap itself
        loaded_bwrap_true = _timed(lambda: subprocess.run(raw, check=True), min(args.runs, 20))
        loaded_exec_ms = _timed(lambda: backend.exec(held[len(held) // 2], "true"), min(args.execs, 50)) if held else []
    finally:
        started = time.perf_counter()
        for h in held:
            backend.destroy(h)
        teardown_s = time.perf_counter() - started

    if args.profile:
        report.print_table(
            f"create + destroy, profiled (wall ms per run): what grew with {len(held)} idle sandboxes alive",
            profiling.grown(idle_profile, loaded_profile, 16),
            ["function", "before ms", "after ms", "grown ms"],
        )

    rows = []

    def row(name: str, samples: list[float], baseline: list[float], baseline_name: str, target: float | None = None):
        figures = report.summary(samples)
        base = report.summary(baseline)
        rows.append(
            {
                "measure": name,
                "n": figures["n"],
                "p50 ms": figures["p50"],
                "p95 ms": figures["p95"],
                "baseline": baseline_name,
                "p50 ×": report.ratio(figures["p50"], base["p50"]),
                "p95 ×": report.ratio(figures["p95"], base["p95"]),
                "target p95": target if target else "",
            }
        )
        return figures

    create = row("create→ready", create_ms, bwrap_true, "bwrap true", TARGETS["create_p95_ms"])
    execs = row("exec true", exec_ms, bwrap_true, "bwrap true", TARGETS["exec_p95_ms"])
    row("exec true (vs fork)", exec_ms, fork_true, "fork/exec true")
    checks = row("check true", check_ms, exec_ms, "exec true")
    destroy = row("destroy", destroy_ms, bwrap_true, "bwrap true")
    loaded = row(f"create, {len(held)} idle alive", loaded_create_ms, create_ms, "create, idle host")
    row(f"exec, {len(held)} idle alive", loaded_exec_ms, exec_ms, "exec, idle host")
    row("baseline bwrap true", bwrap_true, fork_true, "fork/exec true")
    row(f"bwrap true, {len(held)} idle alive", loaded_bwrap_true, bwrap_true, "bwrap true")
    report.print_table(
        "Sandbox latency (ms; ratios to a baseline from this run)",
        rows,
        ["measure", "n", "p50 ms", "p95 ms", "baseline", "p50 ×", "p95 ×", "target p95"],
    )

    mib = 1024.0
    memory = {
        "cgroup_charge_mib": report.summary([c / mib for c in charged]),
        "pss_mib": report.summary([p / mib for p in pss]),
        "memavailable_drop_mib_per_sandbox": available_drop / mib,
    }
    per_sandbox = max(memory["cgroup_charge_mib"]["mean"], available_drop / mib)
    density_rows = [
        {
            "measure": "cgroup charge per sandbox",
            "mean MiB": memory["cgroup_charge_mib"]["mean"],
            "p95 MiB": memory["cgroup_charge_mib"]["p95"],
            "target MiB": TARGETS["idle_mib_per_sandbox"],
        },
        {
            "measure": "host-side PSS per sandbox",
            "mean MiB": memory["pss_mib"]["mean"],
            "p95 MiB": memory["pss_mib"]["p95"],
        },
        {"measure": "MemAvailable drop / sandbox", "mean MiB": available_drop / mib},
        {
            "measure": f"{len(held)} sandboxes: create all (s)",
            "mean MiB": "",
            "p95 MiB": "",
            "target MiB": "",
            "seconds": fill_s,
        },
        {"measure": f"{len(held)} sandboxes: destroy all (s)", "seconds": teardown_s},
    ]
    shape_rows = [
        {
            "measure": "host processes per idle sandbox (its cgroup)",
            "mean": report.summary(processes)["mean"] if processes else 0,
            "max": max(processes, default=0),
        },
        {"measure": "host tasks per idle sandbox (pid_max's count)", "mean": tasks_each},
        {"measure": "host mount-table lines per idle sandbox", "mean": mounts_each},
    ]
    report.print_table(
        f"Density: {len(held)} idle sandboxes at once",
        density_rows,
        ["measure", "mean MiB", "p95 MiB", "target MiB", "seconds"],
    )
    report.print_table(f"Shape: {len(held)} idle sandboxes at once", shape_rows, ["measure", "mean", "max"])
    # measured with the held sandboxes gone: what the host offers a fresh fill
    limits = _first_limit({"tasks": tasks_each, "mounts": mounts_each}, per_sandbox, _host_tasks())
    report.print_table(
        "Idle labs this host holds before each limit (smallest first)", limits, ["limit", "value", "idle labs"]
    )
    verdicts = {
        "create_p95_ms": create["p95"] <= TARGETS["create_p95_ms"],
        "exec_p95_ms": execs["p95"] <= TARGETS["exec_p95_ms"],
        "idle_mib_per_sandbox": per_sandbox <= TARGETS["idle_mib_per_sandbox"],
    }
    print("\ntargets: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in verdicts.items()))
    report.save(
        "sandbox",
        {
            "create_ms": create,
            "exec_ms": execs,
            "check_ms": checks,
            "destroy_ms": destroy,
            "bwrap_true_ms": report.summary(bwrap_true),
            "fork_true_ms": report.summary(fork_true),
            "loaded_create_ms": loaded,
            "loaded_exec_ms": report.summary(loaded_exec_ms),
            "density": {
                "sandboxes": len(held),
                "fill_seconds": fill_s,
                "teardown_seconds": teardown_s,
                "host_processes_per_sandbox": max(processes, default=0),
                "host_tasks_per_sandbox": tasks_each,
                "host_mounts_per_sandbox": mounts_each,
                "first_limit": limits[0] if limits else None,
                **memory,
            },
            "targets": TARGETS,
            "targets_met": verdicts,
            "cgroup_version": driver.version,
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
