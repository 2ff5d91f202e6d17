"""``python -m benchmarks committee``: the committee's dashboard for 50,000 learners in 200 cohorts of 4 schools.

Three years of cohorts (initial, work-study, continuing) on two tracks, lab evidence, hours, certificates
for about 40 % and ten open needs. Runs once on SQLite and once on MariaDB (each in its own child process
with a fresh database). The baseline, measured in the same run, is one bare aggregate query (enrolments
counted per school). Figures: the dashboard api and the rendered page as a committee member (p50/p95),
the same without open needs, the nightly projection job, and the query count at a tenth of the learners
and at all of them (constant when equal). CPU seconds of this process are reported beside wall time, since
a shared machine stretches wall time.

Options: ``--learners N`` (default 50000), ``--cohorts N`` (200), ``--repeats N`` (5), ``--backends sqlite,mariadb``.
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import pathlib
import subprocess
import sys
import tempfile
import time

from benchmarks import report
from benchmarks.certification import _setup

SCHOOLS = ("north", "south", "east", "west")
TRACKS = ("cloud-devops-practitioner", "security-analyst")
MODES = ("initial", "work_study", "continuing")
COURSE_KEY = "course-v1:Kafaat+LABS101+2026"


def _reference(cohorts: int) -> list:
    from xblocks.certification import api, tracks  # pylint: disable=import-outside-toplevel
    from xblocks.partnership import api as partnership_api  # pylint: disable=import-outside-toplevel

    tracks.load_directory()
    partnership_api.load_skills()
    for slug in SCHOOLS:
        api.ensure_school(f"bench-{slug}", name=f"Bench {slug}")
    api.ensure_employer("bench-employer", "Bench employer")
    made = []
    for n in range(cohorts):
        start = datetime.date(2024, 1, 15) + datetime.timedelta(days=(n * 5) % 1000)
        made.append(
            api.ensure_cohort(
                f"bench-{SCHOOLS[n % 4]}",
                TRACKS[n % 2],
                f"bench-c{n:03d}",
                name=f"Cohort {n}",
                mode=MODES[n % 3],
                starts_on=start,
            )
        )
    return made


def _populate(first: int, last: int, cohorts: list) -> None:
    """Learners ``first``..``last - 1``, one cohort each, with evidence, hours and (for 40 %) a certificate."""
    from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel
    from django.utils import timezone  # pylint: disable=import-outside-toplevel

    from xblocks.certification import models  # pylint: disable=import-outside-toplevel

    versions = {c.id: models.Track.objects.get(slug=c.track_slug).current_version() for c in cohorts}
    user_model = get_user_model()
    user_model.objects.bulk_create(
        [user_model(username=f"bench{n:06d}", email=f"b{n}@example.com", password="!") for n in range(first, last)],
        batch_size=2000,
    )
    users = user_model.objects.filter(username__gte=f"bench{first:06d}", username__lt=f"bench{last:06d}")
    ids = list(users.order_by("username").values_list("pk", flat=True))
    now = timezone.now()
    enrolments = [
        models.Enrollment(
            user_id=uid,
            cohort_id=cohorts[(first + i) % len(cohorts)].id,
            track_version=versions[cohorts[(first + i) % len(cohorts)].id],
        )
        for i, uid in enumerate(ids)
    ]
    models.Enrollment.objects.bulk_create(enrolments, batch_size=2000)
    enrolled = dict(models.Enrollment.objects.filter(user_id__in=ids).values_list("user_id", "pk"))
    evidence, hours, certificates = [], [], []
    for i, uid in enumerate(ids):
        n = first + i
        cohort = cohorts[n % len(cohorts)]
        for lab_index, lab in enumerate(
            ("cloud_reverse_proxy", "devops_make_hooks", "security_hardening")[: 1 + n % 3]
        ):
            passed = (n + lab_index) % 4 != 0
            at = now - datetime.timedelta(days=(n * 7 + lab_index) % 400)
            evidence.append(
                models.Evidence(
                    user_id=uid, kind="lab", key=lab, value=0.9 if passed else 0.4, passed=passed, occurred_at=at
                )
            )
        hours.append(
            models.HoursEntry(
                user_id=uid,
                cohort_id=cohort.id,
                source="school",
                minutes=60 * (1 + n % 20),
                date=cohort.starts_on + datetime.timedelta(days=n % 90),
            )
        )
        if n % 5 < 2:
            issued = datetime.datetime.combine(
                cohort.starts_on + datetime.timedelta(days=120 + n % 200), datetime.time(12), tzinfo=datetime.UTC
            )
            certificates.append(
                models.Certificate(
                    number=f"BENCH-{n:07d}",
                    user_id=uid,
                    track_version=versions[cohort.id],
                    enrollment_id=enrolled[uid],
                    cohort_id=cohort.id,
                    status="active" if n % 17 else "expired",
                    issued_at=min(issued, now),
                    valid_from=min(issued, now).date(),
                    valid_until=None,
                )
            )
    for model, rows in ((models.Evidence, evidence), (models.HoursEntry, hours), (models.Certificate, certificates)):
        model.objects.bulk_create(rows, batch_size=2000)


def _needs(staff) -> None:
    from xblocks.partnership import api  # pylint: disable=import-outside-toplevel

    later = datetime.date.today() + datetime.timedelta(days=200)
    skill_sets = (
        ["cloud.reverse-proxy"],
        ["cybersecurity.log-triage"],
        ["devops.build-automation", "cloud.reverse-proxy"],
        ["data.sql"],
        ["cybersecurity.linux-hardening", "cybersecurity.access-control"],
    )
    for n in range(10):
        api.record_need(
            staff,
            employer_slug="bench-employer",
            skills=skill_sets[n % 5],
            count=50 + 10 * n,
            by_date=later + datetime.timedelta(days=30 * n),
            role_kind=("hire", "internship")[n % 2],
        )


def _queries(func) -> int:
    from django.db import connection  # pylint: disable=import-outside-toplevel
    from django.test.utils import CaptureQueriesContext  # pylint: disable=import-outside-toplevel

    with CaptureQueriesContext(connection) as ctx:
        func()
    return len(ctx.captured_queries)


def _times(func, repeats: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of each repeat (after one warm-up call: trees, translations, templates)."""
    func()
    wall, cpu = [], []
    for _ in range(repeats):
        started, started_cpu = time.perf_counter(), time.process_time()
        func()
        wall.append(time.perf_counter() - started)
        cpu.append(time.process_time() - started_cpu)
    return wall, cpu


def child(backend: str, learners: int, cohorts: int, repeats: int, out: str) -> None:
    var_dir = tempfile.mkdtemp(prefix="kafaat-bench-committee-")
    db_name = f"test_kafaat_bench_{os.getpid()}"
    if backend == "mariadb":
        report.create_mariadb_database(db_name)
    try:
        _setup(backend, var_dir, db_name)
        from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel
        from django.db.models import Count  # pylint: disable=import-outside-toplevel
        from django.test import Client  # pylint: disable=import-outside-toplevel

        from xblocks.certification import models  # pylint: disable=import-outside-toplevel
        from xblocks.partnership import api  # pylint: disable=import-outside-toplevel
        from xblocks.partnership import models as partnership_models  # pylint: disable=import-outside-toplevel

        user_model = get_user_model()
        staff = user_model.objects.create_user("bench-staff", is_staff=True, is_superuser=True)
        member = user_model.objects.create_user("bench-member")
        partnership_models.CommitteeMember.objects.create(user=member)
        started = time.perf_counter()
        made = _reference(cohorts)
        tenth = max(learners // 10, 1)
        _populate(0, tenth, made)
        _needs(staff)
        api.refresh_projections()
        api.dashboard(member)  # requirement trees cached, as in a running process
        queries_small = _queries(lambda: api.dashboard(member))
        _populate(tenth, learners, made)
        populate_s = time.perf_counter() - started
        job_cpu = time.process_time()
        job_wall = time.perf_counter()
        projected = api.refresh_projections()
        job_s, job_cpu_s = time.perf_counter() - job_wall, time.process_time() - job_cpu
        api.dashboard(member)
        queries_large = _queries(lambda: api.dashboard(member))

        def baseline():
            list(models.Enrollment.objects.values("cohort__school_id").annotate(n=Count("pk")))

        client = Client()
        client.force_login(member)

        def page():
            response = client.get("/kafaat/partnership/dashboard/", {"group_by": "domain"})
            assert response.status_code == 200, response.status_code

        base = _times(baseline, repeats)
        with_needs = _times(lambda: api.dashboard(member), repeats)
        page_times = _times(page, repeats)
        partnership_models.Need.objects.all().delete()
        without_needs = _times(lambda: api.dashboard(member), repeats)
        figures = {
            "backend": backend,
            "projected": projected,
            "job_s": job_s,
            "job_cpu_s": job_cpu_s,
            "learners": learners,
            "cohorts": cohorts,
            "enrolments": models.Enrollment.objects.count(),
            "certificates": models.Certificate.objects.count(),
            "populate_s": populate_s,
            "baseline_s": report.summary(base[0]),
            "baseline_cpu_s": report.summary(base[1]),
            "dashboard_s": report.summary(with_needs[0]),
            "dashboard_cpu_s": report.summary(with_needs[1]),
            "dashboard_no_needs_s": report.summary(without_needs[0]),
            "dashboard_no_needs_cpu_s": report.summary(without_needs[1]),
            "page_s": report.summary(page_times[0]),
            "page_cpu_s": report.summary(page_times[1]),
            "queries_tenth": queries_small,
            "queries_all": queries_large,
        }
        pathlib.Path(out).write_text(json.dumps(figures), encoding="utf-8")
    finally:
        if backend == "mariadb":
            report.drop_mariadb_database(db_name)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks committee", description=__doc__.split("\n")[0])
    parser.add_argument("--learners", type=int, default=50000)
    parser.add_argument("--cohorts", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--backends", default="sqlite,mariadb")
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    parser.add_argument("--out", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.child:
        child(args.child, args.learners, args.cohorts, args.repeats, args.out)
        return 0
    results = {}
    for backend in [b.strip() for b in args.backends.split(",") if b.strip()]:
        with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as handle:
            out = handle.name
        print(f"{backend}: populating {args.learners} learners in {args.cohorts} cohorts…", flush=True)
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "benchmarks",
                "committee",
                "--child",
                backend,
                "--learners",
                str(args.learners),
                "--cohorts",
                str(args.cohorts),
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
        base = f["baseline_s"]["p50"]
        for figure, key in (
            ("bare aggregate query (baseline)", "baseline_s"),
            ("dashboard api, 10 open needs", "dashboard_s"),
            ("dashboard api, no open need", "dashboard_no_needs_s"),
            ("dashboard page (HTML, by domain)", "page_s"),
        ):
            cpu = key.replace("_s", "_cpu_s")
            rows.append(
                {
                    "backend": backend,
                    "figure": f"{figure}, wall s",
                    "p50": f[key]["p50"],
                    "p95": f[key]["p95"],
                    "ratio": report.ratio(f[key]["p50"], base),
                }
            )
            rows.append(
                {
                    "backend": backend,
                    "figure": f"{figure}, CPU s",
                    "p50": f[cpu]["p50"],
                    "p95": f[cpu]["p95"],
                    "ratio": report.ratio(f[cpu]["p50"], f["baseline_cpu_s"]["p50"]),
                }
            )
        rows.append(
            {
                "backend": backend,
                "figure": f"nightly projection job ({f['projected']} learners), wall / CPU s",
                "p50": f"{f['job_s']:.1f} / {f['job_cpu_s']:.1f}",
                "p95": "",
                "ratio": "",
            }
        )
        rows.append(
            {
                "backend": backend,
                "figure": "queries: a tenth of the learners vs all",
                "p50": f"{f['queries_tenth']} vs {f['queries_all']}",
                "p95": "",
                "ratio": "",
            }
        )
    report.print_table(
        "committee dashboard (ratio: to the bare aggregate query, same run)",
        rows,
        ["backend", "figure", "p50", "p95", "ratio"],
    )
    report.save("committee", results)
    return 0 if results else 1
