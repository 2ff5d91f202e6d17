"""``python -m benchmarks checks``: how long a Check press holds a web request, in the request and off it.

Requests go through Django's full stack to the lab block's handlers with real sandboxes. The baseline,
measured in the same run, runs the press's checks inside the request (as Check did before runs moved
to workers, and as Celery's eager mode still does). Then a Celery worker over Redis runs them: the
press is answered as soon as it is recorded, and the page polls ``check_status`` until the result
(here every 50 ms, to measure the worker; the page polls every 0.7 s). Last, twelve presses on one
session at the same moment: one run, eleven refusals, and how long the slowest answer took.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import threading
import time
import uuid

from benchmarks import lab, report

REDIS = os.environ.get("KAFAAT_REDIS_URL", "redis://127.0.0.1:6379/14")
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]


# The worker's entry point: Celery's own, with PyMySQL standing in for mysqlclient (as the settings of
# the tests and of this benchmark's web side do) so that it reaches MariaDB too.
WORKER_MAIN = "import pymysql, sys; pymysql.install_as_MySQLdb(); from celery.__main__ import main; sys.exit(main())"


def _worker(queue: str, log_path: str) -> subprocess.Popen:
    # the worker is this machine's lab host (sessions are placed here), so it runs the checks itself
    env = {
        **os.environ,
        "KAFAAT_CELERY_EAGER": "0",
        "KAFAAT_BROKER_URL": REDIS,
        "KAFAAT_RESULT_BACKEND": REDIS,
        "KAFAAT_LAB_HOST_ROLE": "1",
        # its results' outbox deliveries go to a queue of this run (an LMS worker's; none runs here)
        "KAFAAT_OUTBOX_QUEUE": f"{queue}-outbox",
    }
    with open(log_path, "ab") as log:
        return subprocess.Popen(
            [sys.executable, "-c", WORKER_MAIN, "-A", "demo", "worker", "--pool", "solo", "-Q", queue]
            + ["-n", f"{queue}@%h", "--without-gossip", "--without-mingle", "--without-heartbeat", "-l", "WARNING"],
            cwd=CHECKOUT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _route_tasks(mode: str, queue: str):
    """Where the api's tasks go once the request's transaction commits: run in-line (the request does
    the work, as Celery's eager mode does) or sent to the worker's Redis queue."""
    from celery import Celery
    from django.db import transaction

    from xblocks.labs import tasks

    sender = Celery("kafaat-bench-sender", broker=REDIS, backend=REDIS, set_as_current=False)

    def enqueue(task, object_id, queue=None):  # one queue here
        if mode == "inline":
            transaction.on_commit(lambda: task.run(object_id))
        else:
            transaction.on_commit(lambda: sender.send_task(task.name, args=[object_id], queue=routed))

    routed = queue
    tasks.enqueue = enqueue
    return sender


def _ready(page: lab.Page) -> None:
    status = page.post("start")
    deadline = time.monotonic() + 120
    while status["state"] in ("requested", "provisioning"):
        if time.monotonic() > deadline:
            raise RuntimeError(f"lab did not start: {status}")
        time.sleep(0.05)
        status = page.post("status")
    if status["state"] != "ready":
        raise RuntimeError(f"lab did not start: {status}")


def _press(page: lab.Page) -> tuple[float, float]:
    """One press: (seconds until the handler answered, seconds until the result was on the page)."""
    began = time.perf_counter()
    run = page.post("check", {"step": "setup"})
    answered = time.perf_counter() - began
    deadline = time.monotonic() + 60
    while not run["finished"]:
        if time.monotonic() > deadline:
            raise RuntimeError(f"no worker finished the check run in 60 s: {run}")
        time.sleep(0.05)
        run = page.post("check_status", {"run_id": run["run_id"]})
    if len(run.get("results", ())) != 3:
        raise RuntimeError(f"unexpected run: {run}")
    return answered, time.perf_counter() - began


def _twelve_at_once(usage_id: str, student: str) -> tuple[float, int]:
    from django.db import connection

    pages = [lab.Page(usage_id, student) for _ in range(12)]
    barrier = threading.Barrier(12)
    answers: list[tuple[float, int]] = []

    def press(page: lab.Page) -> None:
        try:
            barrier.wait()
            began = time.perf_counter()
            response = page.client.post(
                page.urls["check"],
                data='{"step": "setup"}',
                content_type="application/json",
                HTTP_X_CSRFTOKEN=page.token,
                HTTP_REFERER="http://testserver/",
            )
            answers.append((time.perf_counter() - began, response.status_code))
        finally:
            connection.close()

    threads = [threading.Thread(target=press, args=(page,)) for page in pages]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return max(seconds for seconds, _ in answers), sum(1 for _, status in answers if status == 200)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks checks", description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["mariadb", "sqlite"], default="sqlite")
    parser.add_argument("--presses", type=int, default=20, help="presses measured in each mode")
    args = parser.parse_args(argv)

    lab._setup_django(args.database)
    queue = f"kafaat-bench-checks-{uuid.uuid4().hex[:8]}"
    log_path = os.path.join(tempfile.mkdtemp(prefix="kafaat-bench-checks-"), "worker.log")
    worker = _worker(queue, log_path)
    sender = None
    try:
        from workbench.runtime import WorkbenchRuntime

        from xblocks.labs.models import CheckRun

        runtime = WorkbenchRuntime("bench")
        runtime.id_generator.set_scenario(f"bench-checks-{os.getpid()}")
        usage_id = str(runtime.parse_xml_string(lab.LAB))
        rows, samples = [], {}
        for mode in ("inline", "worker"):
            sender = _route_tasks(mode, queue)
            page = lab.Page(usage_id, f"bench-{mode}")
            _ready(page)
            _press(page)  # warm: imports, caches, the worker's first task
            answered, result = zip(*(_press(page) for _ in range(args.presses)), strict=True)
            samples[mode] = (answered, result)
            slowest, accepted = _twelve_at_once(usage_id, f"bench-{mode}")
            runs = CheckRun.objects.filter(session__user__username=f"bench-{mode}").count()
            while CheckRun.objects.filter(session__user__username=f"bench-{mode}", active_key__isnull=False).exists():
                time.sleep(0.05)  # let the one accepted run end before the session is stopped
            page.post("stop")
            rows.append((mode, answered, result, slowest, accepted, runs))
        base_answer = report.summary([v * 1000 for v in samples["inline"][0]])
        table = []
        for mode, answered, result, slowest, accepted, runs in rows:
            a = report.summary([v * 1000 for v in answered])
            r = report.summary([v * 1000 for v in result])
            table.append(
                {
                    "checks run": "in the request (baseline)" if mode == "inline" else "on a Celery worker",
                    "answer p50 ms": a["p50"],
                    "answer p95 ms": a["p95"],
                    "× base p50": report.ratio(a["p50"], base_answer["p50"]),
                    "result p50 ms": r["p50"],
                    "result p95 ms": r["p95"],
                    "12 at once: slowest ms": slowest * 1000,
                    "accepted": accepted,
                    "runs": runs,
                }
            )
        report.print_table(
            f"Check presses ({args.database}, 3 checks, {args.presses} presses per mode; result polled every 50 ms)",
            table,
            [
                "checks run",
                "answer p50 ms",
                "answer p95 ms",
                "× base p50",
                "result p50 ms",
                "result p95 ms",
                "12 at once: slowest ms",
                "accepted",
            ],
        )
        print("\n'runs' counts every run of the learner in that mode (warm-up, presses, the one of the twelve).")
        report.save("checks", {"database": args.database, "presses": args.presses, "rows": table})
    finally:
        if worker.poll() is None:
            os.killpg(worker.pid, signal.SIGTERM)
            try:
                worker.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(worker.pid, signal.SIGKILL)
        if sender is not None:
            with sender.connection_for_write() as connection:
                for name in (queue, f"{queue}-outbox"):
                    connection.default_channel.queue_delete(name)
        lab._drop_database(args.database)
    return 0
