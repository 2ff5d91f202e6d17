"""``make demo``: migrate, seed, then run and supervise the demo's processes until a signal stops it.

The processes, each in a session of its own (a signal to the terminal's or make's process group
reaches only this supervisor, which stops them in order):

- ``labhost``: this machine as a lab host (``kafaat_lab_host run``: a Celery worker on the lab
  queues, the heartbeat), the only one that touches sandboxes;
- ``worker``: a Celery worker with its own pool on the default queue (certification, credentials,
  HR deliveries, the periodic jobs that are not lab work), so that neither waits behind the other;
- ``beat``: Celery beat (``demo.beat``), one at a time, holding ``var/run/beat.lock``;
- ``web``: the web server (workbench, handlers, terminal gateway).

One that exits is started again, with a log line (at once, then after 1, 2, 4… up to 30 s while it
keeps dying quickly); it is never a reason to end the learners' labs. Ctrl-C, SIGTERM or SIGHUP, once
or several times, stops everything: the processes, every process they started, and the learners'
labs (their sandboxes, mounts and cgroups), even when the database cannot be written (a full disk).
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

HOST = os.environ.get("KAFAAT_DEMO_HOST", "127.0.0.1")
PORT = os.environ.get("KAFAAT_DEMO_PORT", "8000")
# Every process the demo starts carries RUN_MARK (the run's id) and PART_MARK (its part) in its
# environment, children of children included; sandboxes never do (their environment is cleared).
RUN_MARK = "KAFAAT_DEMO_RUN"
PART_MARK = "KAFAAT_DEMO_PART"
PR_SET_PDEATHSIG = 1
GRACE = 15.0  # seconds the parts get to stop before they are killed
QUICK_DEATH = 30.0  # a part that dies within this many seconds of its start waits longer each time
LOW_SPACE = 50 * 1024 * 1024


def _die_with_parent() -> None:
    import ctypes  # pylint: disable=import-outside-toplevel

    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


@dataclass
class Part:
    """One supervised process: how to start it, and its current run."""

    name: str
    command: list[str]
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen | None = None
    started: float = 0.0
    quick_deaths: int = 0
    due: float = 0.0  # monotonic time of its next start, while it is down

    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None


def marked_processes(run_id: str, part: str | None = None) -> list[int]:
    """Pids of live processes carrying this run's mark (and ``part``'s, when given), this one excluded."""
    wanted = f"{RUN_MARK}={run_id}".encode()
    wanted_part = f"{PART_MARK}={part}".encode() if part else None
    found = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            with open(f"/proc/{entry.name}/environ", "rb") as handle:
                variables = handle.read().split(b"\0")
        except OSError:
            continue
        if wanted in variables and (wanted_part is None or wanted_part in variables):
            found.append(int(entry.name))
    return found


class Demo:
    """The supervisor: parts, restarts, signals, and a clean-up that always completes."""

    def __init__(self, var_dir: Path, run_id: str):
        self.var_dir = var_dir
        self.run_id = run_id
        self.stopping = threading.Event()
        self.signals = 0
        self.parts: list[Part] = []
        self._cleaned = False
        self._log = var_dir / "demo.log"

    # ------------------------------------------------------------------------------------ output

    def say(self, line: str, *, error: bool = False) -> None:
        text = f"Kafaat demo: {line}"
        print(text, file=sys.stderr if error else sys.stdout, flush=True)
        try:  # the log is a convenience: a full disk must not stop the supervisor
            with self._log.open("a") as log:
                log.write(f"{time.strftime('%Y-%m-%d %H:%M:%S')} {text}\n")
        except OSError:
            pass

    def on_signal(self, signum, frame) -> None:
        """Only records the request: the clean-up runs in the main flow and no signal interrupts it."""
        self.signals += 1
        if self.signals > 1:
            name = signal.Signals(signum).name
            os.write(2, f"Kafaat demo: already stopping ({name}); the clean-up goes on\n".encode())
        self.stopping.set()

    # ------------------------------------------------------------------------------------ parts

    def environment(self, part: str) -> dict[str, str]:
        env = {**os.environ, RUN_MARK: self.run_id, PART_MARK: part}
        env.setdefault("KAFAAT_LAB_HOST_HEARTBEAT", "2")  # a dead worker is noticed within 2 s
        return env

    def add(self, name: str, command: list[str], **env: str) -> Part:
        part = Part(name, command, env)
        self.parts.append(part)
        return part

    def start(self, part: Part) -> None:
        part.process = subprocess.Popen(
            part.command,
            env={**self.environment(part.name), **part.env},
            start_new_session=True,
            preexec_fn=_die_with_parent,
        )
        part.started = time.monotonic()

    def step(self, command: list[str]) -> int:
        """Run a preparation step (its own session: Ctrl-C does not cut a migration in half)."""
        process = subprocess.Popen(command, env=self.environment("prepare"), start_new_session=True)
        while process.poll() is None:
            if self.stopping.wait(0.2):
                process.terminate()
                try:
                    process.wait(timeout=GRACE)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        return process.returncode

    def watch(self) -> None:
        """Start what is due; notice what died, clear what it left and schedule its restart."""
        now = time.monotonic()
        for part in self.parts:
            if self.stopping.is_set():
                return
            if part.process is None:
                if now >= part.due:
                    self.start(part)
                continue
            code = part.process.poll()
            if code is None:
                continue
            lived = now - part.started
            part.quick_deaths = part.quick_deaths + 1 if lived < QUICK_DEATH else 0
            delay = 0.0 if part.quick_deaths <= 1 else min(30.0, 2.0 ** (part.quick_deaths - 2))
            left = self.kill_marked(part.name)
            self.say(
                f"{part.name} exited with {code} after {lived:.0f} s"
                + (f" ({left} process(es) it left killed)" if left else "")
                + (f"; starting it again in {delay:.0f} s" if delay else "; starting it again")
                + self.disk_note(),
                error=True,
            )
            part.process = None
            part.due = now + delay

    def disk_note(self) -> str:
        try:
            free = shutil.disk_usage(self.var_dir).free
        except OSError:
            return ""
        return f" (only {free // 1024} KiB free in {self.var_dir})" if free < LOW_SPACE else ""

    def kill_marked(self, part: str | None = None) -> int:
        pids = marked_processes(self.run_id, part)
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        return len(pids)

    # ------------------------------------------------------------------------------------ stopping

    def stop_parts(self) -> None:
        running = [part for part in self.parts if part.alive()]
        for part in running:
            # its main process only: a Celery worker stops its own pool (a pool process killed under
            # it makes the worker wait for it); the whole group is killed if the grace runs out
            part.process.terminate()
        deadline = time.monotonic() + GRACE
        for part in running:
            try:
                part.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say(f"{part.name} did not stop within {GRACE:.0f} s; killing it", error=True)
                try:
                    os.killpg(part.process.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                part.process.wait()

    def stop_labs(self, reason: str = "the demo stopped") -> None:
        """End every live lab through the database, then destroy any sandbox of this demo still there."""
        try:
            from xblocks.labs import api  # pylint: disable=import-outside-toplevel
            from xblocks.labs.models import LabSession, label_prefix  # pylint: disable=import-outside-toplevel
            from xblocks.labs.sandbox.base import get_backend  # pylint: disable=import-outside-toplevel
        except Exception as error:  # noqa: BLE001  (Django never set up: nothing was started)
            self.say(f"labs not stopped: {error}", error=True)
            return
        ended = 0
        try:
            live = list(LabSession.objects.exclude(live_key=None).values_list("pk", flat=True))
        except Exception as error:  # noqa: BLE001
            self.say(f"could not read the live labs ({error}); destroying their sandboxes directly", error=True)
            live = []
        for session_id in live:
            try:
                api.stop_session(session_id, actor="system:operator", reason=reason)
                api.teardown_session(session_id)
                ended += 1
            except Exception as error:  # noqa: BLE001  (a full disk: the sweep below still ends it)
                self.say(f"lab session {session_id}: {error}; destroying its sandbox directly", error=True)
        # Whatever the database could record: no sandbox of this demo outlives it.
        destroyed = 0
        try:
            backend = get_backend()
            prefix = label_prefix()
            for handle in backend.inventory():
                if handle.label.startswith(prefix):
                    try:
                        backend.destroy(handle)
                        destroyed += 1
                    except Exception as error:  # noqa: BLE001
                        self.say(f"sandbox {handle.id}: {error}", error=True)
        except Exception as error:  # noqa: BLE001
            self.say(f"could not list the sandboxes: {error}", error=True)
        if live or destroyed:
            self.say(f"{ended} lab(s) ended, {destroyed} sandbox(es) destroyed ({reason})")

    def cleanup(self) -> None:
        """Stop everything; runs once, and no signal cuts it short (the handlers only take note)."""
        if self._cleaned:
            return
        self._cleaned = True
        self.stopping.set()
        self.say("stopping…")
        self.stop_parts()
        if any(part.started for part in self.parts):  # else nothing could have started a lab
            self.stop_labs()
        left = self.kill_marked()  # what a killed part left behind (a worker's pool processes)
        if left:
            self.say(f"{left} leftover process(es) killed")
        self.say("stopped")

    # ------------------------------------------------------------------------------------ run

    def lab_host_accepting(self, since: float) -> tuple[bool, str]:
        from xblocks.labs import api  # pylint: disable=import-outside-toplevel

        ours = [h for h in api.lab_hosts() if h.alive and h.started_at and h.started_at.timestamp() >= since - 1]
        if any(host.accepting for host in ours):
            return True, ""
        return False, (ours[0].detail if ours else "") or "starting the lab host"


def _prepare(demo: Demo) -> bool:
    python = sys.executable
    for command, what in (
        ([python, "-m", "django", "migrate", "--run-syncdb", "--noinput", "-v", "0"], "preparing the database"),
        # the partnership seed runs kafaat_seed_demo first, then adds the committee's schools, cohorts and needs
        ([python, "-m", "django", "kafaat_seed_partnership"], "seeding the demo"),
    ):
        demo.say(f"{what}…")
        code = demo.step(command)
        if demo.stopping.is_set():
            return False
        if code:
            demo.say(f"{what} failed (exit {code}); see the messages above{demo.disk_note()}", error=True)
            return False
    return True


def main() -> int:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    run_id = os.environ.get(RUN_MARK) or uuid.uuid4().hex
    os.environ.pop(RUN_MARK, None)
    import django  # pylint: disable=import-outside-toplevel
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    from demo import broker, locks  # pylint: disable=import-outside-toplevel

    var_dir = Path(settings.VAR_DIR)
    demo = Demo(var_dir, run_id)
    # Installed explicitly: a demo started in the background inherits SIGINT as ignored.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, demo.on_signal)
    lock_path = var_dir / "run" / "demo.lock"
    lock = locks.hold(lock_path)
    if lock is None:
        demo.say(
            f"another demo (pid {locks.holder(lock_path) or '?'}) runs with {var_dir}; stop it first, or set "
            "KAFAAT_VAR_DIR or KAFAAT_DEMO_PORT",
            error=True,
        )
        return 1
    if demo.disk_note():
        demo.say(f"warning: little space left{demo.disk_note()}; labs and tasks may fail", error=True)
    broker.remove_partial_writes(settings.CELERY_BROKER_TRANSPORT_OPTIONS["data_folder_out"])
    try:
        if not _prepare(demo):
            return 0 if demo.stopping.is_set() else 1
        django.setup()
        # the demo owns its labs: those of a run that could not clean up (kill -9, power cut) end now
        demo.stop_labs("left by a demo run that did not stop")
        python = sys.executable
        workers = os.environ.get("KAFAAT_DEMO_WORKERS", "4")
        demo.add(
            "labhost",
            [python, "-m", "django", "kafaat_lab_host", "run", "--celery-app", "demo", "--concurrency", workers,
             # the demo's web server serves the terminal gateway on its own port; beat runs the periodic jobs
             "--no-gateway"],
        )  # fmt: skip
        demo.add(
            "worker",
            [python, "-m", "celery", "--app", "demo", "worker", "--queues", "celery",
             "--hostname", f"kafaat-demo-tasks-{PORT}@%h",
             "--concurrency", os.environ.get("KAFAAT_DEMO_TASK_WORKERS", "2"),
             "--prefetch-multiplier", "1", "--without-gossip", "--without-mingle", "--loglevel", "INFO"],
            KAFAAT_LAB_HOST_ROLE="0",
        )  # fmt: skip
        demo.add("beat", [python, "-m", "demo.beat"], KAFAAT_LAB_HOST_ROLE="0")
        demo.add("web", [python, "-m", "django", "runserver", f"{HOST}:{PORT}", "--noreload"], KAFAAT_LAB_HOST_ROLE="0")
        since = time.time()
        announced = False
        said = ""
        deadline = time.monotonic() + 300
        while not demo.stopping.is_set():
            demo.watch()
            if not announced:
                try:
                    accepting, detail = demo.lab_host_accepting(since)
                except Exception as error:  # noqa: BLE001  (the database may be busy or full)
                    accepting, detail = False, str(error)
                if accepting:
                    announced = True
                    print(f"\nKafaat demo on http://{HOST}:{PORT}/  (Ctrl-C stops it)\n", flush=True)
                elif time.monotonic() > deadline:
                    demo.say(f"the lab host did not take sessions ({detail}); see the messages above", error=True)
                    return 1
                elif detail != said:
                    demo.say(f"waiting for the lab host ({detail or 'self-test'})…")
                    said = detail
            demo.stopping.wait(0.5)
        return 0
    finally:
        demo.cleanup()
        lock.release()


if __name__ == "__main__":
    sys.exit(main())
