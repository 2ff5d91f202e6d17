"""``kafaat cert`` commands for credentials: print, verify offline, PDF, key rotation, employer tokens, endorsements.

Registered by ``xblocks.certification.cli`` through ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import re
import sys

from xblocks.core import bootstrap


def register(subparsers) -> None:
    credential = subparsers.add_parser("credential", help="print a certificate's signed Open Badges 3.0 credential")
    credential.add_argument("number", help="certificate number (or id)")
    credential.add_argument("--jwt", action="store_true", help="print the VC-JWT form instead of JSON")
    credential.set_defaults(func=_credential)

    verify = subparsers.add_parser(
        "verify", help="verify a credential file (JSON or VC-JWT) offline: proof, dates, status when reachable"
    )
    verify.add_argument("file", help="credential file, or - for standard input")
    verify.add_argument("--no-status", action="store_true", help="skip the revocation and suspension lists")
    verify.add_argument("--offline", action="store_true", help="never fetch a status list over the network")
    verify.add_argument("--email", default="", help="also check that the credential was issued to this email")
    verify.add_argument(
        "--salt",
        default="",
        help="the e-mail salt the holder or issuer gave you (when the credential does not print it)",
    )
    verify.add_argument("--json", action="store_true", help="print the result as JSON")
    verify.set_defaults(func=_verify)

    pdf = subparsers.add_parser("pdf", help="write a certificate's PDF")
    pdf.add_argument("number")
    pdf.add_argument("--lang", choices=["en", "fr", "ar"], default=None, help="default: the learner's language")
    pdf.add_argument("-o", "--output", default=None, help="file to write (default: NUMBER.pdf)")
    pdf.set_defaults(func=_pdf)

    rotate = subparsers.add_parser("rotate-key", help="make a new signing key; earlier credentials keep verifying")
    rotate.add_argument("issuer", nargs="?", default="default", help="school slug or 'default'")
    rotate.set_defaults(func=_rotate)

    token = subparsers.add_parser("employer-token", help="create a bearer token for bulk verification")
    token.add_argument("organisation")
    token.add_argument("--name", default="HR system")
    token.set_defaults(func=_token)

    endorse = subparsers.add_parser("endorse", help="sign an employer's endorsement of a track")
    endorse.add_argument("track", help="track slug")
    endorse.add_argument("--employer", required=True, help="employer slug (its issuer id)")
    endorse.add_argument("--name", required=True, help="employer name")
    endorse.add_argument("--url", default="")
    endorse.add_argument("--comment", required=True)
    endorse.set_defaults(func=_endorse)


def _setup() -> None:
    bootstrap.setup_django()


def _certificate_or_exit(number: str):
    from xblocks.certification import api as certification_api  # pylint: disable=import-outside-toplevel

    certificate = certification_api.get_certificate(number)
    if certificate is None:
        print(f"no certificate {number!r}", file=sys.stderr)
        raise SystemExit(2)
    return certificate


def _credential(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification.credentials import api  # pylint: disable=import-outside-toplevel

    certificate = _certificate_or_exit(args.number)
    if args.jwt:
        print(api.credential_jwt(certificate.id))
    else:
        print(json.dumps(api.credential_json(certificate.id), indent=2, ensure_ascii=False))
    return 0


_COMPACT_JWS = re.compile(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*")


MAX_CREDENTIAL_BYTES = 2 * 1024 * 1024  # a credential with its endorsements is a few tens of kilobytes


def _verify(args: argparse.Namespace) -> int:
    _setup()  # messages about the file are translated
    from xblocks.core.files import (  # pylint: disable=import-outside-toplevel
        FileRefused,
        read_stream_limited,
        read_text_limited,
    )

    try:
        if args.file == "-":
            raw = read_stream_limited(sys.stdin.buffer, MAX_CREDENTIAL_BYTES).decode("utf-8-sig")
        else:
            raw = read_text_limited(args.file, MAX_CREDENTIAL_BYTES)
    except (FileRefused, UnicodeDecodeError) as error:
        print(f"FAILED: cannot read {args.file}: {error}", file=sys.stderr)
        return 2
    text = raw.strip()
    if text.startswith("{"):
        try:
            document = json.loads(text)
        except ValueError as error:
            print(f"FAILED: not JSON: {error}", file=sys.stderr)
            return 2
    elif _COMPACT_JWS.fullmatch(text):
        document = text
    else:
        print(
            f"FAILED: {args.file} is neither a JSON credential nor a VC-JWT (three base64url parts separated by dots)",
            file=sys.stderr,
        )
        return 2
    _setup()
    from xblocks.certification.credentials import api  # pylint: disable=import-outside-toplevel

    result = api.verify_credential(
        document,
        check_status=not args.no_status,
        fetch_remote=not args.offline,
        recipient_email=args.email,
        recipient_salt=args.salt,
    )
    if args.json:
        print(json.dumps(result.as_json(), indent=2))
    else:
        for name, ok, message in result.checks:
            print(f"[{'ok' if ok else 'FAIL'}] {name}: {message}")
        print(f"status: {result.status or 'unknown'}")
    if not result.ok:
        print(f"FAILED: {result.reason}", file=sys.stderr)
        return 1
    print("VALID")
    return 0


def _pdf(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification.credentials import api  # pylint: disable=import-outside-toplevel

    certificate = _certificate_or_exit(args.number)
    output = pathlib.Path(args.output or f"{certificate.number}.pdf")
    output.write_bytes(api.render_pdf(certificate.id, args.lang))
    print(output)
    return 0


def _rotate(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification.credentials import api, keyring  # pylint: disable=import-outside-toplevel

    try:
        multibase = api.rotate_key(args.issuer)
    except keyring.KeyConfigurationError as error:
        print(str(error), file=sys.stderr)
        return 1
    print(f"new signing key for {args.issuer}: {multibase}")
    return 0


def _token(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification.credentials import api  # pylint: disable=import-outside-toplevel

    raw, data = api.create_employer_token(args.name, args.organisation)
    print(f"token for {data.organisation} ({data.name}); shown once, store it now:\n{raw}")
    return 0


def _endorse(args: argparse.Namespace) -> int:
    _setup()
    from xblocks.certification import api as certification_api  # pylint: disable=import-outside-toplevel
    from xblocks.certification.credentials import api  # pylint: disable=import-outside-toplevel

    track = certification_api.get_track(args.track)
    if track is None:
        print(f"no track {args.track!r}", file=sys.stderr)
        return 2
    document = api.endorse_track(
        track.slug,
        track.version,
        track.title,
        endorser=args.employer,
        endorser_name=args.name,
        endorser_url=args.url,
        comment=args.comment,
    )
    print(json.dumps(document, indent=2, ensure_ascii=False))
    return 0
