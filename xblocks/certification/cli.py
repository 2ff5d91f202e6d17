"""The ``kafaat cert`` command group: tracks, evaluation and the audit chain, plus the sub-apps' commands.

Hook for the credentials and exports apps (they never edit this file): a module
``xblocks.certification.credentials.cli`` or ``xblocks.certification.exports.cli`` that defines
``register(subparsers)`` is imported when present and receives the ``argparse`` sub-parsers object
of ``kafaat cert``; it adds its own commands there, e.g.::

    def register(subparsers):
        cmd = subparsers.add_parser("issue-credential", help="...")
        cmd.add_argument("number")
        cmd.set_defaults(func=_issue)       # func(args) -> int exit status

A command that needs the database calls ``xblocks.core.bootstrap.setup_django()`` first, as the commands here do.
"""

from __future__ import annotations

import argparse
import importlib
import json
import sys

from xblocks.core import bootstrap

# Sub-app modules whose ``register(subparsers)`` extends this group when they exist.
EXTENSIONS = ("xblocks.certification.credentials.cli", "xblocks.certification.exports.cli")


def register(name: str, parser: argparse.ArgumentParser) -> None:
    """Add the ``cert`` commands to ``parser`` (called by ``xblocks.cli`` with ``name == "cert"``)."""
    subparsers = parser.add_subparsers(dest=f"{name}_command", metavar="COMMAND")
    subparsers.required = True

    tracks = subparsers.add_parser("tracks", help="load and list track definitions")
    tracks_sub = tracks.add_subparsers(dest="tracks_command", metavar="COMMAND")
    tracks_sub.required = True
    load = tracks_sub.add_parser("load", help="load track files (JSON) from a folder; new versions only on change")
    load.add_argument(
        "directory", nargs="?", default=None, help="folder of *.json tracks (default: course_content/tracks)"
    )
    load.add_argument("--dry-run", action="store_true", help="validate and report without writing")
    load.add_argument(
        "--labs",
        action="append",
        metavar="PATH",
        help="OLX file or folder whose labs the tracks may name (repeatable; default: the tracks folder's parent)",
    )
    load.set_defaults(func=_tracks_load)
    listing = tracks_sub.add_parser("list", help="list tracks and their current versions")
    listing.set_defaults(func=_tracks_list)

    verify = subparsers.add_parser("verify-chain", help="check the hash chain of certificate events")
    verify.add_argument("--certificate", default=None, help="only this certificate (number or id)")
    verify.set_defaults(func=_verify_chain)

    evaluate = subparsers.add_parser("evaluate", help="evaluate a learner's tracks and print the result")
    evaluate.add_argument("user", help="username or email")
    evaluate.add_argument("--track", default=None, help="only this track slug")
    evaluate.add_argument("--issue", action="store_true", help="issue the certificate when every requirement is met")
    evaluate.add_argument("--json", action="store_true", help="print JSON instead of a table")
    evaluate.set_defaults(func=_evaluate)

    for command, help_text in (
        ("revoke", "revoke a certificate for good (verifiers and HR exports see it revoked)"),
        ("suspend", "suspend a certificate until it is reinstated"),
        ("reinstate", "reinstate a suspended certificate"),
    ):
        change = subparsers.add_parser(command, help=help_text)
        change.add_argument("number", help="certificate number (e.g. KF-2026-00001)")
        change.add_argument("--reason", default="", help="why (required; kept in the certificate's audit chain)")
        change.add_argument("--by", default="", metavar="USERNAME", help="who decided (default: the system user)")
        change.set_defaults(func=_change_status, change=command)

    expire = subparsers.add_parser("expire", help="expire certificates past their validity and send due reminders")
    expire.set_defaults(func=_expire)

    heal = subparsers.add_parser(
        "heal-labs", help="repair lab evidence from the labs' recorded results (what a lost message left out)"
    )
    heal.add_argument("--days", type=float, default=None, help="look back this many days (default: the heal window)")
    heal.add_argument("--all", action="store_true", help="look at every result ever recorded")
    heal.set_defaults(func=_heal_labs)

    for module_name in EXTENSIONS:
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as error:
            if error.name != module_name:  # the module exists but one of its imports is missing
                raise
            continue
        module.register(subparsers)


def _setup() -> None:
    bootstrap.setup_django()


def _tracks_load(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification import tracks  # pylint: disable=import-outside-toplevel

    report = tracks.load_directory(args.directory, dry_run=args.dry_run, lab_paths=args.labs)
    for line in report.lines():
        print(line)
    return 1 if report.errors else 0


def _tracks_list(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    for track in api.list_tracks():
        print(f"{track.slug:32} v{track.version:<3} {track.total_hours_required:>7.1f} h  {track.title}")
    return 0


def _verify_chain(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    certificate_id = None
    if args.certificate:
        certificate = api.get_certificate(args.certificate)
        if certificate is None:
            print(f"no certificate {args.certificate!r}", file=sys.stderr)
            return 2
        certificate_id = certificate.id
    report = api.certificate_events_verified(certificate_id=certificate_id)
    for problem in report.problems:
        print(f"BROKEN event {problem.event_id} (certificate {problem.certificate_id}): {problem.reason}")
    print(f"{report.checked} events checked, {len(report.problems)} problem(s)")
    return 0 if report.ok else 1


def _evaluate(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    try:
        progress = api.evaluate_learner(args.user, track_slug=args.track, issue=args.issue)
    except LookupError as error:
        print(str(error), file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps([item.as_json() for item in progress], indent=2, default=str))
        return 0
    if not progress:
        print("no enrolments")
    for item in progress:
        state = "MET" if item.evaluation.met else "in progress"
        print(f"{item.track_title} (v{item.track_version}, cohort {item.cohort_name}): {state}")
        for result in item.evaluation.flat():
            mark = "x" if result.met else " "
            print(f"  [{mark}] {result.title}: {result.current_display} / {result.required_display}")
            if not result.met and result.missing:
                print(f"        {result.missing}")
        if item.evaluation.projected_completion:
            print(f"  projected completion: {item.evaluation.projected_completion.isoformat()}")
        if item.certificate_number:
            print(f"  certificate: {item.certificate_number} ({item.certificate_status})")
    return 0


# command -> (status it sets, the past participle printed)
_CHANGES = {
    "revoke": ("revoked", "revoked"),
    "suspend": ("suspended", "suspended"),
    "reinstate": ("active", "reinstated"),
}


def _change_status(args: argparse.Namespace) -> int:
    """``kafaat cert revoke|suspend|reinstate NUMBER --reason ...``: exit 2 for bad input, 1 when refused."""
    status, done = _CHANGES[args.change]
    reason = (args.reason or "").strip()
    if not reason:
        print(
            f"error: give the reason for this change: kafaat cert {args.change} NUMBER --reason '...'", file=sys.stderr
        )
        return 2
    _setup()
    import getpass  # pylint: disable=import-outside-toplevel

    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    certificate = api.get_certificate(args.number)
    if certificate is None:
        print(f"error: no certificate {args.number!r}", file=sys.stderr)
        return 2
    if certificate.status == "revoked" and status != "revoked":
        print(f"error: certificate {certificate.number} is revoked; a revocation is final", file=sys.stderr)
        return 1
    if args.change == "reinstate" and certificate.status != "suspended":
        print(
            f"error: certificate {certificate.number} is {certificate.status}; only a suspended one can be reinstated",
            file=sys.stderr,
        )
        return 1
    if certificate.status == status:
        print(f"error: certificate {certificate.number} is already {done}", file=sys.stderr)
        return 1
    actor = args.by or f"cli:{getpass.getuser()}"
    try:
        changed = api.set_certificate_status(certificate.id, status, reason=reason, actor=actor)
    except ValueError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(f"certificate {changed.number} {done} ({reason})")
    return 0


def _expire(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    expired = api.expire_certificates()
    reminded = api.send_expiry_reminders()
    print(f"{expired} certificate(s) expired, {reminded} reminder(s) sent")
    return 0


def _heal_labs(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification import api, tasks  # pylint: disable=import-outside-toplevel

    healed = api.heal_lab_evidence(None if args.all else tasks.since(args.days))
    print(f"{healed} lab result(s) repaired")
    return 0
