"""``python -m benchmarks certification``: evaluate 10,000 learners × 3 tracks from evidence in the database.

Runs once on SQLite and once on MariaDB (each in its own child process with a fresh database). The
baseline, measured in the same run, is the bare fetch: the very queries evaluation issues per chunk
(enrolments with their relations, evidence, hours, attestations, certificates) without calling the
rules engine. Figures: wall time of a full pass (p50/p95 over the repeats), throughput, queries per
learner on a small and a large population (constant when equal), p50/p95 of one learner's evaluation
(what the block does on a page view), and peak memory.

Options: ``--learners N`` (default 10000), ``--repeats N`` (3), ``--backends sqlite,mariadb``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import resource
import subprocess
import sys
import tempfile
import time

from benchmarks import report

TRACKS = ("cloud-devops-practitioner", "security-analyst", "bench-data-engineer")
THIRD_TRACK = {
    "slug": "bench-data-engineer",
    "title": "Data engineer (benchmark)",
    "validity": {"mode": "after_completion", "months": 24},
    "requirements": [
        {
            "id": "labs",
            "kind": "any",
            "threshold": 2,
            "children": [
                {"kind": "lab_passed", "key": "cloud_reverse_proxy"},
                {"kind": "lab_passed", "key": "devops_make_hooks"},
                {"kind": "block_score", "key": "security_hardening", "threshold": 0.6},
            ],
        },
        {"kind": "course_grade", "key": "course-v1:Kafaat+LABS101+2026", "threshold": 0.6},
        {"kind": "hours", "category": "data", "threshold": 12, "due_date": "2026-12-31"},
        {"kind": "school_share", "threshold": 0.25},
    ],
}
LABS = ("cloud_reverse_proxy", "devops_make_hooks", "security_hardening")
COURSE_KEY = "course-v1:Kafaat+LABS101+2026"


# ------------------------------------------------------------------------------------------ child


def _setup(backend: str, var_dir: str, db_name: str) -> None:
    os.environ["DJANGO_SETTINGS_MODULE"] = "demo.settings"
    os.environ["KAFAAT_VAR_DIR"] = var_dir
    os.environ["KAFAAT_CELERY_EAGER"] = "1"
    if backend == "mariadb":
        import pymysql  # pylint: disable=import-outside-toplevel

        pymysql.install_as_MySQLdb()
        databases = {"default": report.mariadb_settings(db_name)}
    else:
        databases = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": os.path.join(var_dir, "bench.db")}}
    os.environ["WORKBENCH_DATABASES"] = json.dumps(databases)
    import django  # pylint: disable=import-outside-toplevel

    django.setup()
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    settings.LOGGING_CONFIG = None
    import logging  # pylint: disable=import-outside-toplevel

    logging.getLogger("xblocks").setLevel(logging.WARNING)
    from django.core.management import call_command  # pylint: disable=import-outside-toplevel

    call_command("migrate", "--run-syncdb", verbosity=0)


def _populate(learners: int) -> None:
    """Three tracks, one cohort each, every learner in all three, with mixed evidence (bulk inserts)."""
    from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel
    from django.utils import timezone  # pylint: disable=import-outside-toplevel

    from xblocks.certification import api, models, tracks  # pylint: disable=import-outside-toplevel

    tracks.load_directory()
    tracks.load_track(THIRD_TRACK, "bench")
    api.ensure_school("bench-school", name="Bench school")
    cohorts = [
        api.ensure_cohort("bench-school", slug, f"c-{slug}", name=slug, starts_on=datetime.date(2026, 1, 1))
        for slug in TRACKS
    ]
    versions = {c.id: models.Track.objects.get(slug=c.track_slug).current_version() for c in cohorts}
    user_model = get_user_model()
    user_model.objects.bulk_create(
        [user_model(username=f"bench{n:06d}", email=f"bench{n}@example.com", password="!") for n in range(learners)],
        batch_size=2000,
    )
    users = list(user_model.objects.filter(username__startswith="bench").order_by("pk").values_list("pk", flat=True))
    now = timezone.now()
    enrollments, evidence, hours, attestations = [], [], [], []
    for index, user_id in enumerate(users):
        for cohort in cohorts:
            enrollments.append(
                models.Enrollment(
                    user_id=user_id, cohort_id=cohort.id, track_version=versions[cohort.id], employee_id=f"E{index}"
                )
            )
        for lab_index, lab in enumerate(LABS):
            score = ((index + lab_index * 7) % 10) / 10 + 0.1
            passed = score >= 0.7
            evidence.append(
                models.Evidence(
                    user_id=user_id, kind="lab", key=lab, value=min(score, 1), passed=passed, occurred_at=now
                )
            )
            evidence.append(
                models.Evidence(
                    user_id=user_id, kind="block_score", key=lab, value=min(score, 1), passed=passed, occurred_at=now
                )
            )
        evidence.append(
            models.Evidence(
                user_id=user_id,
                kind="course_grade",
                key=COURSE_KEY,
                value=(index % 100) / 100,
                passed=index % 100 >= 60,
                occurred_at=now,
            )
        )
        for entry in range(4):
            hours.append(
                models.HoursEntry(
                    user_id=user_id,
                    cohort_id=cohorts[entry % 3].id,
                    source=("school", "company", "elearning", "school")[entry],
                    category=("cloud", "security", "data", "ethics")[entry],
                    minutes=60 * (1 + (index + entry) % 12),
                    date=datetime.date(2026, 1 + entry, 10),
                )
            )
        if index % 3 == 0:
            attestations.append(models.Attestation(user_id=user_id, competency="incident-response", attested_at=now))
        if index % 4 == 0:
            attestations.append(models.Attestation(user_id=user_id, competency="log-triage", attested_at=now))
    for model, rows in (
        (models.Enrollment, enrollments),
        (models.Evidence, evidence),
        (models.HoursEntry, hours),
        (models.Attestation, attestations),
    ):
        model.objects.bulk_create(rows, batch_size=2000)


def _bare_fetch(chunk_size: int = 2000) -> int:
    """The baseline: the same per-chunk queries as ``api.evaluate_enrollments``, without the rules engine."""
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel
    from xblocks.certification.api import evaluation, tracks  # pylint: disable=import-outside-toplevel

    queryset = models.Enrollment.objects.filter(status="active").order_by("pk")
    last, count = 0, 0
    while True:
        chunk = [
            evaluation._EnrollmentRow(*v)
            for v in queryset.filter(pk__gt=last).values_list(*evaluation._ROW_FIELDS)[:chunk_size]
        ]
        if not chunk:
            return count
        last = chunk[-1].pk
        version_ids = {row.track_version_id for row in chunk}
        tracks._prefetch_trees(evaluation._versions(version_ids).values())
        evaluation._load(list({row.user_id for row in chunk}), version_ids)
        count += len(chunk)


def _evaluate_all() -> tuple[int, int]:
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    count = met = 0
    for progress in api.evaluate_enrollments(chunk_size=2000):
        count += 1
        met += progress.evaluation.met
    return count, met


def _traced_peak_mb(func) -> float:
    """Peak Python allocation during one pass (tracemalloc): streaming keeps it to about one chunk."""
    import tracemalloc  # pylint: disable=import-outside-toplevel

    tracemalloc.start()
    try:
        func()
        return tracemalloc.get_traced_memory()[1] / 2**20
    finally:
        tracemalloc.stop()


def _queries(func) -> int:
    from django.db import connection  # pylint: disable=import-outside-toplevel
    from django.test.utils import CaptureQueriesContext  # pylint: disable=import-outside-toplevel

    with CaptureQueriesContext(connection) as ctx:
        func()
    return len(ctx.captured_queries)


def child(backend: str, learners: int, repeats: int, out: str) -> None:
    var_dir = tempfile.mkdtemp(prefix="kafaat-bench-cert-")
    db_name = f"test_kafaat_bench_{os.getpid()}"
    if backend == "mariadb":
        report.create_mariadb_database(db_name)
    try:
        _setup(backend, var_dir, db_name)
        from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel

        from xblocks.certification import api, models  # pylint: disable=import-outside-toplevel
        from xblocks.certification.api import evaluation  # pylint: disable=import-outside-toplevel

        started = time.perf_counter()
        _populate(learners)
        populate_s = time.perf_counter() - started
        enrollments = models.Enrollment.objects.count()
        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        _evaluate_all()  # warm caches (requirement trees, translations) once
        fetch_times, eval_times, fetch_cpu, eval_cpu = [], [], [], []
        met = 0
        for _ in range(repeats):
            t0, c0 = time.perf_counter(), time.process_time()
            _bare_fetch()
            fetch_times.append(time.perf_counter() - t0)
            fetch_cpu.append(time.process_time() - c0)
            t0, c0 = time.perf_counter(), time.process_time()
            _, met = _evaluate_all()
            eval_times.append(time.perf_counter() - t0)
            eval_cpu.append(time.process_time() - c0)
        rss_after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        fetch_peak_mb = _traced_peak_mb(_bare_fetch)
        eval_peak_mb = _traced_peak_mb(_evaluate_all)
        eval_queries = _queries(_evaluate_all)
        fetch_queries = _queries(_bare_fetch)
        # constant queries per learner: the same pass over one chunk's worth of learners
        small_ids = list(models.Enrollment.objects.order_by("pk").values_list("pk", flat=True)[:2000])
        small_queries = _queries(lambda: list(api.evaluate_enrollments(small_ids)))
        users = list(get_user_model().objects.filter(username__startswith="bench").order_by("pk")[:200])
        one_eval, one_fetch = [], []
        for user in users:
            t0 = time.perf_counter()
            api.learner_progress(user)
            one_eval.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            ids = list(models.Enrollment.objects.filter(user=user).values_list("user_id", flat=True))
            evaluation._load(
                ids, set(models.Enrollment.objects.filter(user=user).values_list("track_version_id", flat=True))
            )
            one_fetch.append(time.perf_counter() - t0)
        figures = {
            "backend": backend,
            "learners": learners,
            "enrollments": enrollments,
            "met": met,
            "populate_s": populate_s,
            "fetch_s": report.summary(fetch_times),
            "evaluate_s": report.summary(eval_times),
            "fetch_cpu_s": report.summary(fetch_cpu),
            "evaluate_cpu_s": report.summary(eval_cpu),
            "fetch_peak_mb": fetch_peak_mb,
            "evaluate_peak_mb": eval_peak_mb,
            "throughput_per_s": enrollments / report.percentile(eval_times, 50),
            "fetch_throughput_per_s": enrollments / report.percentile(fetch_times, 50),
            "queries_total": eval_queries,
            "queries_baseline": fetch_queries,
            "queries_per_learner": eval_queries / learners,
            "queries_per_2000_enrolments_small": small_queries,
            "one_learner_ms": report.summary([t * 1000 for t in one_eval]),
            "one_learner_fetch_ms": report.summary([t * 1000 for t in one_fetch]),
            "peak_rss_mb": rss_after / 1024,
            "rss_growth_mb": (rss_after - rss_before) / 1024,
        }
        pathlib.Path(out).write_text(json.dumps(figures), encoding="utf-8")
    finally:
        if backend == "mariadb":
            report.drop_mariadb_database(db_name)


# ------------------------------------------------------------------------------------------ parent


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks certification", description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=10000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,mariadb")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.learners, args.repeats, args.out)
        return 0
    results = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = handle.name
        print(f"{backend}: populating {args.learners} learners × {len(TRACKS)} tracks and evaluating…", flush=True)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks",
                "certification",
                "--child",
                backend,
                "--learners",
                str(args.learners),
                "--repeats",
                str(args.repeats),
                "--out",
                out,
            ],
            check=False,
        )
        if done.returncode != 0:
            print(f"{backend}: the benchmark child failed (exit {done.returncode})", file=sys.stderr)
            continue
        results[backend] = json.loads(pathlib.Path(out).read_text(encoding="utf-8"))
        os.unlink(out)
    rows = []
    for backend, f in results.items():
        base = f["fetch_s"]["p50"]
        rows += [
            {
                "backend": backend,
                "figure": "full pass, baseline (bare fetch) p50 s",
                "value": base,
                "p95": f["fetch_s"]["p95"],
                "ratio": 1.0,
            },
            {
                "backend": backend,
                "figure": "full pass, evaluate p50 s",
                "value": f["evaluate_s"]["p50"],
                "p95": f["evaluate_s"]["p95"],
                "ratio": report.ratio(f["evaluate_s"]["p50"], base),
            },
            {
                "backend": backend,
                "figure": "full pass CPU s (this process), evaluate vs fetch",
                "value": f["evaluate_cpu_s"]["p50"],
                "p95": f["evaluate_cpu_s"]["p95"],
                "ratio": report.ratio(f["evaluate_cpu_s"]["p50"], f["fetch_cpu_s"]["p50"]),
            },
            {
                "backend": backend,
                "figure": "throughput, enrolments/s",
                "value": f["throughput_per_s"],
                "p95": "",
                "ratio": report.ratio(f["throughput_per_s"], f["fetch_throughput_per_s"]),
            },
            {
                "backend": backend,
                "figure": "queries per learner (3 enrolments)",
                "value": f["queries_per_learner"],
                "p95": "",
                "ratio": report.ratio(f["queries_total"], f["queries_baseline"]),
            },
            {
                "backend": backend,
                "figure": "queries: 1 chunk (2,000) vs all",
                "value": f"{f['queries_per_2000_enrolments_small']} vs {f['queries_total']}",
                "p95": f"{-(-f['enrollments'] // 2000)} chunks",
                "ratio": "",
            },
            {
                "backend": backend,
                "figure": "one learner's page, ms",
                "value": f["one_learner_ms"]["p50"],
                "p95": f["one_learner_ms"]["p95"],
                "ratio": report.ratio(f["one_learner_ms"]["p50"], f["one_learner_fetch_ms"]["p50"]),
            },
            {
                "backend": backend,
                "figure": "peak traced MB in one pass, evaluate vs fetch",
                "value": f["evaluate_peak_mb"],
                "p95": "",
                "ratio": report.ratio(f["evaluate_peak_mb"], f["fetch_peak_mb"]),
            },
            {
                "backend": backend,
                "figure": "peak RSS MB (growth while evaluating)",
                "value": f["peak_rss_mb"],
                "p95": f"+{f['rss_growth_mb']:.1f}",
                "ratio": "",
            },
        ]
    report.print_table(
        f"certification: {args.learners} learners × {len(TRACKS)} tracks",
        rows,
        ["backend", "figure", "value", "p95", "ratio"],
    )
    if results:
        report.save("certification", results)
    return 0 if results else 1
