"""``kafaat cert export|deliver|resend``: exports and deliveries from a terminal, with a progress display.

The ``kafaat_export`` management command shares the export arguments and runner below. The export
runs as a named user (``--user``): the file holds exactly what that coordinator may see and only
learners who consented to the employer, as in the staff page.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from typing import IO

from xblocks.certification.exports.data import ExportFormat
from xblocks.core import bootstrap


class ProgressDisplay:
    """``rows done / total`` on stderr: one updating line on a terminal, a line per 10% otherwise."""

    def __init__(self, stream: IO[str], *, quiet: bool = False, min_interval: float = 0.2):
        self.stream = stream
        self.quiet = quiet
        self.tty = hasattr(stream, "isatty") and stream.isatty()
        self.min_interval = min_interval
        self._last = 0.0
        self._last_decile = -1

    def __call__(self, done: int, total: int) -> None:
        if self.quiet:
            return
        percent = 100 if not total else min(100, int(100 * done / total))
        if self.tty:
            now = time.monotonic()
            if now - self._last < self.min_interval and done < total:
                return
            self._last = now
            bar = "#" * (percent // 4)
            self.stream.write(f"\r[{bar:<25}] {percent:3d}%  {done}/{total} records")
            if done >= total:
                self.stream.write("\n")
        else:
            decile = percent // 10
            if decile == self._last_decile:
                return
            self._last_decile = decile
            self.stream.write(f"{percent}% {done}/{total} records\n")
        self.stream.flush()


def add_export_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--format", required=True, choices=[f.value for f in ExportFormat], help="file format")
    parser.add_argument(
        "--preset",
        default="kafaat",
        help="column preset for csv, xlsx and jsonl (kafaat, successfactors, cornerstone, workday or a saved one)",
    )
    parser.add_argument(
        "--cohort", action="append", type=int, default=[], metavar="ID", help="only this cohort (repeatable)"
    )
    parser.add_argument("--employer", default=None, help="employer slug (default: the only employer)")
    parser.add_argument("--status", action="append", default=[], help="only certificates in this status (repeatable)")
    parser.add_argument(
        "--modified-since",
        type=_timestamp,
        default=None,
        metavar="WHEN",
        help="delta: only certificates issued or changed at or after this ISO 8601 time (UTC if no offset)",
    )
    parser.add_argument("--user", required=True, help="export as this coordinator (username): their scope applies")
    parser.add_argument("--out", default="-", help="output file ('-' for standard output)")
    parser.add_argument("--quiet", action="store_true", help="no progress display")
    parser.add_argument(
        "--dry-run", action="store_true", help="write nothing; count the records and list empty key cells"
    )


def _timestamp(text: str):
    import datetime as dt  # pylint: disable=import-outside-toplevel

    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 date or time: {text!r}") from error
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def run_export(args: argparse.Namespace, stdout: IO[bytes], stderr: IO[str]) -> int:
    """Run an export from parsed arguments; returns the exit status."""
    from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel
    from django.core.exceptions import PermissionDenied  # pylint: disable=import-outside-toplevel

    from xblocks.certification.exports import api, presets  # pylint: disable=import-outside-toplevel

    user = get_user_model().objects.filter(username=args.user).first()
    if user is None:
        stderr.write(f"no user {args.user!r}\n")
        return 2
    if getattr(args, "dry_run", False):
        return _dry_run(args, user, stderr)
    display = ProgressDisplay(stderr, quiet=args.quiet)
    target = None if args.out == "-" else args.out
    partial = f"{target}.part" if target else None
    try:
        if partial:
            with open(partial, "wb") as handle:
                summary = api.write_export(
                    user,
                    handle,
                    format=args.format,
                    preset=args.preset,
                    employer=args.employer,
                    cohort_ids=args.cohort,
                    statuses=args.status,
                    modified_since=getattr(args, "modified_since", None),
                    progress=display,
                )
            os.replace(partial, target)
        else:
            summary = api.write_export(
                user,
                stdout,
                format=args.format,
                preset=args.preset,
                employer=args.employer,
                cohort_ids=args.cohort,
                statuses=args.status,
                modified_since=getattr(args, "modified_since", None),
                progress=display,
            )
            stdout.flush()
    except BrokenPipeError:
        # the reader went away (``| head``): stop quietly, as Unix tools do, and keep Python's own
        # flush of standard output at exit from raising again
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    except PermissionDenied as error:
        stderr.write(f"refused: {error}\n")
        return 3
    except (LookupError, ValueError, presets.PresetError) as error:
        stderr.write(f"error: {error}\n")
        return 2
    finally:
        if partial and os.path.exists(partial):
            os.unlink(partial)
    if not args.quiet:
        where = target or "standard output"
        stderr.write(f"{summary.rows} records, {summary.bytes} bytes ({summary.format}) written to {where}\n")
    return 0


def _dry_run(args: argparse.Namespace, user, stderr: IO[str]) -> int:
    from django.core.exceptions import PermissionDenied  # pylint: disable=import-outside-toplevel

    from xblocks.certification.exports import api, presets  # pylint: disable=import-outside-toplevel

    try:
        report = api.validate_export(
            user, preset=args.preset, employer=args.employer, cohort_ids=args.cohort, statuses=args.status
        )
    except PermissionDenied as error:
        stderr.write(f"refused: {error}\n")
        return 3
    except (LookupError, ValueError, presets.PresetError) as error:
        stderr.write(f"error: {error}\n")
        return 2
    for problem in report.problems:
        stderr.write(f"{problem.certificate_number}: {problem.header}: {problem.reason}\n")
    stderr.write(f"{report.rows} records for preset {report.preset}, {len(report.problems)} problem(s)\n")
    return 0 if report.ok else 1


def register(subparsers) -> None:
    """Add ``export``, ``deliver`` and ``resend`` to the ``kafaat cert`` sub-parsers."""
    export = subparsers.add_parser("export", help="export certification records for an employer's HR system")
    add_export_arguments(export)
    export.set_defaults(func=_export)

    deliver = subparsers.add_parser("deliver", help="deliver records to an HR endpoint now, or retry what is due")
    deliver.add_argument("endpoint", nargs="?", type=int, help="endpoint id (default: only send due retries)")
    deliver.set_defaults(func=_deliver)

    resend = subparsers.add_parser("resend", help="queue failed records of an endpoint again (same idempotency keys)")
    resend.add_argument("endpoint", type=int)
    resend.add_argument("--all", action="store_true", help="also records already delivered")
    resend.set_defaults(func=_resend)


def _setup() -> None:
    bootstrap.setup_django()


def _export(args: argparse.Namespace) -> int:
    _setup()
    return run_export(args, sys.stdout.buffer, sys.stderr)


def _deliver(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification.exports import api  # pylint: disable=import-outside-toplevel

    if args.endpoint is None:
        counts = api.send_due()
        print(", ".join(f"{k}: {v}" for k, v in counts.items()))
        return 0
    run = api.deliver_endpoint(args.endpoint)
    print(
        f"queued {run.queued}, sent {run.sent}, delivered {run.delivered}, failed {run.failed}, withheld {run.withheld}"
    )
    return 0 if not run.failed else 1


def _resend(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification.exports import api  # pylint: disable=import-outside-toplevel

    statuses = ("failed", "delivered") if args.all else ("failed",)
    count = api.resend(endpoint_id=args.endpoint, statuses=statuses)
    print(f"{count} record(s) queued again")
    return 0
