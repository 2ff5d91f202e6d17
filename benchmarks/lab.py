"""``python -m benchmarks lab``: start→ready and Check latency through the lab block's handlers, 1 and 20 learners.

Requests go through Django's full stack (middleware, CSRF, the workbench handler view, the block, the
labs api, real bubblewrap sandboxes) the way the page sends them. Celery runs eagerly, so start→ready
is what a learner waits for when a worker is free. Outbox deliveries (certification's evaluation of
each result) are not run inside the Check, as eager Celery would: they go to an LMS worker's queue
on real workers, so here they wait and run after the Check, their CPU on a row of their own
(``--deliveries inline`` measures them inside the Check, as before). Baselines measured in the same
run: the sandbox engine's raw create→ready and a raw exec of the same three check scripts.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import tempfile
import threading
import time

from benchmarks import report

LAB = """<kafaat_lab display_name="Benchmark: three checks" image="base" time_limit="30" idle_timeout="10"
    gating="free">
  <step id="setup" title="Prepare a project folder">
    <instructions>Create `~/project` with `notes.txt` (kafaat) and an executable `run.sh`.</instructions>
    <check id="folder" points="1">test -d /home/learner/project || { echo "~/project is missing"; exit 1; }</check>
    <check id="notes" points="1">grep -q kafaat /home/learner/project/notes.txt 2&gt;/dev/null ||
      { echo "notes.txt does not mention kafaat"; exit 1; }</check>
    <check id="script" points="1">test -x /home/learner/project/run.sh ||
      { echo "run.sh is not executable"; exit 1; }</check>
  </step>
</kafaat_lab>"""
CHECKS = [
    'test -d /home/learner/project || { echo "~/project is missing"; exit 1; }',
    "grep -q kafaat /home/learner/project/notes.txt 2>/dev/null ||\n"
    '      { echo "notes.txt does not mention kafaat"; exit 1; }',
    'test -x /home/learner/project/run.sh || { echo "run.sh is not executable"; exit 1; }',
]


# Outbox messages waiting for the stand-in LMS worker (``--deliveries worker``), and a lock for threads.
_DELIVERIES: list[int] = []
_DELIVERIES_LOCK = threading.Lock()


def _route_deliveries() -> None:
    """Outbox deliveries wait for ``_deliver_waiting`` instead of running inside the Check (eager Celery)."""
    from xblocks.labs.api import outbox

    def queue(message_id: int) -> None:
        with _DELIVERIES_LOCK:
            _DELIVERIES.append(message_id)

    outbox._queue_delivery = queue


def _deliver_waiting(cpu: list | None, walls: list | None) -> None:
    """Run the waiting deliveries as an LMS worker would, after the Check; their CPU and wall per delivery."""
    from xblocks.labs import tasks

    with _DELIVERIES_LOCK:
        waiting = list(_DELIVERIES)
        _DELIVERIES.clear()
    for message_id in waiting:
        began, spent = time.perf_counter(), _cpu()
        tasks.deliver_outbox_message(message_id)
        if walls is not None:
            walls.append(time.perf_counter() - began)
        if cpu is not None:
            cpu.append(_cpu() - spent)


def _setup_django(database: str, create: bool = True) -> None:
    """Configure Django on the demo settings; ``create`` makes the database (the parent process only)."""
    os.environ.setdefault("KAFAAT_VAR_DIR", tempfile.mkdtemp(prefix="kafaat-bench-lab-"))
    os.environ["KAFAAT_CELERY_EAGER"] = "1"
    # this process stands for a lab host (the demo's worker is one): it runs lab work itself
    os.environ.setdefault("KAFAAT_LAB_HOST_ROLE", "1")
    os.environ["DJANGO_SETTINGS_MODULE"] = "demo.settings"
    if database == "mariadb":
        import pymysql

        pymysql.install_as_MySQLdb()
    if database == "mariadb" and create:
        settings = report.create_mariadb_database(f"test_kafaat_bench_lab_{os.getpid()}")
        os.environ["WORKBENCH_DATABASES"] = json.dumps({"default": settings})
    import logging

    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("xblocks").setLevel(logging.WARNING)
    if os.environ.get("KAFAAT_BENCH_DELIVERIES") == "worker":
        _route_deliveries()
    if create:
        call_command("migrate", run_syncdb=True, verbosity=0)


def _drop_database(database: str) -> None:
    if database != "mariadb":
        return
    from django.db import connection

    name = connection.settings_dict["NAME"]
    connection.close()
    report.drop_mariadb_database(name)


class Page:
    """One learner's page: a CSRF-carrying client posting JSON to the block's handler URLs."""

    def __init__(self, usage_id: str, student: str):
        from django.middleware.csrf import _get_new_csrf_string
        from django.test import Client
        from django.urls import reverse

        self.client = Client(enforce_csrf_checks=True)
        self.token = _get_new_csrf_string()
        self.client.cookies["csrftoken"] = self.token
        self.urls = {
            name: reverse("handler", args=(usage_id, name, "")) + f"?student={student}"
            for name in ("start", "status", "check", "check_status", "stop")
        }

    def post(self, name: str, data: dict | None = None) -> dict:
        response = self.client.post(
            self.urls[name],
            data=json.dumps(data or {}),
            content_type="application/json",
            HTTP_X_CSRFTOKEN=self.token,
            HTTP_REFERER="http://testserver/",
        )
        if response.status_code != 200:
            raise RuntimeError(f"{name}: HTTP {response.status_code} {response.content[:200]!r}")
        return response.json()


def _cpu() -> float:
    """CPU seconds (user + system) of this process and of the children it reaped: the sandbox helper,
    and through it each check's shell and commands (their cgroup is killed and they are reaped before a
    Check returns). Meaningful for one learner at a time: other threads of the process count too."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _start(page: Page, poll: float = 0.02) -> None:
    """Start, then poll the status as the page does until the lab is ready (or say why not)."""
    status = page.post("start")
    while status["state"] in ("requested", "provisioning"):
        time.sleep(poll)
        status = page.post("status")
    if status["state"] != "ready":
        raise RuntimeError(f"lab did not start: {status}")


def _learner_round(
    page: Page, starts: list, checks: list, rounds: int, cpu: list | None = None, deliveries: tuple | None = None
) -> None:
    for _ in range(rounds):
        began = time.perf_counter()
        _start(page)
        starts.append(time.perf_counter() - began)
        for _ in range(3):
            began, spent = time.perf_counter(), _cpu()
            result = page.post("check", {"step": "setup"})
            checks.append(time.perf_counter() - began)
            if cpu is not None:
                cpu.append(_cpu() - spent)
            assert len(result["results"]) == 3
            _deliver_waiting(*(deliveries or (None, None)))
        page.post("stop")


def _run_learners(
    usage_id: str, learners: int, rounds: int, prefix: str, cpu: list | None = None, deliveries: tuple | None = None
) -> tuple[list, list, float]:
    from django.db import connection

    starts: list[float] = []
    checks: list[float] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(learners)

    def learner(index: int) -> None:
        try:
            page = Page(usage_id, f"{prefix}-{index}")
            barrier.wait()
            _learner_round(page, starts, checks, rounds, cpu, deliveries)
        except BaseException as error:  # noqa: BLE001  reported after the run
            errors.append(error)
        finally:
            connection.close()

    began = time.perf_counter()
    threads = [threading.Thread(target=learner, args=(i,)) for i in range(learners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise errors[0]
    return starts, checks, time.perf_counter() - began


def _learner_process(database: str, usage_id: str, student: str, rounds: int, barrier, out) -> None:
    """One learner in its own process, as behind a multi-process web server (no shared GIL)."""
    try:
        _setup_django(database, create=False)
        # The workbench keeps usage ids in memory per process: register the same scenario here.
        from workbench.runtime import WorkbenchRuntime

        runtime = WorkbenchRuntime("bench")
        runtime.id_generator.set_scenario(usage_id.split(".", 1)[0])
        assert str(runtime.parse_xml_string(LAB)) == usage_id
        # Warm this process as a server that has already served a lab (imports, caches, backend).
        _learner_round(Page(usage_id, f"{student}-warmup"), [], [], 1)
        page = Page(usage_id, student)
        starts: list[float] = []
        checks: list[float] = []
        barrier.wait()
        began = time.time()
        _learner_round(page, starts, checks, rounds)
        out.put((starts, checks, began, time.time(), None))
    except BaseException as error:  # noqa: BLE001  reported by the parent
        import traceback

        barrier.abort()  # release the other learners instead of leaving them waiting for this one
        out.put(([], [], 0.0, 0.0, f"{student}: {error!r}\n{traceback.format_exc()}"))


def _run_processes(database: str, usage_id: str, learners: int, rounds: int, prefix: str) -> tuple[list, list, float]:
    import multiprocessing

    context = multiprocessing.get_context("spawn")
    barrier = context.Barrier(learners, timeout=300)
    out = context.Queue()
    processes = [
        context.Process(target=_learner_process, args=(database, usage_id, f"{prefix}-{i}", rounds, barrier, out))
        for i in range(learners)
    ]
    for process in processes:
        process.start()
    results = [out.get(timeout=600) for _ in processes]
    for process in processes:
        process.join(timeout=60)
    errors = [error for *_, error in results if error and "BrokenBarrierError" not in error]
    if errors:
        raise RuntimeError(errors[0])
    starts = [value for result in results for value in result[0]]
    checks = [value for result in results for value in result[1]]
    wall = max(result[3] for result in results) - min(result[2] for result in results)
    return starts, checks, wall


def _baseline(samples: int, cpu: list, as_checks: list) -> tuple[list, list]:
    """Sandbox create and the three scripts run raw; ``as_checks`` gets (wall, CPU) of the same three
    run as checks (``check=True``: own cgroup, entered through the helper, so their CPU is ours to count)."""
    from xblocks.labs.sandbox.base import SandboxSpec, get_backend

    backend = get_backend()
    creates, execs = [], []
    for index in range(samples):
        began = time.perf_counter()
        handle = backend.create(SandboxSpec(image="base", label=f"bench-baseline-{index}"))
        creates.append(time.perf_counter() - began)
        for _ in range(3):
            began, spent = time.perf_counter(), _cpu()
            for script in CHECKS:
                backend.exec(handle, script, user="root", timeout=10)
            execs.append(time.perf_counter() - began)
            cpu.append(_cpu() - spent)
            began, spent = time.perf_counter(), _cpu()
            for script in CHECKS:
                backend.exec(handle, script, user="root", timeout=10, check=True)
            as_checks.append((time.perf_counter() - began, _cpu() - spent))
        backend.destroy(handle)
    return creates, execs


def _cpu_columns(cpu: list[float], base: list[float] | None) -> dict:
    """Mean CPU per operation (a sum divides fairly; a median of 10 ms clock ticks would not).

    A raw exec runs through the sandbox's spawner, whose processes are not ours: its CPU here is the
    host side only. A check (and so a Check) enters through the helper, which we reap: all of it counts.
    """
    mean = 1000 * sum(cpu) / max(1, len(cpu))
    columns = {"CPU ms/op": round(mean, 1)}
    if base:
        columns["× base CPU"] = report.ratio(mean, 1000 * sum(base) / len(base))
    return columns


def _row(name: str, values: list[float], base: dict | None, extra: dict | None = None) -> dict:
    figures = report.summary([v * 1000 for v in values])
    row = {"measure": name, "n": figures["n"], "p50 ms": figures["p50"], "p95 ms": figures["p95"]}
    if base:
        row["× base p50"] = report.ratio(figures["p50"], base["p50"])
        row["× base p95"] = report.ratio(figures["p95"], base["p95"])
    row.update(extra or {})
    return row


def _profiles(usage_id: str, runs: int, pool: bool) -> dict:
    """CPU by area of one learner's Check (3 checks) and Start (→ ready), each measured unprofiled first."""
    from benchmarks import profiling

    page = Page(usage_id, "profiled")
    figures = {}
    if pool:
        # A claim asks the host's worker for a refill 2 s later; eager Celery would run it inside the
        # Start. Here the refill runs between two profiled Starts instead, as the worker's would.
        from xblocks.labs.api import pool as warm_pool

        warm_pool.want_more = lambda host: None

    def refill() -> None:
        if pool:
            from xblocks.labs.api import pool as warm_pool

            warm_pool.fill_pool()

    def stop_and_refill() -> None:
        page.post("stop")
        refill()

    def check() -> None:
        assert len(page.post("check", {"step": "setup"})["results"]) == 3

    refill()
    _start(page)
    plain = []
    for _ in range(runs):
        spent = _cpu()
        check()
        plain.append(_cpu() - spent)
        _deliver_waiting(None, None)
    cpu_ms = 1000 * sum(plain) / len(plain)
    sent = profiling.statements(check)
    _deliver_waiting(None, None)
    areas = profiling.measure(check, runs, lambda: _deliver_waiting(None, None))
    hot = profiling.hottest(check, runs, lambda: _deliver_waiting(None, None))
    _deliver_waiting(None, None)
    page.post("stop")
    figures["check"] = {"cpu_ms": cpu_ms, "areas": areas, "hottest": hot, "statements": sent}

    refill()
    plain = []
    for _ in range(runs):
        spent = _cpu()
        _start(page, 0.005)
        plain.append(_cpu() - spent)
        stop_and_refill()
    start_ms = 1000 * sum(plain) / len(plain)
    start_sent = profiling.statements(lambda: _start(page, 0.005))
    stop_and_refill()
    start_areas = profiling.measure(lambda: _start(page, 0.005), runs, stop_and_refill)
    start_hot = profiling.hottest(lambda: _start(page, 0.005), runs, stop_and_refill)
    if pool:  # what the refills made and nobody claimed: a worker would destroy it when it stops
        warm_pool.purge_pool()
    figures["start"] = {
        "cpu_ms": start_ms,
        "areas": start_areas,
        "hottest": start_hot,
        "pool": pool,
        "statements": start_sent,
    }

    columns = ["area", "profiled ms/op", "ms/op unprofiled", "share"]
    for name, label in (
        ("check", "Check (3 checks)"),
        ("start", f"Start → ready{', claimed from the pool' if pool else ''}"),
    ):
        figure = figures[name]
        report.print_table(
            f"CPU of one learner's {label}: {figure['cpu_ms']:.1f} ms per operation unprofiled ({runs} runs), by area",
            profiling.rows(figure["areas"], figure["cpu_ms"]),
            columns,
        )
        sent = figure["statements"]
        print(f"SQL statements of one operation: {sum(sent.values())}, by the module that sent them:")
        for module, count in sent.items():
            print(f"  {count:4d}  {module}")
        print("hottest functions (own CPU per operation, profiled):")
        for where, seconds in figure["hottest"]:
            print(f"  {1000 * seconds:6.2f} ms  {where}")
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks lab", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--database",
        choices=["mariadb", "sqlite"],
        default="mariadb",
        help="MariaDB as in production (default) or the demo's SQLite",
    )
    parser.add_argument("--rounds", type=int, default=8, help="start/check/stop rounds for the single learner")
    parser.add_argument("--learners", type=int, default=20, help="learners at once (0: none)")
    parser.add_argument(
        "--profile",
        type=int,
        default=0,
        metavar="N",
        help="then profile N Checks and N Starts of one learner: CPU by area (benchmarks/profiling.py)",
    )
    parser.add_argument(
        "--pool",
        action="store_true",
        help="with --profile: refill the warm pool before each profiled Start (the Start claims a sandbox)",
    )
    parser.add_argument(
        "--deliveries",
        choices=["worker", "inline"],
        default="worker",
        help="outbox deliveries (certification) after the Check as an LMS worker's task (default), or inside it",
    )
    parser.add_argument(
        "--mode",
        choices=["processes", "threads"],
        default="processes",
        help="concurrent learners as separate processes (like a multi-process web server) or threads of one",
    )
    args = parser.parse_args(argv)

    import psutil

    os.environ["KAFAAT_BENCH_DELIVERIES"] = args.deliveries  # the crowd's processes inherit it
    _setup_django(args.database)
    try:
        from workbench.runtime import WorkbenchRuntime

        runtime = WorkbenchRuntime("bench")
        runtime.id_generator.set_scenario(f"bench-lab-{os.getpid()}")
        usage_id = str(runtime.parse_xml_string(LAB))
        process = psutil.Process()
        rss_before = process.memory_info().rss

        base_cpu: list[float] = []
        one_cpu: list[float] = []
        base_checks: list[tuple[float, float]] = []
        base_create, base_exec = _baseline(max(10, args.rounds), base_cpu, base_checks)
        check_cpu = [spent for _wall, spent in base_checks]
        _learner_round(Page(usage_id, "warmup"), [], [], 1)  # a warm server, as in production
        delivery_cpu: list[float] = []
        delivery_wall: list[float] = []
        one_start, one_check, one_wall = _run_learners(
            usage_id, 1, args.rounds, "solo", one_cpu, (delivery_cpu, delivery_wall)
        )
        if not args.learners:
            many_start, many_check, many_wall = [], [], 1.0
        elif args.mode == "processes":
            many_start, many_check, many_wall = _run_processes(args.database, usage_id, args.learners, 1, "crowd")
        else:
            many_start, many_check, many_wall = _run_learners(usage_id, args.learners, 1, "crowd")
        rss_after = process.memory_info().rss

        create_fig = report.summary([v * 1000 for v in base_create])
        exec_fig = report.summary([v * 1000 for v in base_exec])
        rows = [
            _row("baseline: sandbox create→ready", base_create, None),
            _row("baseline: exec of the 3 check scripts", base_exec, None, _cpu_columns(base_cpu, None)),
            _row(
                "baseline: the 3 scripts as checks",
                [wall for wall, _spent in base_checks],
                None,
                _cpu_columns(check_cpu, None),
            ),
            _row("1 learner: start→ready", one_start, create_fig),
            _row(
                "1 learner: Check (3 checks)",
                one_check,
                exec_fig,
                {"checks/s": len(one_check) / one_wall, **_cpu_columns(one_cpu, check_cpu)},
            ),
            *(
                [
                    _row(
                        "1 learner: its Checks' outbox deliveries (an LMS worker's task)",
                        delivery_wall,
                        None,
                        _cpu_columns(delivery_cpu, None),
                    )
                ]
                if delivery_wall
                else []
            ),
            *(
                [
                    _row(f"{args.learners} learners: start→ready", many_start, create_fig),
                    _row(
                        f"{args.learners} learners: Check (3 checks)",
                        many_check,
                        exec_fig,
                        {"checks/s": len(many_check) / many_wall},
                    ),
                ]
                if args.learners
                else []
            ),
        ]
        report.print_table(
            f"lab handlers ({args.database}, Celery eager, real sandboxes, crowd as {args.mode}, "
            f"outbox deliveries {'after the Check' if args.deliveries == 'worker' else 'inside the Check'})",
            rows,
            ["measure", "n", "p50 ms", "p95 ms", "× base p50", "× base p95", "checks/s", "CPU ms/op", "× base CPU"],
        )
        print(
            f"\nprocess RSS: {rss_before / 2**20:.0f} MiB before, {rss_after / 2**20:.0f} MiB after "
            f"({(rss_after - rss_before) / 2**20:+.0f} MiB)"
        )
        print("targets at 20 learners: start→ready p95 ≤ 300 ms, Check p95 ≤ 100 ms")
        profiles = _profiles(usage_id, args.profile, args.pool) if args.profile else {}
        report.save(
            "lab",
            {
                "database": args.database,
                "mode": args.mode,
                "deliveries": args.deliveries,
                "rows": rows,
                "rss_before": rss_before,
                "rss_after": rss_after,
                "profiles": profiles,
            },
        )
    finally:
        _drop_database(args.database)
    return 0
