"""``python -m benchmarks cli``: what ``kafaat sandbox exec --image base -- true`` costs, and where it goes.

Each sample is a fresh process, as an operator's command is. Baselines measured in the same run,
interleaved with the measured commands so a busy machine weighs on all of them alike:

- ``python -c pass``: the interpreter's own start-up (site, the editable-install finder);
- ``raw bwrap true``: bubblewrap alone running ``/bin/true`` in the same image (``--unshare-all``),
  what making any sandbox costs; with ``python -c pass`` it is the floor of a Python command that
  makes one (the ``× floor`` column: the sum of the two p50s);
- ``import local``: the interpreter plus the imports ``sandbox exec`` needs (the backend);
- ``--before PATH``: the same command from another source tree (an older checkout, e.g. made with
  ``git archive REV xblocks | tar -x -C PATH``), for a before/after figure on one machine.

``--own-root``: every command uses a sandbox root of this run's own (``KAFAAT_SANDBOX_ROOT``), where
``kafaat sandbox selftest`` first runs and records a real outcome. Creation still consults that
record, as always; it is just not held while another process of a shared host runs its self-test
against the host's record (seconds each time, which otherwise is most of the p95 on a busy host).

CPU is each command's user and system time with the children it waited for (the helper, bubblewrap's
monitor): a busy machine stretches the wall clock far more than it changes the work done.

Bytecode is cached in a temporary ``PYTHONPYCACHEPREFIX`` (as an installed package has its ``.pyc``
files), so the figures do not include compiling the sources, whatever ``PYTHONDONTWRITEBYTECODE`` says.
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from benchmarks import report

TARGET_P95_MS = 40.0
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]


def _env(tree: pathlib.Path, cache: str, root: str = "") -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONDONTWRITEBYTECODE"}}
    if root:
        env["KAFAAT_SANDBOX_ROOT"] = root
    if cache:
        env["PYTHONPYCACHEPREFIX"] = cache
    env["PYTHONPATH"] = str(tree)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # an operator's shell has none: the command needs no database
    return env


def _once(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """Wall-clock and CPU (user + system of the command and the children it waited for) milliseconds."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    wall = (time.perf_counter() - started) * 1000
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cli")
    parser.add_argument("--runs", type=int, default=30, help="samples of each command")
    parser.add_argument("--before", metavar="PATH", help="a source tree holding xblocks/ to time too")
    parser.add_argument("--image", default="base")
    parser.add_argument("--own-root", action="store_true", help="a sandbox root (and self-test record) of its own")
    args = parser.parse_args(argv)
    if not args.own_root:
        return _run(args, "")
    with tempfile.TemporaryDirectory(prefix="kafaat-cli-root-") as root:
        selftest = [sys.executable, "-m", "xblocks.cli", "sandbox", "selftest"]
        print("recording a self-test in the run's own sandbox root...", file=sys.stderr)
        done = subprocess.run(selftest, env=_env(CHECKOUT, "", root), check=False, capture_output=True, text=True)
        if done.returncode != 0:  # sandboxes are refused until a self-test passes: nothing to measure
            print(done.stdout + done.stderr, file=sys.stderr)
            return 1
        return _run(args, root)


# The command's own work in a process that has already started and imported: what a resident process
# asked by the command would spend per request. Prints one JSON list of wall milliseconds.
RESIDENT = """
import json, sys, time
from xblocks.cli import build_parser
from xblocks.labs.sandbox import cli
from xblocks.labs.sandbox.base import User
words = ["sandbox", "exec", "--image", sys.argv[1], "--", "true"]
backend, spec = cli._backend(), cli._spec(build_parser(only="sandbox").parse_args(words))
walls = []
for index in range(int(sys.argv[2]) + 1):
    began = time.perf_counter()
    handle = backend.create(spec)
    try:
        backend.exec(handle, 'exec "$@"', args=["true"], user=User.LEARNER, timeout=60, stdin=b"")
    finally:
        backend.destroy(handle)
    walls.append((time.perf_counter() - began) * 1000)
print(json.dumps(walls[1:]))
"""


def _resident(image: str, runs: int, env: dict[str, str]) -> list[float]:
    done = subprocess.run(
        [sys.executable, "-c", RESIDENT, image, str(runs)], env=env, check=True, capture_output=True, text=True
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def _run(args: argparse.Namespace, root: str) -> int:

    from xblocks.labs.sandbox import images  # pylint: disable=import-outside-toplevel

    python = sys.executable
    rootfs = str(images.find(args.image).rootfs)
    raw_bwrap = [
        "bwrap",
        "--unshare-all",
        "--ro-bind",
        rootfs,
        "/",
        "--proc",
        "/proc",
        "--dev",
        "/dev",
        "--",
        "/bin/true",
    ]
    exec_true = ["-m", "xblocks.cli", "sandbox", "exec", "--image", args.image, "--", "true"]
    with tempfile.TemporaryDirectory(prefix="kafaat-pyc-") as cache:
        trees = {"this tree": CHECKOUT}
        if args.before:
            trees["before"] = pathlib.Path(args.before).resolve()
        commands = {
            "python -c pass": ([python, "-c", "pass"], _env(CHECKOUT, cache, root)),
            "raw bwrap true": (raw_bwrap, _env(CHECKOUT, cache, root)),
            "import local backend": (
                [python, "-c", "import xblocks.labs.sandbox.local, xblocks.labs.sandbox.cli"],
                _env(CHECKOUT, cache, root),
            ),
        }
        for name, tree in trees.items():
            commands[f"sandbox exec true ({name})"] = ([python, *exec_true], _env(tree, cache + "-" + name, root))
        for command, env in commands.values():  # warm: bytecode written, image and helper ready
            _once(command, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        cpu: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (command, env) in commands.items():
                wall, used = _once(command, env)
                samples[name].append(wall)
                cpu[name].append(used)
        resident = "create + exec + destroy in a started process"
        samples[resident] = _resident(args.image, args.runs, _env(CHECKOUT, cache, root))
        cpu[resident] = [float("nan")] * len(samples[resident])

    base = report.summary(samples["python -c pass"])
    floor = base["p50"] + report.summary(samples["raw bwrap true"])["p50"]
    cpu_base = report.summary(cpu["python -c pass"])
    rows, figures = [], {}
    for name, values in samples.items():
        summary = report.summary(values)
        used = report.summary(cpu[name])
        figures[name] = {**summary, "cpu": used}
        rows.append(
            {
                "command": name,
                "n": summary["n"],
                "p50 ms": summary["p50"],
                "p95 ms": summary["p95"],
                "p50 × python": report.ratio(summary["p50"], base["p50"]),
                "p95 × python": report.ratio(summary["p95"], base["p95"]),
                "p50 × floor": report.ratio(summary["p50"], floor),
                "CPU p50 ms": used["p50"],
                "CPU × python": report.ratio(used["p50"], cpu_base["p50"]),
                "target p95": TARGET_P95_MS if name.startswith("sandbox exec true (this") else "",
            }
        )
    report.print_table(
        "kafaat sandbox exec -- true, fresh process each (ms)",
        rows,
        [
            "command",
            "n",
            "p50 ms",
            "p95 ms",
            "p50 × python",
            "p95 × python",
            "p50 × floor",
            "CPU p50 ms",
            "CPU × python",
            "target p95",
        ],
    )
    report.save(
        "cli",
        {
            "runs": args.runs,
            "figures": figures,
            "floor_p50": floor,
            "before": args.before or "",
            "own_root": bool(root),
        },
    )
    return 0
