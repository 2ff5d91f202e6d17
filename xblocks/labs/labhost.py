"""The lab-host service: one process that runs a machine's lab work (``kafaat_lab_host run``).

It starts the Celery worker on the shared lab queue and on the host's own queue, and the terminal
gateway, both as children with the lab-host role; it reports the host to the registry every
``LAB_HOST_HEARTBEAT`` seconds (capacity, gateway URL, whether it takes sessions and why not); it
can also run the periodic jobs loop (the demo does). When a child dies it stops the others and
exits non-zero, so the container or unit that runs it restarts the whole host.
"""

from __future__ import annotations

import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

import xblocks
from xblocks.labs import api

log = logging.getLogger(__name__)

GATEWAY_APP = "xblocks.labs.terminal.asgi:application"
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class Options:
    """How the service runs; defaults come from the settings (see ``kafaat_lab_host run --help``)."""

    name: str
    capacity: int
    celery_app: str = "lms.celery"
    concurrency: int = 4
    extra_queues: tuple[str, ...] = ()
    gateway: bool = True
    gateway_host: str = "127.0.0.1"
    gateway_port: int = 8010
    gateway_url: str = ""
    periodic: bool = False
    log_level: str = "INFO"
    heartbeat: float = 10.0
    extra_worker_args: tuple[str, ...] = field(default_factory=tuple)


def queues(options: Options) -> list[str]:
    """The queues this host's worker consumes: the shared lab queue, its own, then any extra ones."""
    from xblocks.labs import hosts  # pylint: disable=import-outside-toplevel

    names = [hosts.lab_queue(), hosts.host_queue(options.name), *options.extra_queues]
    return list(dict.fromkeys(name for name in names if name))


def worker_command(options: Options) -> list[str]:
    return [
        sys.executable,
        "-m",
        "celery",
        "--app",
        options.celery_app,
        "worker",
        "--queues",
        ",".join(queues(options)),
        "--hostname",
        f"kafaat-labhost-{options.name}@%h",
        "--concurrency",
        str(options.concurrency),
        "--loglevel",
        options.log_level,
        "--prefetch-multiplier",
        "1",
        "--without-gossip",
        "--without-mingle",
        *options.extra_worker_args,
    ]


def gateway_command(options: Options) -> list[str]:
    return [
        sys.executable,
        "-m",
        "uvicorn",
        GATEWAY_APP,
        "--host",
        options.gateway_host,
        "--port",
        str(options.gateway_port),
        "--lifespan",
        "off",
        "--log-level",
        options.log_level.lower(),
    ]


def environment(options: Options) -> dict[str, str]:
    """The children's environment: this one plus the lab-host role and the host's name."""
    return {**os.environ, "KAFAAT_LAB_HOST_ROLE": "1", "KAFAAT_LAB_HOST": options.name}


def _die_with_parent() -> None:
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)


def _sandbox_count() -> int:
    try:
        from xblocks.labs.sandbox.base import get_backend  # pylint: disable=import-outside-toplevel

        return len(get_backend().inventory())
    except Exception:  # a host that cannot list its sandboxes still reports
        log.debug("could not count sandboxes", exc_info=True)
        return 0


def _listening(host: str, port: int) -> bool:
    """Whether something accepts TCP connections at ``host:port`` now."""
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def self_test_state(since: float) -> tuple[bool, str]:
    """Whether the host's last self-test passed after ``since`` (a time.time()); else why not."""
    from xblocks.labs.sandbox import selftest  # pylint: disable=import-outside-toplevel

    outcome = selftest.host_outcome()
    if outcome is None or float(outcome.get("at", 0)) < since or outcome.get("running"):
        return False, "sandbox self-test not finished yet"
    if not outcome.get("passed"):
        return False, str(outcome.get("summary") or "sandbox self-test failed")
    return True, ""


class Service:
    """The running service: children, heartbeat, optional periodic loop, orderly stop."""

    def __init__(self, options: Options, *, say: Callable[[str], None] = print):
        self.options = options
        self.say = say
        self.children: dict[str, subprocess.Popen] = {}
        self.started = time.time()
        self.started_at: datetime = timezone.now()
        self._stop = threading.Event()
        self._loop = None
        self._loop_thread: threading.Thread | None = None

    # ----------------------------------------------------------------------------- state

    def state(self) -> tuple[bool, str]:
        """Whether the host takes new sessions now, and the reason when it does not."""
        for name, child in self.children.items():
            if child.poll() is not None:
                return False, f"{name} exited with {child.returncode}"
        if self.options.gateway and not _listening(self.options.gateway_host, self.options.gateway_port):
            # a learner placed here would get a terminal that cannot connect
            return False, "terminal gateway not listening yet"
        return self_test_state(self.started)

    def heartbeat(self) -> None:
        accepting, detail = self.state()
        api.heartbeat(
            self.options.name,
            capacity=self.options.capacity,
            gateway_url=self.options.gateway_url,
            accepting=accepting,
            detail=detail,
            sandboxes=_sandbox_count(),
            version=xblocks.__version__,
            started_at=self.started_at,
        )

    # ----------------------------------------------------------------------------- life cycle

    def _spawn(self, name: str, command: list[str]) -> None:
        self.say(f"lab host {self.options.name}: starting {name}: {' '.join(command)}")
        # Each child in its own session, so a signal to the service's group (Ctrl-C, the demo) does
        # not reach the worker's pool processes behind its back; the service stops them in order, and
        # the kernel stops them if the service itself is killed (PR_SET_PDEATHSIG).
        self.children[name] = subprocess.Popen(
            command, env=environment(self.options), start_new_session=True, preexec_fn=_die_with_parent
        )

    def start(self) -> None:
        os.environ["KAFAAT_LAB_HOST_ROLE"] = "1"
        os.environ["KAFAAT_LAB_HOST"] = self.options.name
        self._spawn("worker", worker_command(self.options))
        if self.options.gateway:
            self._spawn("gateway", gateway_command(self.options))
        if self.options.periodic:
            from xblocks.labs import periodic  # pylint: disable=import-outside-toplevel

            self._loop = periodic.Loop(periodic.selected())
            self._loop_thread = threading.Thread(target=self._loop.run, name="kafaat-periodic", daemon=True)
            self._loop_thread.start()

    def stop(self, *, grace: float = 30.0) -> None:
        """Stop the loop and the children (SIGTERM, then SIGKILL after ``grace``); mark the host stopped."""
        self._stop.set()
        if self._loop is not None:
            self._loop.stop()
        try:
            api.lab_host_stopped(self.options.name)
        except Exception:  # the database may be the thing that went away
            log.exception("could not mark lab host %s stopped", self.options.name)
        for child in self.children.values():
            if child.poll() is None:
                child.terminate()
        deadline = time.monotonic() + grace
        for child in self.children.values():
            try:
                child.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()

    def run(self) -> int:
        """Start, heartbeat until a signal (0) or a child's death (1), then stop everything."""

        def on_signal(signum, frame):
            self._stop.set()

        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
        code = 0
        try:
            self.start()
            while not self._stop.is_set():
                try:
                    self.heartbeat()
                except Exception:  # keep serving; the next beat may get through
                    log.exception("lab host %s: heartbeat failed", self.options.name)
                dead = [name for name, child in self.children.items() if child.poll() is not None]
                if dead:
                    self.say(f"lab host {self.options.name}: {', '.join(dead)} exited; stopping the others")
                    code = 1
                    break
                self._stop.wait(self.options.heartbeat)
        finally:
            self.stop()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        self.say(f"lab host {self.options.name}: stopped")
        return code
