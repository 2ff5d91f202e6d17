"""``kafaat lab validate|test``: check lab OLX and prove each lab headless (fresh fails, solve passes).

Runs without Django settings (a minimal configuration is made when none is given), so an author
can test labs on any lab host or in CI: ``kafaat lab test course_content --jobs 2``.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from lxml import etree

from xblocks.labs.catalog import LabSource, find_labs, lab_key_of  # noqa: F401  (LabSource: re-exported)


def register(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the ``lab`` sub-commands to the ``kafaat`` parser (called by ``xblocks.cli``)."""
    sub = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
    sub.required = True

    validate = sub.add_parser("validate", help="check every <kafaat_lab> in files or folders of OLX")
    validate.add_argument("paths", nargs="+", metavar="PATH", help="an .xml file or a folder searched for *.xml")
    validate.set_defaults(func=validate_command)

    test = sub.add_parser("test", help="boot each lab, assert checks fail fresh and pass after each step's solve")
    test.add_argument("paths", nargs="+", metavar="PATH", help="an .xml file or a folder searched for *.xml")
    test.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="labs tested at the same time (default 1)")
    test.add_argument("--keep", action="store_true", help="leave each sandbox running after its test (prints its id)")
    test.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML (for CI test reports)")
    test.add_argument("--seed", metavar="HEX", help="parameter seed in hex, to reproduce a run (default: random)")
    test.add_argument("--backend", metavar="NAME", help="sandbox backend (default: the configured one)")
    test.set_defaults(func=test_command)

    importer = sub.add_parser("import", help="turn labs written for another platform into <kafaat_lab> OLX")
    formats = importer.add_subparsers(dest=f"{name}_import_format", metavar="FORMAT")
    formats.required = True
    killercoda = formats.add_parser(
        "killercoda", help="a Killercoda or Katacoda scenario folder, or a folder of them (one lab each, as a course)"
    )
    killercoda.add_argument("path", metavar="PATH", help="a scenario folder (with index.json) or a folder of scenarios")
    killercoda.add_argument("--out", metavar="FILE", help="write the OLX here (default: standard output)")
    killercoda.add_argument(
        "--machine-image", metavar="NAME", help="the Kafaat image for the scenarios' machine (default: base)"
    )
    killercoda.add_argument("--report", metavar="FILE", help="also write what was imported and dropped as JSON")
    killercoda.set_defaults(func=import_killercoda_command)


# ---------------------------------------------------------------------------------------------------
# Finding labs


def _ensure_settings() -> None:
    """Use the project's Django settings when named, else a minimal configuration (no database).

    Validation messages follow the author's locale (``LANGUAGE``, ``LC_ALL``, ``LANG``) when Kafaat
    ships a catalog for it, as they would in Studio.
    """
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    if settings.configured:
        return
    import django  # pylint: disable=import-outside-toplevel
    from django.utils import translation  # pylint: disable=import-outside-toplevel

    from xblocks.core.i18n import LOCALE_DIRS  # pylint: disable=import-outside-toplevel

    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        # No app is installed in this minimal configuration, so the apps' catalogs are named here.
        settings.configure(
            USE_I18N=True, LANGUAGE_CODE="en", LOCALE_PATHS=[str(d) for d in LOCALE_DIRS], INSTALLED_APPS=[], KAFAAT={}
        )
    django.setup()
    translation.activate(_author_language())


def _author_language() -> str:
    for name in ("LANGUAGE", "LC_ALL", "LC_MESSAGES", "LANG"):
        value = os.environ.get(name, "").split(":")[0].split(".")[0].split("_")[0].lower()
        if value and value not in ("c", "posix"):
            return value
    return "en"


def _count(number: int, noun: str) -> str:
    return f"{number} {noun}{'' if number == 1 else 's'}"


# ---------------------------------------------------------------------------------------------------
# validate


def validate_command(args: argparse.Namespace) -> int:
    _ensure_settings()
    from xblocks.labs.definition import LabDefinitionError, parse_lab  # pylint: disable=import-outside-toplevel

    sources = find_labs(args.paths)
    if not sources:
        print("kafaat lab validate: no <kafaat_lab> found in " + " ".join(args.paths), file=sys.stderr)
        return 1
    failed = 0
    keys: dict[str, str] = {}
    for item in sources:
        if item.error:
            failed += 1
            print(f"{item.where}: {item.error}")
            continue
        try:
            lab = parse_lab(item.source)
        except LabDefinitionError as error:
            failed += 1
            for problem in error.errors:
                print(f"{item.path}:{problem.line or item.line}: {problem.message}")
            continue
        key = lab_key_of(item, lab)
        if key and key in keys:
            failed += 1
            print(f"{item.where}: lab key {key!r} is already used by the lab at {keys[key]}; each lab needs its own")
            continue
        keys[key] = item.where
        steps = len(lab.steps)
        print(
            f"{item.where}: ok: {lab.display_name!r}, lab key {key or '(none)'}, {_count(steps, 'step')}, "
            f"{_count(lab.max_score, 'point')}, "
            + (
                "machines " + ", ".join(f"{m.name} ({m.image})" for m in lab.machines)
                if lab.machines
                else f"image {lab.image}"
            )
        )
        if not lab.lab_key:
            print(
                f"{item.where}: warning: no lab_key attribute; tracks can only name this lab by its url_name, "
                "which Studio sets at random for new blocks"
            )
    print(f"{len(sources)} lab{'s' if len(sources) != 1 else ''} checked, {failed} with errors", file=sys.stderr)
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------------
# import


def import_killercoda_command(args: argparse.Namespace) -> int:
    """Import scenarios; the OLX to --out or standard output, the report to standard error (and --report).

    Exit 0 when every scenario became a lab, 1 when one was refused (the others are still written), 2
    for a usage problem.
    """
    _ensure_settings()
    # pylint: disable=import-outside-toplevel
    import json

    from xblocks.core.i18n import gettext as _
    from xblocks.core.i18n import ngettext
    from xblocks.core.xml import MAX_XML_BYTES
    from xblocks.labs.definition import known_images
    from xblocks.labs.importing.killercoda import import_path

    if args.machine_image:
        images = known_images()
        if images is not None and args.machine_image not in images:
            print(
                _("kafaat lab import: unknown image %(image)s; known images: %(known)s")
                % {"image": args.machine_image, "known": ", ".join(sorted(images))},
                file=sys.stderr,
            )
            return 2
    result = import_path(args.path, machine_image=args.machine_image)
    for lab in result.labs:
        print(
            _("imported %(folder)s as lab %(key)s (%(title)r)")
            % {"folder": lab.folder, "key": lab.lab_key, "title": lab.title},
            file=sys.stderr,
        )
        for note in lab.notes:
            print(
                "  " + _("dropped: %(item)s: %(reason)s") % {"item": note.item, "reason": note.reason}, file=sys.stderr
            )
    for refused in result.refused:
        print(_("refused %(folder)s:") % {"folder": refused.folder}, file=sys.stderr)
        for reason in refused.reasons:
            print("  " + reason, file=sys.stderr)
    if args.report:
        pathlib.Path(args.report).write_text(json.dumps(result.as_dict(), indent=2, ensure_ascii=False) + "\n", "utf-8")
    if result.course and len(result.olx.encode("utf-8")) > MAX_XML_BYTES:
        print(
            _(
                "warning: the course file is %(size)d bytes and kafaat lab validate reads files of at most "
                "%(cap)d: import the scenarios one by one (each lab is within that limit)."
            )
            % {"size": len(result.olx.encode("utf-8")), "cap": MAX_XML_BYTES},
            file=sys.stderr,
        )
    if result.labs:
        if args.out:
            pathlib.Path(args.out).write_text(result.olx, "utf-8")
        else:
            sys.stdout.write(result.olx)
    dropped = sum(len(lab.notes) for lab in result.labs)
    print(
        ngettext("%(count)d lab imported", "%(count)d labs imported", len(result.labs)) % {"count": len(result.labs)}
        + ", "
        + ngettext("%(count)d refused", "%(count)d refused", len(result.refused)) % {"count": len(result.refused)}
        + ", "
        + ngettext("%(count)d thing dropped", "%(count)d things dropped", dropped) % {"count": dropped},
        file=sys.stderr,
    )
    return 1 if result.refused else 0


# ---------------------------------------------------------------------------------------------------
# test


@dataclass
class Line:
    ok: bool
    text: str
    seconds: float | None = None
    detail: str = ""


@dataclass
class LabReport:
    where: str
    name: str = ""
    ok: bool = True
    seconds: float = 0.0
    lines: list[Line] = field(default_factory=list)

    def add(self, ok: bool, text: str, seconds: float | None = None, detail: str = "") -> None:
        self.lines.append(Line(ok, text, seconds, detail))
        self.ok = self.ok and ok

    def render(self) -> str:
        head = f"{'PASS' if self.ok else 'FAIL'}  {self.where}  {self.name}  ({self.seconds:.1f}s)"
        out = [head]
        for line in self.lines:
            mark = "ok  " if line.ok else "FAIL"
            timing = f"{line.seconds:6.2f}s" if line.seconds is not None else " " * 7
            out.append(f"  {mark} {timing}  {line.text}")
            for detail in line.detail.strip().splitlines()[:12]:
                out.append(f"                 | {detail}")
        return "\n".join(out)


class Progress:
    """Progress on stderr while labs run (they can take seconds each); one line per event."""

    def __init__(self, total: int):
        self.total = total
        self.done = 0
        self.lock = threading.Lock()

    def say(self, where: str, message: str) -> None:
        with self.lock:
            print(f"[{self.done}/{self.total}] {where}: {message}", file=sys.stderr, flush=True)

    def finish(self, report: LabReport) -> None:
        with self.lock:
            self.done += 1
            print(report.render(), flush=True)


def test_lab(item: LabSource, backend, seed: bytes, keep: bool, progress: Progress) -> LabReport:
    """Boot one lab and walk its steps in order; every expectation becomes a line of the report."""
    # pylint: disable=import-outside-toplevel
    from xblocks.labs import runner
    from xblocks.labs.definition import LabDefinitionError, generate_params, parse_lab, render
    from xblocks.labs.sandbox.base import SandboxError

    report = LabReport(where=item.where)
    started = time.monotonic()
    if item.error:
        report.add(False, "the file is not valid XML", detail=item.error)
        return report
    try:
        lab = parse_lab(item.source)
    except LabDefinitionError as error:
        report.add(False, "the definition is invalid (run kafaat lab validate)", detail=str(error))
        return report
    report.name = repr(lab.display_name)
    values = generate_params(lab, seed)
    rendered = render(lab, values)
    if values:
        report.add(True, "params " + ", ".join(f"{name}={value}" for name, value in values.items()))
    label = f"labtest-{uuid.uuid4().hex[:12]}"
    clock = time.monotonic()
    try:
        handle = runner.provision(
            backend, rendered, label=label, on_phase=lambda phase: progress.say(item.where, phase)
        )
    except runner.ProvisionError as error:
        report.add(False, "provision", time.monotonic() - clock, error.detail)
        report.seconds = time.monotonic() - started
        return report
    except SandboxError as error:
        report.add(False, "provision (backend error)", time.monotonic() - clock, str(error))
        report.seconds = time.monotonic() - started
        return report
    report.add(
        True, f"provision ({len(rendered.files)} files, {len(rendered.setup)} setup scripts)", time.monotonic() - clock
    )
    try:
        # A check that fails because the sandbox is broken would look like "fails as expected".
        for machine in handle.machines or ("",):
            for user in ("root", "learner"):
                probe = backend.exec(handle.machine(machine or None), "true", user=user, timeout=10)
                if not probe.ok:
                    where = f"machine {machine}" if machine else "the sandbox"
                    report.add(False, f"{where} does not run commands as {user}", probe.duration, probe.stderr)
                    return report
        if handle.machines:
            _test_network(report, backend, handle, rendered)
        for step in rendered.steps:
            progress.say(item.where, f"step {step.id}")
            _test_step(report, backend, handle, step, runner)
    except SandboxError as error:
        report.add(False, "the sandbox failed during the test", detail=str(error))
    finally:
        if keep:
            report.add(
                True, f"kept sandbox {handle.id} (label {label}); remove it with: kafaat sandbox destroy {handle.id}"
            )
        else:
            clock = time.monotonic()
            try:
                backend.destroy(handle)
                report.add(True, "destroy", time.monotonic() - clock)
            except SandboxError as error:
                report.add(False, "destroy", time.monotonic() - clock, str(error))
        report.seconds = time.monotonic() - started
    return report


NETWORK_PROBE = """for name in "$@"; do
  if ping -c1 -W1 "$name" >/dev/null 2>&1; then echo "$name=up"; else echo "$name=down"; fi
done
"""


def _test_network(report: LabReport, backend, handle, lab) -> None:
    """Every machine of a lab reaches every other by name, except across a deny rule (either way)."""
    clock = time.monotonic()
    denied = {frozenset(rule) for rule in lab.deny}
    wrong = []
    for machine in handle.machines:
        others = [name for name in handle.machines if name != machine]
        result = backend.exec(handle.machine(machine), NETWORK_PROBE, args=others, timeout=30)
        seen = dict(line.split("=", 1) for line in result.stdout.split() if "=" in line)
        for name in others:
            expected = "down" if frozenset((machine, name)) in denied else "up"
            if seen.get(name) != expected:
                wrong.append(f"{machine} -> {name}: {seen.get(name, 'no answer')} (expected {expected})")
    names = ", ".join(handle.machines)
    rules = {0: "", 1: "; its deny rule holds"}.get(len(lab.deny), f"; its {len(lab.deny)} deny rules hold")
    report.add(
        not wrong, f"network: {names} reach each other by name{rules}", time.monotonic() - clock, "\n".join(wrong)
    )


def _test_step(report: LabReport, backend, handle, step, runner) -> None:
    prefix = f"step {step.id}"
    if step.setup:  # as in a session: a step's setup runs when the learner reaches it
        clock = time.monotonic()
        try:
            runner.run_step_setup(backend, handle, step)
        except runner.ProvisionError as error:
            report.add(False, f"{prefix} setup", time.monotonic() - clock, error.detail)
            return
        report.add(True, f"{prefix} setup ({len(step.setup)} scripts)", time.monotonic() - clock)
    if not step.graded:
        if step.solve is not None:
            result = runner.run_solve(backend, handle, step)
            report.add(result.ok, f"{prefix} (reading step) solve", result.duration, "" if result.ok else result.stderr)
        else:
            report.add(True, f"{prefix}: a reading step, nothing to check")
        return
    for check in step.checks:
        outcome = runner.run_check(backend, handle, check)
        ok = not outcome.passed
        why = "" if ok else "expected the check to FAIL before the solve; it passed"
        report.add(
            ok,
            f"{prefix} fresh  check {check.id}: {'fails as expected' if ok else 'PASSED'}",
            outcome.duration,
            why + "\n" + outcome.feedback if not ok else "",
        )
    for flag in step.flags:
        accepts = runner.check_flag(flag, flag.value)
        rejects = not runner.check_flag(flag, flag.value + "x") and not runner.check_flag(flag, "")
        report.add(
            accepts and rejects,
            f"{prefix} flag {flag.id}: "
            + ("accepts its value and rejects a wrong one" if accepts and rejects else "does not compare correctly"),
        )
    if step.checks and step.solve is None:
        report.add(False, f"{prefix} has checks but no <solve>: it cannot be tested headless")
        return
    if step.solve is not None:
        result = runner.run_solve(backend, handle, step)
        detail = (
            ""
            if result.ok
            else f"exit {result.exit_code}, timed out {result.timed_out}\n{result.stderr}\n{result.stdout}"
        )
        report.add(result.ok, f"{prefix} solve", result.duration, detail)
        # The solve finds flags the way a learner would and prints them: submitting each line it
        # printed proves the planted value and the <flag> agree (a typo in either fails here).
        answers = [line.strip() for line in result.stdout.splitlines() if line.strip()]
        for flag in step.flags:
            found = any(runner.check_flag(flag, answer) for answer in answers)
            report.add(
                found,
                f"{prefix} flag {flag.id}: "
                + ("the answer the solve found is accepted" if found else "the solve printed no answer it accepts"),
                detail="" if found else "print the flag from the step's <solve>, on a line of its own",
            )
    elif step.flags:
        report.add(True, f"{prefix}: add a <solve> that prints each flag to prove it can be found (not required)")
    for check in step.checks:
        outcome = runner.run_check(backend, handle, check)
        detail = (
            ""
            if outcome.passed
            else ("timed out\n" if outcome.timed_out else f"exit {outcome.exit_code}\n") + outcome.feedback
        )
        report.add(
            outcome.passed,
            f"{prefix} solved check {check.id}: {'passes' if outcome.passed else 'FAILED after the solve'}",
            outcome.duration,
            detail,
        )


def junit_xml(reports: list[LabReport]) -> bytes:
    """JUnit XML: one suite per lab, one case per assertion, failures with their detail."""
    suites = etree.Element("testsuites", name="kafaat lab test")
    for report in reports:
        failures = sum(1 for line in report.lines if not line.ok)
        suite = etree.SubElement(
            suites,
            "testsuite",
            name=report.where,
            tests=str(len(report.lines)),
            failures=str(failures),
            time=f"{report.seconds:.3f}",
        )
        for line in report.lines:
            case = etree.SubElement(
                suite,
                "testcase",
                classname=report.where,
                name=line.text,
                time=f"{line.seconds or 0:.3f}",
            )
            if not line.ok:
                failure = etree.SubElement(case, "failure", message=line.text)
                failure.text = line.detail
    return etree.tostring(suites, xml_declaration=True, encoding="utf-8", pretty_print=True)


def test_command(args: argparse.Namespace) -> int:
    _ensure_settings()
    from xblocks.labs.sandbox.base import SandboxError, get_backend  # pylint: disable=import-outside-toplevel

    sources = find_labs(args.paths)
    if not sources:
        print("kafaat lab test: no <kafaat_lab> found in " + " ".join(args.paths), file=sys.stderr)
        return 1
    try:
        seed = bytes.fromhex(args.seed) if args.seed else os.urandom(16)
    except ValueError:
        print("kafaat lab test: --seed must be hexadecimal", file=sys.stderr)
        return 2
    try:
        backend = get_backend(args.backend)
    except (SandboxError, ImportError) as error:
        print(f"kafaat lab test: no sandbox backend: {error}", file=sys.stderr)
        return 1
    print(
        f"testing {len(sources)} lab{'s' if len(sources) != 1 else ''} with seed {seed.hex()} on {backend.name}",
        file=sys.stderr,
    )
    progress = Progress(len(sources))
    started = time.monotonic()

    def one(item: LabSource) -> LabReport:
        try:
            report = test_lab(item, backend, seed, args.keep, progress)
        except Exception as error:  # one broken lab must not hide the others
            report = LabReport(where=item.where)
            report.add(False, "unexpected error", detail=f"{type(error).__name__}: {error}")
        progress.finish(report)
        return report

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        reports = list(pool.map(one, sources))
    failed = [report for report in reports if not report.ok]
    if args.junit:
        pathlib.Path(args.junit).write_bytes(junit_xml(reports))
    print(
        f"{_count(len(reports), 'lab')}: {len(reports) - len(failed)} passed, {len(failed)} failed "
        f"in {time.monotonic() - started:.1f}s (seed {seed.hex()})"
    )
    return 1 if failed else 0
