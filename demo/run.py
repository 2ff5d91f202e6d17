"""``make demo``: migrate, seed, then run the web server (workbench + terminal gateway) and this machine
as a lab host (Celery worker on the lab queues and the default queue, heartbeat, periodic jobs);
Ctrl-C stops everything this started, the learners' lab sandboxes included."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

HOST = os.environ.get("KAFAAT_DEMO_HOST", "127.0.0.1")
PORT = os.environ.get("KAFAAT_DEMO_PORT", "8000")


def _django(*args: str) -> None:
    subprocess.run([sys.executable, "-m", "django", *args], check=True)


def _interrupt(signum, frame):
    raise KeyboardInterrupt


def _stop(children: list[subprocess.Popen]) -> None:
    """Stop every child within 15 s; further Ctrl-C presses must not cut the clean-up short."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    for child in children:
        if child.poll() is None:
            os.killpg(child.pid, signal.SIGTERM)
    deadline = time.monotonic() + 15
    for child in children:
        try:
            child.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            os.killpg(child.pid, signal.SIGKILL)
            child.wait()


def _await_lab_host(children: list[subprocess.Popen], since: float, timeout: float = 300.0) -> bool:
    """Wait until this demo's lab host takes sessions (its self-test passed), so a Start works at once."""
    import django  # pylint: disable=import-outside-toplevel

    django.setup()
    from xblocks.labs import api  # pylint: disable=import-outside-toplevel

    deadline = time.monotonic() + timeout
    said = ""
    while time.monotonic() < deadline and all(child.poll() is None for child in children):
        ours = [h for h in api.lab_hosts() if h.alive and h.started_at and h.started_at.timestamp() >= since - 1]
        if any(host.accepting for host in ours):
            return True
        detail = ours[0].detail if ours else "starting the lab host"
        if detail != said:
            print(f"Kafaat demo: waiting for the lab host ({detail or 'self-test'})…", flush=True)
            said = detail
        time.sleep(0.2)
    return False


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    # Installed explicitly: a demo started in the background inherits SIGINT as ignored.
    signal.signal(signal.SIGINT, _interrupt)
    signal.signal(signal.SIGTERM, _interrupt)
    print("Kafaat demo: preparing the database…", flush=True)
    _django("migrate", "--run-syncdb", "--noinput", "-v", "0")
    # The partnership seed runs kafaat_seed_demo first, then adds the committee's schools, cohorts and needs.
    _django("kafaat_seed_partnership")
    started = time.time()
    children = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "django",
                "kafaat_lab_host",
                "run",
                "--celery-app",
                "demo",
                # certification, credentials and exports tasks share this worker in the demo
                "--queues",
                "celery",
                "--concurrency",
                os.environ.get("KAFAAT_DEMO_WORKERS", "4"),
                # the demo's web server serves the terminal gateway on its own port
                "--no-gateway",
                # no Celery beat: the periodic jobs run in this service's loop
                "--periodic",
            ],
            start_new_session=True,
        ),
        subprocess.Popen(
            [sys.executable, "-m", "django", "runserver", f"{HOST}:{PORT}", "--noreload"],
            start_new_session=True,
        ),
    ]
    try:
        if not _await_lab_host(children, started):
            print("the lab host did not start taking sessions; see the messages above", file=sys.stderr)
            return 1
        print(f"\nKafaat demo on http://{HOST}:{PORT}/  (Ctrl-C stops it)\n", flush=True)
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        print("a demo process exited; stopping the others", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\nstopping…", flush=True)
        return 0
    finally:
        _stop(children)
        # Labs outlive the worker by design (a worker restart must not kill learners' shells); the
        # demo owns its labs, so it ends them when it stops.
        subprocess.run([sys.executable, "-m", "django", "kafaat_lab_sessions", "--stop-all"], check=False)


if __name__ == "__main__":
    sys.exit(main())
