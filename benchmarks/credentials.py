"""Credentials signed and verified per second, against raw Ed25519 and raw canonicalisation in the same run.

    python -m benchmarks credentials [--seconds 2]

Rows: raw Ed25519 sign/verify of 64 bytes and raw pyld canonicalisation of the OB 3.0 test vector (the
baselines), then our eddsa-rdfc-2022 sign and verify of a full Kafaat certificate credential, the VC-JWT
forms, strict vs plain canonicalisation, and a PDF render. Pure code: no database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import pathlib
import time
import tracemalloc

from benchmarks.report import print_table, ratio, save, summary

VECTOR = pathlib.Path(__file__).resolve().parent.parent / "tests" / "fixtures" / "ob3"


def _django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    import django  # pylint: disable=import-outside-toplevel

    django.setup()


def _certificate():
    from xblocks.certification.data import CertificateData, LearnerData, SchoolData, TrackData

    return CertificateData(
        id=1,
        number="KAF-2026-000001",
        status="active",
        issued_at=dt.datetime(2026, 6, 30, 9, 0, tzinfo=dt.UTC),
        valid_from=dt.date(2026, 6, 30),
        valid_until=dt.date(2028, 6, 30),
        learner=LearnerData(7, "amina", "amina@example.org", "Amina B.", "أمينة بن علي", "ar"),
        track=TrackData(
            3,
            "cloud-ops",
            "Cloud Operations Associate",
            "Runs Linux workloads.",
            2,
            11,
            "Pass the 12 graded labs.",
            120.0,
            ("linux", "kubernetes"),
        ),
        school=SchoolData(1, "ecole-nord", "École du Nord", "https://ecole-nord.example", "", "FR", ""),
        cohort_id=1,
        cohort_name="Nord",
        cohort_slug="nord",
        hours_total=126.5,
        hours_by_category={"lab": 80.0, "theory": 46.5},
        hours_by_source={"school": 126.5},
        results=(("Final assessment", 82.0, 70.0), ("Lab: pods", True, True)),
        employee_id="",
        evidence={},
    )


def _time(fn, seconds: float) -> list[float]:
    fn()  # warm caches (contexts, fonts) outside the sample
    samples: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(samples) < 20:
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return samples


def _peak_kib(fn) -> float:
    tracemalloc.start()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return peak / 1024


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks credentials")
    parser.add_argument("--seconds", type=float, default=2.0, help="sampling time per row")
    args = parser.parse_args(argv)
    _django()

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from pyld import jsonld

    from xblocks.certification.credentials import jwt as vc_jwt
    from xblocks.certification.credentials import loader, openbadges, pdf, proofs, statuslist
    from xblocks.certification.credentials.data import CertificateVerification

    key = Ed25519PrivateKey.generate()
    public = key.public_key()
    message = os.urandom(64)
    signature = key.sign(message)
    vector = json.loads((VECTOR / "unsigned-credential.json").read_text(encoding="utf-8"))
    raw_options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": loader.document_loader}

    issuer = "https://lms.example.org/kafaat/credentials/issuers/ecole-nord/"
    method = proofs.verification_method_id(issuer, public)
    links = openbadges.CredentialLinks(
        "urn:uuid:00000000-0000-4000-8000-000000000001",
        issuer,
        "École du Nord",
        "https://lms.example.org/kafaat/credentials/achievements/cloud-ops/2/",
        "https://lms.example.org/kafaat/credentials/verify/KAF-2026-000001/",
        "urn:uuid:00000000-0000-4000-8000-000000000002",
    )
    status = statuslist.entry(
        "https://lms.example.org/kafaat/credentials/status/ecole-nord/message/1/", 4711, "message"
    )
    certificate = _certificate()
    unsigned = openbadges.build(certificate, links, salt="s" * 32, status_entry=status)
    signed = proofs.sign(unsigned, key, method)
    token = vc_jwt.encode(signed, key, method)
    resolve = {method: public}.get
    facts = CertificateVerification(
        number=certificate.number,
        found=True,
        ok=True,
        status="active",
        issuer_name="École du Nord",
        holder_name="أمينة بن علي",
        track_title="Cloud Operations Associate",
        track_version=2,
        valid_from=certificate.valid_from,
        valid_until=certificate.valid_until,
        hours=126.5,
        hours_required=120,
        verification_url=links.verification_url,
        credential_id=links.credential_id,
    )

    def check_verify():
        assert proofs.verify(signed, resolve).ok

    def check_jwt():
        assert vc_jwt.decode(token, resolve)[1].ok

    cases = [
        ("baseline: Ed25519 sign (64 B)", lambda: key.sign(message), None),
        ("baseline: Ed25519 verify (64 B)", lambda: public.verify(signature, message), None),
        ("baseline: pyld URDNA2015 of the OB test vector", lambda: jsonld.normalize(vector, raw_options), None),
        (
            "canonicalise credential, strict",
            lambda: loader.canonicalize(unsigned),
            "baseline: pyld URDNA2015 of the OB test vector",
        ),
        (
            "canonicalise credential, no strict check",
            lambda: loader.canonicalize(unsigned, strict=False),
            "baseline: pyld URDNA2015 of the OB test vector",
        ),
        (
            "build + sign credential (eddsa-rdfc-2022)",
            lambda: proofs.sign(openbadges.build(certificate, links, salt="s" * 32, status_entry=status), key, method),
            "baseline: Ed25519 sign (64 B)",
        ),
        ("verify credential proof", check_verify, "baseline: Ed25519 verify (64 B)"),
        ("VC-JWT encode", lambda: vc_jwt.encode(signed, key, method), "baseline: Ed25519 sign (64 B)"),
        ("VC-JWT verify", check_jwt, "baseline: Ed25519 verify (64 B)"),
        ("PDF render (Arabic)", lambda: pdf.render(facts, "ar"), None),
    ]
    rows, figures = [], {}
    measured: dict[str, dict] = {}
    for name, fn, baseline in cases:
        stats = summary(_time(fn, args.seconds))
        stats["per_second"] = 1000 / stats["mean"] if stats["mean"] else float("nan")
        stats["peak_kib"] = _peak_kib(fn)
        measured[name] = stats
        base = measured.get(baseline) if baseline else None
        stats["baseline"] = baseline or ""
        stats["x_baseline_p50"] = ratio(stats["p50"], base["p50"]) if base else float("nan")
        figures[name] = stats
        rows.append(
            {
                "operation": name,
                "n": stats["n"],
                "p50 ms": stats["p50"],
                "p95 ms": stats["p95"],
                "per s": stats["per_second"],
                "peak KiB": stats["peak_kib"],
                "x baseline (p50)": f"{stats['x_baseline_p50']:.1f}" if base else "-",
            }
        )
    print_table(
        "Credentials: sign and verify (one process, one core)",
        rows,
        ["operation", "n", "p50 ms", "p95 ms", "per s", "peak KiB", "x baseline (p50)"],
    )
    save("credentials", figures)
    return 0
