"""``python -m benchmarks cli``: what ``kafaat sandbox exec --image base -- true`` costs, and where it goes.

Each sample is a fresh process, as an operator's command is. Baselines measured in the same run,
interleaved with the measured commands so a busy machine weighs on all of them alike:

- ``python -c pass``: the interpreter's own start-up (site, the editable-install finder);
- ``import local``: the interpreter plus the imports ``sandbox exec`` needs (the backend);
- ``--before PATH``: the same command from another source tree (an older checkout, e.g. made with
  ``git archive REV xblocks | tar -x -C PATH``), for a before/after figure on one machine.

Bytecode is cached in a temporary ``PYTHONPYCACHEPREFIX`` (as an installed package has its ``.pyc``
files), so the figures do not include compiling the sources, whatever ``PYTHONDONTWRITEBYTECODE`` says.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from benchmarks import report

TARGET_P95_MS = 40.0
CHECKOUT = pathlib.Path(__file__).resolve().parents[1]


def _env(tree: pathlib.Path, cache: str) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONDONTWRITEBYTECODE"}}
    env["PYTHONPYCACHEPREFIX"] = cache
    env["PYTHONPATH"] = str(tree)
    env.pop("DJANGO_SETTINGS_MODULE", None)  # an operator's shell has none: the command needs no database
    return env


def _once(command: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, cwd=tempfile.gettempdir())
    return (time.perf_counter() - started) * 1000


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks cli")
    parser.add_argument("--runs", type=int, default=30, help="samples of each command")
    parser.add_argument("--before", metavar="PATH", help="a source tree holding xblocks/ to time too")
    parser.add_argument("--image", default="base")
    args = parser.parse_args(argv)

    python = sys.executable
    exec_true = ["-m", "xblocks.cli", "sandbox", "exec", "--image", args.image, "--", "true"]
    with tempfile.TemporaryDirectory(prefix="kafaat-pyc-") as cache:
        trees = {"this tree": CHECKOUT}
        if args.before:
            trees["before"] = pathlib.Path(args.before).resolve()
        commands = {
            "python -c pass": ([python, "-c", "pass"], _env(CHECKOUT, cache)),
            "import local backend": (
                [python, "-c", "import xblocks.labs.sandbox.local, xblocks.labs.sandbox.cli"],
                _env(CHECKOUT, cache),
            ),
        }
        for name, tree in trees.items():
            commands[f"sandbox exec true ({name})"] = ([python, *exec_true], _env(tree, cache + "-" + name))
        for command, env in commands.values():  # warm: bytecode written, image and helper ready
            _once(command, env)
        samples: dict[str, list[float]] = {name: [] for name in commands}
        for _ in range(args.runs):
            for name, (command, env) in commands.items():
                samples[name].append(_once(command, env))

    base = report.summary(samples["python -c pass"])
    rows, figures = [], {}
    for name, values in samples.items():
        summary = report.summary(values)
        figures[name] = summary
        rows.append(
            {
                "command": name,
                "n": summary["n"],
                "p50 ms": summary["p50"],
                "p95 ms": summary["p95"],
                "p50 × python": report.ratio(summary["p50"], base["p50"]),
                "p95 × python": report.ratio(summary["p95"], base["p95"]),
                "target p95": TARGET_P95_MS if name.startswith("sandbox exec true (this") else "",
            }
        )
    report.print_table(
        "kafaat sandbox exec -- true, fresh process each (ms)",
        rows,
        ["command", "n", "p50 ms", "p95 ms", "p50 × python", "p95 × python", "target p95"],
    )
    report.save("cli", {"runs": args.runs, "figures": figures, "before": args.before or ""})
    return 0
