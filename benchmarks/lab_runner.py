"""``python -m benchmarks lab_runner``: the cost of lab definitions and of the runner over the bare sandbox engine.

Figures, each with a baseline measured in the same run:

- parsing and validating each sample lab (``parse_lab``) against the hardened XML parse alone
  (``xblocks.core.xml.parse`` of the same text): what validation and dataclass building add;
  ``serialize_lab`` and ``render`` against the same baseline; peak Python memory of one parse;
- provisioning each sample lab (``runner.provision`` then destroy: create, files placed from inside,
  setup scripts) against a bare ``backend.create`` plus destroy of the same image;
- one check run (``runner.run_check``) against a bare ``backend.exec("true")`` as the same user.

Needs root, bubblewrap and the built images for the sandbox figures (``--no-sandbox`` skips them).
"""

from __future__ import annotations

import argparse
import pathlib
import time
import tracemalloc
import uuid

from benchmarks import report

ROOT = pathlib.Path(__file__).resolve().parent.parent


def _ensure_settings() -> None:
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    if not settings.configured:
        settings.configure(USE_I18N=False, INSTALLED_APPS=[], KAFAAT={})
        import django  # pylint: disable=import-outside-toplevel

        django.setup()


def _timed(function, runs: int) -> list[float]:
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        function()
        samples.append(time.perf_counter() - started)
    return samples


def _row(name: str, samples: list[float], baseline: list[float], unit: float, label: str) -> dict:
    figures, base = report.summary(samples), report.summary(baseline)
    return {
        "measure": name,
        f"p50 {label}": figures["p50"] * unit,
        f"p95 {label}": figures["p95"] * unit,
        "per second": 1 / figures["p50"] if figures["p50"] else float("nan"),
        "x baseline p50": report.ratio(figures["p50"], base["p50"]),
        "x baseline p95": report.ratio(figures["p95"], base["p95"]),
    }


def definition_figures(runs: int) -> tuple[list[dict], dict]:
    # pylint: disable=import-outside-toplevel
    from xblocks.core.xml import parse
    from xblocks.labs.definition import generate_params, parse_lab, render, serialize_lab

    rows, figures = [], {}
    for path in sorted((ROOT / "course_content" / "kafaat_lab").glob("*.xml")):
        text = path.read_text(encoding="utf-8")
        definition = parse_lab(text)
        values = generate_params(definition, b"benchmark")
        # every timed callable runs before the loop moves on; default arguments only silence B023
        baseline = _timed(lambda text=text: parse(text), runs)
        measured = {
            "parse_lab": _timed(lambda text=text: parse_lab(text), runs),
            "serialize_lab": _timed(lambda definition=definition: serialize_lab(definition), runs),
            "render": _timed(lambda definition=definition, values=values: render(definition, values), runs),
        }
        tracemalloc.start()
        parse_lab(text)
        _current, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
        rows.append({**_row(f"{path.stem}: xml.parse (baseline)", baseline, baseline, 1e6, "µs")})
        for name, samples in measured.items():
            rows.append(_row(f"{path.stem}: {name}", samples, baseline, 1e6, "µs"))
        figures[path.stem] = {
            "bytes": len(text.encode()),
            "baseline_xml_parse": report.summary(baseline),
            **{name: report.summary(samples) for name, samples in measured.items()},
            "parse_peak_python_bytes": peak,
        }
        rows[-3]["peak KiB"] = peak / 1024
    return rows, figures


def sandbox_figures(runs: int) -> tuple[list[dict], dict]:
    # pylint: disable=import-outside-toplevel
    from xblocks.labs import runner
    from xblocks.labs.definition import Check, generate_params, parse_lab, render
    from xblocks.labs.sandbox.base import get_backend

    backend = get_backend()
    rows, figures = [], {}
    labs = [
        parse_lab(path.read_text(encoding="utf-8"))
        for path in sorted((ROOT / "course_content" / "kafaat_lab").glob("*.xml"))
    ]
    for lab in labs:
        rendered = render(lab, generate_params(lab, b"benchmark"))
        spec = rendered.sandbox_spec("bench-bare")

        def bare(spec=spec):
            backend.destroy(backend.create(spec))

        def provisioned(rendered=rendered):
            backend.destroy(runner.provision(backend, rendered, label=f"bench-{uuid.uuid4().hex[:8]}"))

        bare()  # warm the image cache and page cache before either series
        baseline = _timed(bare, runs)
        samples = _timed(provisioned, runs)
        name = lab.display_name.split(":")[0]
        rows.append(_row(f"create+destroy {rendered.image} (baseline)", baseline, baseline, 1e3, "ms"))
        rows.append(
            _row(
                f"provision+destroy {name} ({len(rendered.files)} files, {len(rendered.setup)} setup)",
                samples,
                baseline,
                1e3,
                "ms",
            )
        )
        figures[name] = {
            "baseline_create_destroy": report.summary(baseline),
            "provision_destroy": report.summary(samples),
        }
    handle = backend.create(labs[0].sandbox_spec("bench-checks"))
    try:
        check = Check(
            id="bench", points=1, timeout=10, user="learner", script='test -d "$HOME" && echo "home is there"'
        )
        baseline = _timed(lambda: backend.exec(handle, "true", user="learner", timeout=10), runs * 4)
        samples = _timed(lambda: runner.run_check(backend, handle, check), runs * 4)
    finally:
        backend.destroy(handle)
    rows.append(_row("backend.exec true (baseline)", baseline, baseline, 1e3, "ms"))
    rows.append(_row("runner.run_check", samples, baseline, 1e3, "ms"))
    figures["check"] = {"baseline_exec_true": report.summary(baseline), "run_check": report.summary(samples)}
    return rows, figures


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks lab_runner", description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=300, help="repetitions of each definition figure (default 300)")
    parser.add_argument("--sandbox-runs", type=int, default=8, help="repetitions of each sandbox figure (default 8)")
    parser.add_argument("--no-sandbox", action="store_true", help="only the definition figures")
    args = parser.parse_args(argv)
    _ensure_settings()
    rows, figures = definition_figures(args.runs)
    columns = ["measure", "p50 µs", "p95 µs", "per second", "x baseline p50", "x baseline p95", "peak KiB"]
    report.print_table(
        f"Lab definitions ({args.runs} runs each; baseline: hardened XML parse of the same text)", rows, columns
    )
    result = {"definitions": figures}
    if not args.no_sandbox:
        rows, sandbox = sandbox_figures(args.sandbox_runs)
        columns = ["measure", "p50 ms", "p95 ms", "per second", "x baseline p50", "x baseline p95"]
        report.print_table(
            f"Runner over the sandbox engine ({args.sandbox_runs} runs; check figures x4)", rows, columns
        )
        result["sandbox"] = sandbox
    report.save("lab_runner", result)
    return 0
