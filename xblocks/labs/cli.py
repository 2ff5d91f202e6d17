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
    validate.add_argument(
        "--strict", action="store_true", help="fail on warnings too (a missing translation, an undefined feedback key)"
    )
    validate.set_defaults(func=validate_command)

    test = sub.add_parser("test", help="boot each lab, assert checks fail fresh and pass after each step's solve")
    test.add_argument("paths", nargs="+", metavar="PATH", help="an .xml file or a folder searched for *.xml")
    test.add_argument("--jobs", "-j", type=int, default=1, metavar="N", help="labs tested at the same time (default 1)")
    test.add_argument("--keep", action="store_true", help="leave each sandbox running after its test (prints its id)")
    test.add_argument("--junit", metavar="FILE", help="also write the results as JUnit XML (for CI test reports)")
    test.add_argument("--seed", metavar="HEX", help="parameter seed in hex, to reproduce a run (default: random)")
    test.add_argument(
        "--draws",
        type=int,
        default=1,
        metavar="N",
        help="test each lab with <param>s under N parameter draws, to find values its checks or solves do not "
        "survive (default 1; each failing draw prints the --seed that reproduces it)",
    )
    test.add_argument("--backend", metavar="NAME", help="sandbox backend (default: the configured one)")
    test.add_argument(
        "--record",
        metavar="FILE",
        help="also record each lab's result and times in this JSON file (what `kafaat lab catalogue` shows)",
    )
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
    catalogue = sub.add_parser(
        "catalogue", help="list every lab: key, domain, machines, duration, points, languages, last harness result"
    )
    catalogue.add_argument("paths", nargs="+", metavar="PATH", help="an .xml file or a folder searched for *.xml")
    catalogue.add_argument("--results", metavar="FILE", help="the file `kafaat lab test --record` wrote")
    catalogue.add_argument("--json", action="store_true", help="print JSON instead of a table")
    catalogue.set_defaults(func=catalogue_command)


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
    # pylint: disable-next=import-outside-toplevel
    from xblocks.labs.definition import LabDefinitionError, languages, parse_lab_with_warnings

    sources = find_labs(args.paths)
    if not sources:
        print("kafaat lab validate: no <kafaat_lab> found in " + " ".join(args.paths), file=sys.stderr)
        return 1
    failed = warned = 0
    keys: dict[str, str] = {}
    for item in sources:
        if item.error:
            failed += 1
            print(f"{item.where}: {item.error}")
            continue
        try:
            lab, warnings = parse_lab_with_warnings(item.source)
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
            + f", languages {' '.join(languages(lab))}"
            + (f", domain {lab.domain}" if lab.domain else "")
        )
        for problem in warnings:
            print(f"{item.path}:{problem.line or item.line}: warning: {problem.message}")
        if warnings:
            warned += 1
            if getattr(args, "strict", False):
                failed += 1
        if not lab.lab_key:
            print(
                f"{item.where}: warning: no lab_key attribute; tracks can only name this lab by its url_name, "
                "which Studio sets at random for new blocks"
            )
    print(
        f"{len(sources)} lab{'s' if len(sources) != 1 else ''} checked, {failed} with errors, {warned} with warnings",
        file=sys.stderr,
    )
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
    lab_key: str = ""
    start_seconds: float | None = None  # provisioning: what a learner waits for after Start
    check_seconds: float = 0.0  # every check run of the test, added up

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


def test_jobs(sources: list[LabSource], seed: bytes, draws: int) -> list[tuple[LabSource, bytes, str]]:
    """(lab, seed, label) for each run: labs with parameters once per draw, the others once.

    The first draw uses the run's seed itself and the others seeds derived from it, so a whole run
    reproduces from its seed and one failing draw from the seed its label names.
    """
    import hashlib  # pylint: disable=import-outside-toplevel

    from xblocks.labs.definition import LabDefinitionError, parse_lab  # pylint: disable=import-outside-toplevel

    jobs = []
    for item in sources:
        try:
            has_params = draws > 1 and not item.error and bool(parse_lab(item.source).params)
        except LabDefinitionError:
            has_params = False  # test_lab reports the invalid definition once
        if not has_params:
            jobs.append((item, seed, ""))
            continue
        for draw in range(draws):
            one = seed if draw == 0 else hashlib.sha256(seed + draw.to_bytes(4, "big")).digest()[:16]
            jobs.append((item, one, f"draw {draw + 1}/{draws}, --seed {one.hex()}"))
    return jobs


def test_lab(item: LabSource, backend, seed: bytes, keep: bool, progress: Progress) -> LabReport:
    """Boot one lab and walk its steps in order; every expectation becomes a line of the report."""
    # pylint: disable=import-outside-toplevel
    from xblocks.labs import runner
    from xblocks.labs.definition import LabDefinitionError, generate_params, languages, parse_lab, render
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
    report.lab_key = lab_key_of(item, lab)
    values = generate_params(lab, seed)
    rendered = render(lab, values)
    if values:
        report.add(True, "params " + ", ".join(f"{name}={value}" for name, value in values.items()))
    for code in languages(rendered):
        count, problems = language_problems(rendered, code)
        report.add(
            not problems,
            f"language {code}: {_count(count, 'text')} render" + ("" if not problems else f", {len(problems)} do not"),
            detail="\n".join(problems),
        )
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
    report.start_seconds = time.monotonic() - clock
    provisioned = f"provision ({len(rendered.files)} files, {len(rendered.setup)} setup scripts)"
    report.add(True, provisioned, report.start_seconds)
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
            _test_step(report, backend, handle, step, runner, rendered)
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


def language_problems(definition, code: str) -> tuple[int, list[str]]:
    """How many texts the lab shows in ``code``, and what is wrong with them: each is rendered as the page
    renders it (Markdown, sanitised), and must not come out empty or keep a parameter reference."""
    # pylint: disable=import-outside-toplevel
    from xblocks.core.html import render_markdown
    from xblocks.labs.definition import localise
    from xblocks.labs.definition.languages import feedback_for

    shown = localise(definition, code)
    texts = [("the title", shown.display_name), ("the intro", shown.intro), ("the finish page", shown.finish)]
    for step in shown.steps:
        texts += [(f"step {step.id}: the title", step.title), (f"step {step.id}: the instructions", step.instructions)]
        texts += [(f"step {step.id}: hint {n}", hint.text) for n, hint in enumerate(step.hints, 1)]
        for key in dict.fromkeys(item.key for item in step.feedback):
            texts.append((f"step {step.id}: feedback {key}", feedback_for(definition, step.id, key, code) or ""))
    for key in dict.fromkeys(item.key for item in definition.feedback):
        texts.append((f"feedback {key}", feedback_for(definition, None, key, code) or ""))
    problems, count = [], 0
    for what, text in texts:
        if not text.strip():  # a lab may have no intro, a step no instructions
            continue
        count += 1
        try:
            html = render_markdown(text)
        except Exception as error:  # pylint: disable=broad-except
            problems.append(f"{what}: does not render ({type(error).__name__}: {error})")
            continue
        if not html.strip():
            problems.append(f"{what}: renders empty")
        if "{{" in text and "lab.param" in text:
            problems.append(f"{what}: keeps a parameter reference")
    return count, problems


def _feedback_keys_line(report: LabReport, prefix: str, definition, step, check, output: str) -> None:
    """A check that printed ``kafaat-feedback`` keys: each must have a text, in every language of the lab."""
    # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import FEEDBACK_LINE, languages
    from xblocks.labs.definition.languages import feedback_for

    keys = [m.group(1) for line in output.split("\n") if (m := FEEDBACK_LINE.match(line))]
    if not keys or definition is None:
        return
    missing = [
        f"{key} ({code})"
        for key in dict.fromkeys(keys)
        for code in languages(definition)
        if feedback_for(definition, step.id, key, code) is None
    ]
    report.add(
        not missing,
        f"{prefix} check {check.id}: feedback keys {', '.join(dict.fromkeys(keys))}"
        + (" have a text in every language" if not missing else " lack a <feedback>"),
        detail=", ".join(missing),
    )


def _test_step(report: LabReport, backend, handle, step, runner, definition=None) -> None:
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
        report.check_seconds += outcome.duration
        _feedback_keys_line(report, f"{prefix} fresh", definition, step, check, outcome.feedback)
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
        report.check_seconds += outcome.duration
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
    if args.draws < 1:
        print("kafaat lab test: --draws must be 1 or more", file=sys.stderr)
        return 2
    try:
        backend = get_backend(args.backend)
    except (SandboxError, ImportError) as error:
        print(f"kafaat lab test: no sandbox backend: {error}", file=sys.stderr)
        return 1
    jobs = test_jobs(sources, seed, args.draws)
    print(
        f"testing {len(sources)} lab{'s' if len(sources) != 1 else ''} with seed {seed.hex()} on {backend.name}"
        + (f", {_count(len(jobs), 'run')} for {args.draws} parameter draws" if args.draws > 1 else ""),
        file=sys.stderr,
    )
    progress = Progress(len(jobs))
    started = time.monotonic()

    def one(job: tuple[LabSource, bytes, str]) -> LabReport:
        item, draw_seed, label = job
        try:
            report = test_lab(item, backend, draw_seed, args.keep, progress)
        except Exception as error:  # one broken lab must not hide the others
            report = LabReport(where=item.where)
            report.add(False, "unexpected error", detail=f"{type(error).__name__}: {error}")
        if label:
            report.where = f"{report.where} [{label}]"
        progress.finish(report)
        return report

    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        reports = list(pool.map(one, jobs))
    failed = [report for report in reports if not report.ok]
    if args.junit:
        pathlib.Path(args.junit).write_bytes(junit_xml(reports))
    if getattr(args, "record", None):
        record_results(pathlib.Path(args.record), reports, backend.name)
    print(
        f"{_count(len(reports), 'lab')}: {len(reports) - len(failed)} passed, {len(failed)} failed "
        f"in {time.monotonic() - started:.1f}s (seed {seed.hex()})"
    )
    return 1 if failed else 0


# ---------------------------------------------------------------------------------------------------
# recorded results and the catalogue


def record_results(path: pathlib.Path, reports: list[LabReport], backend: str) -> None:
    """Merge this run's results into ``path`` (lab key -> last result): labs not tested keep theirs."""
    import datetime  # pylint: disable=import-outside-toplevel
    import json  # pylint: disable=import-outside-toplevel

    try:
        recorded = json.loads(path.read_text(encoding="utf-8"))
        if not isinstance(recorded, dict):
            recorded = {}
    except (OSError, ValueError):
        recorded = {}
    now = datetime.datetime.now(datetime.UTC).replace(microsecond=0).isoformat()
    for report in reports:
        key = report.lab_key or report.where
        recorded[key] = {
            "passed": report.ok,
            "at": now,
            "backend": backend,
            "seconds": round(report.seconds, 2),
            "start_seconds": None if report.start_seconds is None else round(report.start_seconds, 2),
            "check_seconds": round(report.check_seconds, 2),
            "where": report.where,
        }
    path.write_text(json.dumps(recorded, indent=2, sort_keys=True) + "\n", encoding="utf-8")


def catalogue_command(args: argparse.Namespace) -> int:
    _ensure_settings()
    import json  # pylint: disable=import-outside-toplevel

    from xblocks.labs.catalog import lab_catalogue, read_results  # pylint: disable=import-outside-toplevel

    entries = lab_catalogue(args.paths, results=read_results(args.results) if args.results else None)
    if not entries:
        print("kafaat lab catalogue: no <kafaat_lab> found in " + " ".join(args.paths), file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps([entry.as_json() for entry in entries], indent=2, ensure_ascii=False))
        return 1 if any(entry.error for entry in entries) else 0
    header = ("LAB KEY", "DOMAIN", "MACHINES", "DURATION", "POINTS", "LANGUAGES", "LAST TEST", "TITLE")
    rows = [header]
    for entry in entries:
        if entry.error:
            rows.append((entry.lab_key or "?", "-", "-", "-", "-", "-", "-", f"INVALID ({entry.where})"))
            continue
        rows.append(
            (
                entry.lab_key or "(none)",
                entry.domain or "-",
                f"{len(entry.machines)} ({', '.join(entry.machines)})",
                f"{entry.time_limit // 60} min",
                str(entry.max_score),
                " ".join(entry.languages),
                entry.result_summary,
                entry.display_name,
            )
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(header) - 1)]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=False)) + "  " + row[-1])
    return 1 if any(entry.error for entry in entries) else 0
