"""``python -m benchmarks labhosts``: what running lab work on lab hosts costs an LMS process.

Two figures, each against a baseline of the same run:

- **Check through the host's queue**: an LMS process (no lab-host role) presses Check; it travels to
  the session's lab host as a ``run_checks`` task over Redis and the answer comes back through the
  Redis result backend, with a real ``celery`` worker (solo pool) as the lab host. Baseline: the same
  Check on the same sandbox run in the lab host's own process (what one machine did before).
- **Placement**: ``api.start_session`` with ten lab hosts registered (choose, lock, recount) against
  no host registered (the shared queue), tasks recorded instead of sent.

Needs root (real sandboxes), the base image and Redis on 127.0.0.1:6379.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import signal
import subprocess
import sys
import tempfile
import time
import uuid

from benchmarks import report

CHECKOUT = pathlib.Path(__file__).resolve().parents[1]
LAB = """<kafaat_lab display_name="Benchmark: one step" image="base" time_limit="600" idle_timeout="600"
    gating="free">
  <step id="setup" title="Prepare a project folder">
    <instructions>Create `~/project`.</instructions>
    <check id="folder" points="1">test -d /home/learner/project || { echo "~/project is missing"; exit 1; }</check>
  </step>
</kafaat_lab>"""
HOST = "bench-labhost"


def _setup(redis_url: str, queue: str) -> None:
    os.environ.setdefault("KAFAAT_VAR_DIR", tempfile.mkdtemp(prefix="kafaat-bench-labhosts-"))
    os.environ.update(
        {
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "KAFAAT_BROKER_URL": redis_url,
            "KAFAAT_RESULT_BACKEND": redis_url,
            "KAFAAT_CELERY_EAGER": "0",
            "KAFAAT_LAB_QUEUE": queue,
            "KAFAAT_LAB_HOST_ROLE": "0",  # this process is the LMS
        }
    )
    import logging

    import django
    from django.core.management import call_command

    django.setup()
    logging.getLogger("xblocks").setLevel(logging.WARNING)
    call_command("migrate", run_syncdb=True, verbosity=0)


def _worker(queue: str, log_path: pathlib.Path) -> subprocess.Popen:
    env = {**os.environ, "KAFAAT_LAB_HOST_ROLE": "1", "KAFAAT_LAB_HOST": HOST, "PYTHONPATH": str(CHECKOUT)}
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "demo",
        "worker",
        "--pool",
        "solo",
        "-Q",
        f"{queue},{queue}.{HOST}",
    ]
    command += ["-n", f"bench-{uuid.uuid4().hex[:6]}@%h", "--without-gossip", "--without-mingle", "-l", "WARNING"]
    return subprocess.Popen(
        command, cwd=CHECKOUT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT, start_new_session=True
    )


def _wait(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise RuntimeError(f"timed out waiting for {what}")


def _checks_through_the_queue(rounds: int, log_dir: pathlib.Path, queue: str) -> dict:
    from django.contrib.auth import get_user_model

    from xblocks.labs import api
    from xblocks.labs.definition import parse_lab
    from xblocks.labs.models import LabSession
    from xblocks.labs.sandbox.base import get_backend

    worker = _worker(queue, log_dir / "labhost-worker.log")
    try:
        api.heartbeat(HOST, capacity=5)
        user = get_user_model().objects.create(username=f"bench-{uuid.uuid4().hex[:6]}")
        session_id = api.start_session(user, "bench-block", "", parse_lab(LAB)).session_id
        _wait(lambda: LabSession.objects.get(pk=session_id).state == "ready", 120, "the lab host to start the lab")
        for _ in range(2):  # warm both paths (imports, connections)
            api.run_checks(session_id, "setup")
        remote = []
        for _ in range(rounds):
            began = time.perf_counter()
            api.run_checks(session_id, "setup")
            remote.append(time.perf_counter() - began)
        os.environ.update({"KAFAAT_LAB_HOST_ROLE": "1", "KAFAAT_LAB_HOST": HOST})  # now be the lab host itself
        local = []
        try:
            api.run_checks(session_id, "setup")
            for _ in range(rounds):
                began = time.perf_counter()
                api.run_checks(session_id, "setup")
                local.append(time.perf_counter() - began)
        finally:
            os.environ.update({"KAFAAT_LAB_HOST_ROLE": "0"})
        api.stop_session(session_id, actor="system:bench")
        _wait(lambda: LabSession.objects.get(pk=session_id).state == "stopped", 60, "the teardown")
    finally:
        os.killpg(worker.pid, signal.SIGKILL)
        worker.wait()
        backend = get_backend()
        for handle in backend.inventory():
            if handle.label.startswith("labsession-") and handle.host == HOST:
                backend.destroy(handle)
    return {"on the lab host (baseline)": report.summary(local), "from an LMS process": report.summary(remote)}


def _placement(rounds: int) -> dict:
    from django.contrib.auth import get_user_model

    from xblocks.labs import api, tasks
    from xblocks.labs.definition import parse_lab
    from xblocks.labs.models import LabHost, LabSession

    definition = parse_lab(LAB)
    original = tasks.enqueue
    tasks.enqueue = lambda task, session_id, queue=None: None  # record nothing, send nothing
    figures = {}
    try:
        for label, hosts in (("no host registered (baseline)", 0), ("10 lab hosts registered", 10)):
            LabHost.objects.all().delete()
            for index in range(hosts):
                api.heartbeat(f"bench-{index}", capacity=1000)
            times = []
            for index in range(rounds):
                user = get_user_model().objects.create(username=f"place-{hosts}-{index}-{uuid.uuid4().hex[:4]}")
                began = time.perf_counter()
                api.start_session(user, f"place-{hosts}", "", definition)
                times.append(time.perf_counter() - began)
            LabSession.objects.filter(usage_key=f"place-{hosts}").delete()
            figures[label] = report.summary(times)
    finally:
        tasks.enqueue = original
        LabHost.objects.all().delete()
    return figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks labhosts", description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30, help="checks (and starts) per measurement")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/15")
    args = parser.parse_args(argv)
    queue = f"kafaat-bench-{uuid.uuid4().hex[:8]}"
    _setup(args.redis, queue)
    log_dir = pathlib.Path(os.environ["KAFAAT_VAR_DIR"])
    try:
        checks = _checks_through_the_queue(args.rounds, log_dir, queue)
        placement = _placement(args.rounds)
    finally:
        from celery import current_app

        with current_app.connection_for_write() as connection:
            for name in (queue, f"{queue}.{HOST}"):
                connection.default_channel.queue_delete(name)
    rows = []
    for title, figures in (("Check", checks), ("start_session", placement)):
        baseline = next(value for key, value in figures.items() if "baseline" in key)
        for key, value in figures.items():
            rows.append(
                {
                    "what": title,
                    "where": key,
                    "n": value["n"],
                    "p50 ms": value["p50"] * 1000,
                    "p95 ms": value["p95"] * 1000,
                    "p50 ratio": report.ratio(value["p50"], baseline["p50"]),
                }
            )
    report.print_table(
        "Lab hosts: what the lab-host role costs", rows, ["what", "where", "n", "p50 ms", "p95 ms", "p50 ratio"]
    )
    report.save("labhosts", {"checks": checks, "placement": placement, "rounds": args.rounds})
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
