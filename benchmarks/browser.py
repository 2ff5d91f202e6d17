"""``python -m benchmarks browser``: what a learner feels in real Chromium through the demo.

The demo (``demo/run.py``: web server with the terminal gateway, the lab-host worker, a file broker)
runs on a free port with a temporary ``KAFAAT_VAR_DIR``. Each sample is a new learner on the demo's
inline lab, timed inside the page (``performance.now()``, so Playwright's own round trips are not
counted):

- **Start → usable prompt**: from the click on *Start lab* until a command typed as soon as the
  terminal connects has printed its output in xterm;
- **Check → feedback**: from the click on *Check* until the check's result is shown.

The first sample is **cold** (the first Start and Check after the demo's worker started: its
self-test done, its caches empty); the others are **warm**. Baselines from the same run, read from
the demo's log: the sandbox engine's create→ready ("sandbox … ready in N ms") and the server's
requested→ready of each session, so the ratios say what the page adds to what the server does.

``--before PATH`` runs the same samples against a second demo run from another source tree holding
``xblocks/`` and ``demo/`` (e.g. ``git archive REV xblocks demo course_content | tar -x -C PATH``), for a
before/after in one run.
``--without-pool`` first runs this tree with its warm pool off (``KAFAAT_WARM_POOL_SIZE=0``): the
baseline of the pool's effect, same code and same moment.
``--broker URL`` runs the demo's Celery on that broker (with lab queues of its own) instead of the
demo's file broker, which polls every 50 ms.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime
import os
import pathlib
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid

from benchmarks import report

CHECKOUT = pathlib.Path(__file__).resolve().parents[1]
TARGETS = {"start_prompt_warm_p95_ms": 150.0, "start_prompt_cold_ms": 1000.0}
MARKER_COMMAND = "echo kafaat-bench-$((6*7))"
MARKER_OUTPUT = "kafaat-bench-42"

# Installed before each click: records the click, types the command as soon as the terminal connects
# (an xterm "insertText" input, as an IME sends it), and notes when its output is on screen.
START_PROBE = """([command, output]) => {
  const lab = document.querySelector('.kafaat-lab');
  const bench = window.__bench = {
    t0: null, free: null, ready: null, connected: null, seen: null, typed: false, requests: []
  };
  const fetched = window.fetch;
  window.fetch = function (url) {  /* each handler request: name, sent and answered (ms after the click) */
    const sent = performance.now();
    const name = (String(url).match(/handler[/][^/]+[/]([a-z_]+)/) || [])[1];
    return fetched.apply(this, arguments).then((response) => {
      if (name && bench.t0 !== null) {  /* the demo's Server-Timing: Django's wall and its thread's CPU */
        const timing = response.headers.get('Server-Timing') || '';
        const dur = (key) => Number((timing.match(new RegExp(key + ';dur=([0-9.]+)')) || [])[1] || NaN);
        bench.requests.push([name, sent - bench.t0, performance.now() - bench.t0, dur('app'), dur('cpu')]);
      }
      return response;
    });
  };
  lab.querySelector('.kafaat-lab__start').addEventListener('click', () => {
    bench.t0 = performance.now();
    /* runs once the page's own click handler (which builds the terminal) has let the main thread go */
    setTimeout(() => { bench.free = performance.now(); }, 0);
  }, {capture: true, once: true});
  const look = () => {
    if (bench.t0 === null || bench.seen !== null) { return; }
    if (bench.ready === null && lab.querySelector('.kafaat-lab__stop:not([hidden])') &&
        lab.querySelector('.kafaat-lab__progress[hidden]')) { bench.ready = performance.now(); }
    const term = lab.querySelector('.kafaat-terminal[data-state="connected"]');
    if (term && !bench.typed) {
      bench.typed = true;
      bench.connected = performance.now();
      const input = term.querySelector('.xterm-helper-textarea');
      input.dispatchEvent(new InputEvent('input', {data: command + '\\r', inputType: 'insertText'}));
    }
    const rows = lab.querySelector('.xterm-rows');
    if (bench.typed && rows && rows.textContent.includes(output)) { bench.seen = performance.now(); }
  };
  new MutationObserver(look).observe(lab, {subtree: true, childList: true, attributes: true, characterData: true});
}"""

CHECK_PROBE = """() => {
  const lab = document.querySelector('.kafaat-lab');
  const bench = window.__check = {t0: null, seen: null};
  lab.querySelector('.kafaat-lab__check').addEventListener('click', () => { bench.t0 = performance.now(); },
    {capture: true, once: true});
  new MutationObserver(() => {
    if (bench.t0 !== null && bench.seen === null && lab.querySelector('.kafaat-lab__result')) {
      bench.seen = performance.now();
    }
  }).observe(lab, {subtree: true, childList: true});
}"""

LOG_TIME = re.compile(r"^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3}) ")
# A session's sandbox (``labsession-<digest>-<id>``) or one made ahead by the warm pool (``…-pool-<id>``).
READY_IN = re.compile(r"sandbox \w+ \(labsession-\w+?-((?:pool-)?\d+),.* ready in (\d+) ms")
CLAIMED = re.compile(r"lab session (\d+) claimed pool sandbox")
REQUESTED = re.compile(r"lab session (\d+) requested by user")
BECAME_READY = re.compile(r"lab session (\d+): provisioning -> ready")
SHELL_OPENED = re.compile(r"opened a shell for lab session (\d+) \(machine [^)]*\) in (\d+) ms")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Demo:
    """``python -m demo.run`` on a free port with its own var folder; ``xblocks`` from ``tree``."""

    def __init__(self, tree: pathlib.Path, var_dir: pathlib.Path, broker: str = "", extra: dict | None = None):
        self.port = _free_port()
        self.var_dir = var_dir
        self.url = f"http://127.0.0.1:{self.port}"
        self.output = var_dir / "demo-output.log"
        env = {
            **os.environ,
            "KAFAAT_DEMO_PORT": str(self.port),
            "KAFAAT_VAR_DIR": str(var_dir),
            "KAFAAT_DEMO_SERVER_TIMING": "1",
            "DJANGO_SETTINGS_MODULE": "demo.settings",
            "PYTHONPATH": os.pathsep.join(dict.fromkeys([str(tree), str(CHECKOUT)])),
        }
        env.pop("KAFAAT_CELERY_EAGER", None)
        env.update(extra or {})
        if broker:  # queues of this run only, whoever else uses that broker
            env["KAFAAT_BROKER_URL"] = broker
            env["KAFAAT_LAB_QUEUE"] = f"kafaat-bench-{uuid.uuid4().hex[:8]}"
        var_dir.mkdir(parents=True, exist_ok=True)
        self._out = self.output.open("wb")
        self.started = time.monotonic()
        # ``python -m`` puts its working folder first on sys.path: run in the tree whose code is measured
        self.process = subprocess.Popen(
            [sys.executable, "-m", "demo.run"],
            cwd=tree if (tree / "demo").is_dir() else CHECKOUT,
            env=env,
            stdout=self._out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def wait_ready(self, timeout: float = 600.0) -> float:
        """Seconds until the demo printed its address (it waits for its lab host's self-test)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if b"Kafaat demo on http" in self.output.read_bytes():
                return time.monotonic() - self.started
            if self.process.poll() is not None:
                break
            time.sleep(0.2)
        raise RuntimeError(f"the demo did not start; see {self.output}")

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)  # the demo stops its children and its labs
            try:
                self.process.wait(timeout=90)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        self._out.close()

    def log_figures(self) -> dict:
        """From the demo's log: the engine's create→ready per sandbox (a session's, or a warm pool's made
        ahead), requested→ready on the server per session (ms), and the sessions the warm pool served."""
        engine: dict[str, float] = {}
        pooled: set[int] = set()
        requested: dict[int, datetime.datetime] = {}
        server: dict[int, float] = {}
        shells: dict[int, float] = {}
        path = self.var_dir / "kafaat.log"
        for line in path.read_text(errors="replace").splitlines() if path.exists() else []:
            stamp = LOG_TIME.match(line)
            when = datetime.datetime.strptime(stamp.group(1), "%Y-%m-%d %H:%M:%S,%f") if stamp else None
            if match := READY_IN.search(line):
                engine[match.group(1)] = float(match.group(2))
            elif match := CLAIMED.search(line):
                pooled.add(int(match.group(1)))
            elif (match := REQUESTED.search(line)) and when:
                requested.setdefault(int(match.group(1)), when)
            elif (match := BECAME_READY.search(line)) and when and int(match.group(1)) in requested:
                server[int(match.group(1))] = (when - requested[int(match.group(1))]).total_seconds() * 1000
            elif match := SHELL_OPENED.search(line):
                shells.setdefault(int(match.group(1)), float(match.group(2)))
        return {"engine": engine, "server": server, "pooled": sorted(pooled), "shells": shells}


def _sample(browser, demo: Demo, learner: str) -> dict[str, float]:
    page = browser.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    try:
        page.goto(f"{demo.url}/scenario/kafaat_lab.0/?student={learner}")
        lab = page.locator(".kafaat-lab").first
        lab.locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=30_000)
        page.evaluate(START_PROBE, [MARKER_COMMAND, MARKER_OUTPUT])
        lab.locator(".kafaat-lab__start").click()
        page.wait_for_function("() => window.__bench.seen !== null", timeout=120_000, polling=50)
        start = page.evaluate("() => window.__bench")
        page.evaluate(CHECK_PROBE)
        lab.locator(".kafaat-lab__check").first.click()
        page.wait_for_function("() => window.__check.seen !== null", timeout=120_000, polling=50)
        check = page.evaluate("() => window.__check")
        lab.locator(".kafaat-lab__stop").click()
        try:
            lab.locator(".kafaat-lab__start").wait_for(state="visible", timeout=60_000)
        except Exception:  # each sample is a new learner: a slow teardown does not spoil the next one
            print(f"{learner}: the lab had not stopped 60 s after Stop", file=sys.stderr, flush=True)
        return {
            "start_prompt": start["seen"] - start["t0"],
            "start_ready_shown": start["ready"] - start["t0"],
            "start_connected": start["connected"] - start["t0"],
            "start_main_thread_free": start["free"] - start["t0"] if start.get("free") is not None else float("nan"),
            "check_feedback": check["seen"] - check["t0"],
            "start_requests": start["requests"],
        }
    finally:
        page.close()


def _measure(
    label: str, tree: pathlib.Path, runs: int, folder: pathlib.Path, playwright, broker: str, extra: dict | None = None
) -> dict:
    demo = Demo(tree, folder / label.replace(" ", "-").replace(",", ""), broker, extra)
    try:
        boot_s = demo.wait_ready()
        print(f"{label}: demo ready in {boot_s:.1f} s on {demo.url}", file=sys.stderr, flush=True)
        browser = playwright.chromium.launch(
            executable_path="/usr/bin/chromium", headless=True, args=["--no-sandbox", "--disable-dev-shm-usage"]
        )
        try:
            samples = [_sample(browser, demo, f"bench-{index}") for index in range(runs + 1)]
        finally:
            browser.close()
        figures = demo.log_figures()
    finally:
        demo.stop()
    return {"boot_s": boot_s, "samples": samples, **figures}


def _answered(sample: dict, handler: str, field: int = 2) -> float:
    """When the first ``handler`` request of a Start was answered (ms after the click), or with ``field``
    3 / 4 the Django wall / thread CPU the demo reported for it (``Server-Timing``)."""
    return next((request[field] for request in sample["start_requests"] if request[0] == handler), float("nan"))


def _rows(label: str, result: dict) -> list[dict]:
    samples = result["samples"]
    cold, warm = samples[0], samples[1:]
    engine = list(result["engine"].values())
    server = list(result["server"].values())
    engine_p50 = report.summary(engine)["p50"] if engine else float("nan")
    rows = []

    def row(name: str, values: list[float], target: float | str = ""):
        figures = report.summary(values)
        rows.append(
            {
                "run": label,
                "measure": name,
                "n": figures["n"],
                "p50 ms": figures["p50"],
                "p95 ms": figures["p95"],
                "p50 × sandbox ready": report.ratio(figures["p50"], engine_p50),
                "target": target,
            }
        )

    row("Start → prompt, cold", [cold["start_prompt"]], TARGETS["start_prompt_cold_ms"])
    row("Start → prompt, warm", [s["start_prompt"] for s in warm], f"p95 {TARGETS['start_prompt_warm_p95_ms']:g}")
    row("Start → Start answered, warm", [_answered(s, "start") for s in warm])
    row(
        "Start → the page's click handler done (terminal built), warm",
        [s.get("start_main_thread_free", float("nan")) for s in warm],
    )
    row("Start → page shows ready, warm", [s["start_ready_shown"] for s in warm])
    row("Start → terminal connected, warm", [s["start_connected"] for s in warm])
    row("Start request: in Django (Server-Timing), warm", [_answered(s, "start", 3) for s in warm])
    row("Start request: its thread's CPU (Server-Timing), warm", [_answered(s, "start", 4) for s in warm])
    row("status polls per Start, warm", [sum(r[0] == "status" for r in s["start_requests"]) for s in warm])
    row("Check → feedback, cold", [cold["check_feedback"]])
    row("Check → feedback, warm", [s["check_feedback"] for s in warm])
    row("Starts served by the warm pool (all samples)", [float(len(result.get("pooled", [])))])
    row("gateway: the learner's shell opened in (the demo's log)", list(result.get("shells", {}).values()))
    row("baseline: server requested → ready", server)
    row("baseline: sandbox create → ready", engine)
    return rows


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks browser")
    parser.add_argument("--runs", type=int, default=10, help="warm samples (one cold sample comes first)")
    parser.add_argument("--before", metavar="PATH", help="also measure a demo run from this tree (xblocks/, demo/)")
    parser.add_argument(
        "--broker",
        default="",
        metavar="URL",
        help="Celery broker for the demo (e.g. redis://127.0.0.1:6379/11); default: the demo's file broker",
    )
    parser.add_argument(
        "--without-pool",
        action="store_true",
        help="first measure this tree with its warm pool off (KAFAAT_WARM_POOL_SIZE=0), as the baseline",
    )
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright  # pylint: disable=import-outside-toplevel

    trees = {"this tree": (CHECKOUT, {})}
    if args.without_pool:
        trees = {"this tree, pool off": (CHECKOUT, {"KAFAAT_WARM_POOL_SIZE": "0"}), **trees}
    if args.before:
        trees["before"] = (pathlib.Path(args.before).resolve(), {})
    results, rows = {}, []
    folder = pathlib.Path(tempfile.mkdtemp(prefix="kafaat-bench-browser-"))
    with sync_playwright() as playwright:
        for label, (tree, extra) in trees.items():
            try:
                results[label] = _measure(label, tree, args.runs, folder, playwright, args.broker, extra)
            except Exception:
                print(f"{label}: failed; the demo's logs are kept in {folder}", file=sys.stderr)
                raise
            rows.extend(_rows(label, results[label]))
            report.print_table(f"{label} (ms)", _rows(label, results[label]), ["measure", "n", "p50 ms", "p95 ms"])
    shutil.rmtree(folder, ignore_errors=True)
    report.print_table(
        "Chromium through the demo (ms; timed in the page)",
        rows,
        ["run", "measure", "n", "p50 ms", "p95 ms", "p50 × sandbox ready", "target"],
    )
    for label, result in results.items():
        print(f"{label}: demo printed its address {result['boot_s']:.1f} s after it was started")
    with contextlib.suppress(OSError):
        report.save(
            "browser", {"runs": args.runs, "broker": args.broker or "filesystem", "results": results, "rows": rows}
        )
    return 0
