"""``python -m benchmarks lab_network``: a lab of three machines on its private network, create→ready.

Measured in the same run, as ratios: a single-machine lab (the path every lab took before) and a raw
``bwrap --unshare-all`` running ``true`` on the same image. The three-machine lab is the sample
course's shape (attacker, portal, db) with one deny rule, so its figure includes the switch, the
veths, the addresses, every machine's /etc/hosts and the nftables table. Memory: N idle three-machine
labs at once, each lab's charge summed over its machines' cgroups, and the host's MemAvailable drop
per lab (which also counts what no cgroup is charged for: namespaces, links, mounts).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time

from benchmarks import report

TARGETS = {"lab3_create_p95_ms": 200.0}


def _mem_available_kib() -> int:
    with open("/proc/meminfo", encoding="ascii") as handle:
        for line in handle:
            if line.startswith("MemAvailable:"):
                return int(line.split()[1])
    return 0


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks lab_network")
    parser.add_argument("--runs", type=int, default=30, help="create/destroy cycles of each kind")
    parser.add_argument("--idle", type=int, default=10, help="idle three-machine labs held at once for memory")
    args = parser.parse_args(argv)

    from xblocks.labs.sandbox import cgroups, images  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import MachineSpec, SandboxSpec  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.local import LocalBackend  # pylint: disable=import-outside-toplevel

    backend = LocalBackend.instance()
    image = images.ensure("base", progress=lambda line: print(line, file=sys.stderr))
    driver = cgroups.driver(backend.settings.SANDBOX_CGROUP_PARENT)
    raw = ["bwrap", "--unshare-all", "--ro-bind", str(image.rootfs), "/", "--proc", "/proc", "--dev", "/dev"]
    raw += ["--", "/bin/true"]
    single = SandboxSpec(image="base", label="benchmark-single")
    lab = SandboxSpec(
        machines=(MachineSpec("attacker"), MachineSpec("portal"), MachineSpec("db")),
        deny=(("attacker", "db"),),
        label="benchmark-lab",
    )
    subprocess.run(raw, check=True)
    backend.destroy(backend.create(single))  # warm caches
    backend.destroy(backend.create(lab))

    bwrap_ms, single_ms, lab_ms, lab_destroy_ms = [], [], [], []
    for _ in range(args.runs):  # interleaved, so a busy moment of the host weighs on all three alike
        started = time.perf_counter()
        subprocess.run(raw, check=True)
        bwrap_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        handle = backend.create(single)
        single_ms.append((time.perf_counter() - started) * 1000)
        backend.destroy(handle)
        started = time.perf_counter()
        handle = backend.create(lab)
        lab_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        backend.destroy(handle)
        lab_destroy_ms.append((time.perf_counter() - started) * 1000)

    available_before = _mem_available_kib()
    held = []
    try:
        for index in range(args.idle):
            held.append(
                backend.create(SandboxSpec(machines=lab.machines, deny=lab.deny, label=f"benchmark-idle-{index}"))
            )
        time.sleep(1.0)
        charged = [
            sum(driver.usage(handle.machine(name).id).memory_bytes for name in handle.machines) / 1024 / 1024
            for handle in held
        ]
        drop = max(0, available_before - _mem_available_kib()) / 1024 / max(1, len(held))
    finally:
        for handle in held:
            backend.destroy(handle)

    rows = []

    def row(name, samples, baseline, baseline_name, target=None):
        figures, base = report.summary(samples), report.summary(baseline)
        rows.append(
            {
                "measure": name,
                "n": figures["n"],
                "p50 ms": figures["p50"],
                "p95 ms": figures["p95"],
                "baseline": baseline_name,
                "p50 ×": report.ratio(figures["p50"], base["p50"]),
                "p95 ×": report.ratio(figures["p95"], base["p95"]),
                "target p95": target or "",
            }
        )
        return figures

    lab_vs_single = row("3-machine lab create→ready", lab_ms, single_ms, "1-machine lab")
    row("3-machine lab create→ready", lab_ms, bwrap_ms, "bwrap true", TARGETS["lab3_create_p95_ms"])
    single_figures = row("1-machine lab create→ready", single_ms, bwrap_ms, "bwrap true")
    row("3-machine lab destroy", lab_destroy_ms, single_ms, "1-machine create")
    row("baseline bwrap true", bwrap_ms, bwrap_ms, "itself")
    report.print_table(
        "A lab's private network (ms; ratios to baselines from this run)",
        rows,
        ["measure", "n", "p50 ms", "p95 ms", "baseline", "p50 ×", "p95 ×", "target p95"],
    )
    memory = {"cgroup_charge_mib_per_lab": report.summary(charged), "memavailable_drop_mib_per_lab": drop}
    report.print_table(
        f"Memory: {len(held)} idle three-machine labs at once",
        [
            {"measure": "cgroup charge per lab (3 machines)", "mean MiB": memory["cgroup_charge_mib_per_lab"]["mean"]},
            {"measure": "MemAvailable drop per lab", "mean MiB": drop},
        ],
        ["measure", "mean MiB"],
    )
    met = lab_vs_single["p95"] <= TARGETS["lab3_create_p95_ms"]
    print(f"\ntargets: lab3_create_p95_ms {'met' if met else 'MISSED'}")
    report.save(
        "lab_network",
        {
            "lab3_create_ms": lab_vs_single,
            "lab1_create_ms": single_figures,
            "bwrap_true_ms": report.summary(bwrap_ms),
            "lab3_destroy_ms": report.summary(lab_destroy_ms),
            "memory": memory,
            "targets": TARGETS,
            "targets_met": {"lab3_create_p95_ms": met},
        },
    )
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
