"""A real ``python -m demo.run`` for the demo's fault tests: its processes, its labs, what it leaves behind."""

from __future__ import annotations

import hashlib
import http.cookiejar
import json
import os
import pathlib
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid

from demo.run import PART_MARK, RUN_MARK, marked_processes

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]
SANDBOX_ROOT = pathlib.Path(os.environ.get("KAFAAT_SANDBOX_ROOT", "/var/lib/kafaat/sandboxes"))
LAB_SCENARIO = "/scenario/kafaat_lab.0/"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, demo: RunningDemo | None = None):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    tail = f"\n--- demo output ---\n{demo.output()[-6000:]}" if demo else ""
    raise AssertionError(f"timed out waiting for {what}{tail}")


def cmdline(pid: int) -> str:
    try:
        return pathlib.Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def _parent(pid: int) -> int:
    try:
        return int(pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
    except (OSError, ValueError, IndexError):
        return 0


def alive(pid: int) -> bool:
    try:
        state = pathlib.Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


class RunningDemo:
    """``python -m demo.run`` on a free port with its own var folder, as ``make demo`` runs it."""

    def __init__(self, var_dir: pathlib.Path, log_path: pathlib.Path, **env: str):
        self.var_dir = var_dir
        self.log_path = log_path
        self.port = free_port()
        self.run_id = uuid.uuid4().hex
        self.env = {
            **{k: v for k, v in os.environ.items() if not k.startswith(("KAFAAT_", "DJANGO_"))},
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "KAFAAT_VAR_DIR": str(var_dir),
            "KAFAAT_DEMO_PORT": str(self.port),
            "KAFAAT_DEMO_WORKERS": "2",
            "KAFAAT_REAP_INTERVAL": "2",
            "KAFAAT_RECONCILE_INTERVAL": "3",
            RUN_MARK: self.run_id,
            "PYTHONPATH": str(CHECKOUT),
            **env,
        }
        self.process: subprocess.Popen | None = None
        self.base = f"http://127.0.0.1:{self.port}"
        self._jar = http.cookiejar.CookieJar()
        self._opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self._jar))
        self._usage = ""
        self.sandboxes_seen: set[str] = set()

    # ------------------------------------------------------------------------------ running

    def start(self, timeout: float = 300) -> RunningDemo:
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "demo.run"],
                cwd=CHECKOUT,
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        banner = f"Kafaat demo on http://127.0.0.1:{self.port}/"

        def ready():
            if self.process.poll() is not None:
                raise AssertionError(f"the demo exited with {self.process.returncode}:\n{self.output()[-6000:]}")
            return self.output().count(banner) > 0

        wait_for(ready, timeout, "the demo to take lab sessions", self)
        return self

    def output(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def signal(self, sig: int = signal.SIGTERM) -> None:
        self.process.send_signal(sig)

    def wait(self, timeout: float = 120) -> int:
        return self.process.wait(timeout=timeout)

    def ensure_stopped(self) -> None:
        """Test teardown: stop the demo if a test left it running; kill anything of it still there."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        for pid in marked_processes(self.run_id):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass

    # ------------------------------------------------------------------------------ processes

    def processes(self, part: str | None = None) -> list[int]:
        return [pid for pid in marked_processes(self.run_id, part) if alive(pid)]

    def part_pid(self, part: str) -> int | None:
        """The pid of a part's own process (the supervisor's child)."""
        pids = [pid for pid in self.processes(part) if _parent(pid) == self.process.pid]
        return pids[0] if pids else None

    def lab_worker_pid(self) -> int | None:
        """The lab host's Celery worker main process (its pool processes are its children)."""
        host = self.part_pid("labhost")
        pids = [pid for pid in self.processes("labhost") if _parent(pid) == host and " celery " in cmdline(pid)]
        return pids[0] if pids else None

    def beats(self) -> list[int]:
        return [pid for pid in self.processes("beat") if "demo.beat" in cmdline(pid)]

    # ------------------------------------------------------------------------------ database

    def query(self, sql: str, *args) -> list[tuple]:
        database = self.var_dir / "workbench.db"
        with sqlite3.connect(f"file:{database}?mode=ro", uri=True, timeout=10) as connection:
            return connection.execute(sql, args).fetchall()

    def label_prefix(self) -> str:
        """The sandbox label prefix of this demo (xblocks.labs.models.label_prefix for its database)."""
        identity = "|".join(["django.db.backends.sqlite3", "", "", str(self.var_dir / "workbench.db")])
        return f"labsession-{hashlib.sha256(identity.encode()).hexdigest()[:8]}-"

    def sandboxes(self) -> list[str]:
        """This demo's sandbox folders on the host (live or half torn down)."""
        found = []
        prefix = self.label_prefix()
        for folder in SANDBOX_ROOT.iterdir() if SANDBOX_ROOT.is_dir() else []:
            try:
                label = json.loads((folder / "handle.json").read_text()).get("label", "")
            except (OSError, ValueError):
                continue
            if label.startswith(prefix):
                found.append(folder.name)
        self.sandboxes_seen.update(found)
        return found

    # ------------------------------------------------------------------------------ the lab page

    def _post(self, handler: str, student: str) -> dict:
        if not self._usage:
            with self._opener.open(f"{self.base}{LAB_SCENARIO}?student={student}", timeout=30) as page:
                text = page.read().decode()
            self._usage = re.search(r"data-usage='([^']+)'", text).group(1)
        token = next(cookie.value for cookie in self._jar if cookie.name == "csrftoken")
        request = urllib.request.Request(  # noqa: S310  (loopback)
            f"{self.base}/handler/{self._usage}/{handler}/?student={student}",
            data=b"{}",
            headers={"Content-Type": "application/json", "X-CSRFToken": token, "Referer": f"{self.base}/"},
        )
        with self._opener.open(request, timeout=60) as response:
            return json.loads(response.read())

    def lab_host_accepting(self, since: float) -> bool:
        """Whether the demo's lab host, started after ``since`` (a time.time()), takes sessions."""
        from datetime import UTC, datetime  # pylint: disable=import-outside-toplevel

        after = datetime.fromtimestamp(since, UTC).strftime("%Y-%m-%d %H:%M:%S")
        return bool(self.query("SELECT 1 FROM kafaat_labs_labhost WHERE accepting AND started_at >= ?", after))

    def start_lab(self, student: str, timeout: float = 180) -> dict:
        """Start the demo's first lab as ``student`` and wait until it is ready (as the page polls).

        A refusal (409) while the host is not taking sessions is pressed again, as a learner would:
        the sandbox self-test's outcome is shared by every process on the machine, so a self-test
        that another lab host on this machine runs makes this one refuse for a while.
        """
        deadline = time.monotonic() + timeout
        while True:
            try:
                self._post("start", student)
                break
            except urllib.error.HTTPError as error:
                if error.code != 409 or time.monotonic() > deadline:
                    raise AssertionError(f"start: HTTP {error.code} {error.read()[:300]!r}") from error
                time.sleep(1)
        status = wait_for(
            lambda: (lambda s: s if s["state"] not in ("requested", "provisioning") else None)(
                self._post("status", student)
            ),
            max(30.0, deadline - time.monotonic()),
            f"{student}'s lab to start",
            self,
        )
        assert status["state"] == "ready", status
        self.sandboxes()
        return status


def mounts_under(folder: pathlib.Path) -> list[str]:
    text = pathlib.Path("/proc/self/mountinfo").read_text()
    return [line.split()[4] for line in text.splitlines() if line.split()[4].startswith(str(folder))]


def cgroup_folders(sandbox_id: str) -> list[str]:
    """The sandbox's cgroups and its checks' (``<id>.<check>`` beside it) that still exist."""
    from xblocks.labs.sandbox import cgroups  # pylint: disable=import-outside-toplevel

    return [
        str(path)
        for name in cgroups.driver("kafaat").family(sandbox_id)
        for path in cgroups.driver("kafaat").paths(name)
        if path.exists()
    ]


def nothing_left(demo: RunningDemo) -> list[str]:
    """What the stopped demo left behind: processes, sandboxes, mounts, cgroups, its port; empty when clean."""
    left = [f"process {pid}: {cmdline(pid)[:120]}" for pid in demo.processes()]
    left += [f"sandbox folder {name}" for name in demo.sandboxes()]
    for sandbox_id in demo.sandboxes_seen:
        left += [f"mount {point}" for point in mounts_under(SANDBOX_ROOT / sandbox_id)]
        left += [f"cgroup {path}" for path in cgroup_folders(sandbox_id)]
    with socket.socket() as probe:
        if probe.connect_ex(("127.0.0.1", demo.port)) == 0:
            left.append(f"something still listens on {demo.port}")
    return left


__all__ = ["PART_MARK", "RunningDemo", "nothing_left", "wait_for"]
