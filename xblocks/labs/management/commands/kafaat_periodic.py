"""``manage.py kafaat_periodic``: Kafaat's periodic jobs without Celery beat (Tutor runs no beat).

``run`` loops for ever, running each job when it is due; any number of loops (and a beat) may run at
once, because each run takes the job's lease first. ``once`` makes one pass (for cron), ``list`` shows
every job with its schedule and last run.
"""

from __future__ import annotations

import json
import signal

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from xblocks.core import periodic as catalog


class Command(BaseCommand):
    help = "Run Kafaat's periodic jobs (reaper, reconciler, certificates, HR deliveries, purges) without beat."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (("run", "loop for ever, running each job when due"), ("once", "one pass, then exit")):
            action = sub.add_parser(name, help=text)
            action.add_argument("--job", action="append", default=[], help="only this job (repeatable)")
            only = action.add_mutually_exclusive_group()
            only.add_argument("--lab", dest="lab", action="store_const", const=True, help="only the lab jobs")
            only.add_argument("--no-lab", dest="lab", action="store_const", const=False, help="no lab jobs")
            if name == "run":
                action.add_argument("--tick", type=float, default=5.0, help="seconds between passes (default 5)")
        listing = sub.add_parser("list", help="every job: schedule, where it runs, last run")
        listing.add_argument("--json", action="store_true")

    def handle(self, *args, **options):
        from xblocks.labs import periodic  # pylint: disable=import-outside-toplevel

        if options["action"] == "list":
            return self._list(options)
        try:
            jobs = periodic.selected(options["job"], lab=options["lab"])
        except KeyError as error:
            raise CommandError(error.args[0]) from None
        if options["action"] == "once":
            for outcome in periodic.Loop(jobs).once():
                self.stdout.write(json.dumps(outcome.as_json(), default=str))
            return
        if options["tick"] <= 0:
            raise CommandError("--tick must be more than 0 seconds")
        loop = periodic.Loop(jobs, tick=options["tick"])
        for sig in (signal.SIGTERM, signal.SIGINT):
            signal.signal(sig, lambda *_args: loop.stop())
        self.stdout.write(f"kafaat_periodic: {len(jobs)} job(s): {', '.join(job.name for job in jobs)}")
        loop.run()
        self.stdout.write("kafaat_periodic: stopped")

    def _list(self, options):
        from xblocks.labs.models import PeriodicJob  # pylint: disable=import-outside-toplevel

        rows = {row.name: row for row in PeriodicJob.objects.all()}
        listing = []
        for job in catalog.JOBS:
            row = rows.get(job.name)
            every = catalog.interval(job, getattr(settings, "KAFAAT", None)) if not job.at else 0
            when = f"daily {job.at[0]:02d}:{job.at[1]:02d} UTC" if job.at else f"every {every} s"
            listing.append(
                {
                    "name": job.name,
                    "task": job.task,
                    "schedule": when,
                    "where": "lab hosts" if job.lab else "LMS",
                    "last_started": row.last_started.isoformat() if row and row.last_started else None,
                    "last_ok": row.last_ok if row else None,
                    "last_error": (row.last_error.splitlines() or [""])[0] if row and row.last_error else "",
                    "running": bool(row and row.holder),
                }
            )
        if options["json"]:
            self.stdout.write(json.dumps(listing, indent=2))
            return
        for item in listing:
            outcome = {None: "never run", True: "ok", False: "FAILED"}[item["last_ok"]]
            self.stdout.write(
                f"{item['name']:<36} {item['schedule']:<18} {item['where']:<9} "
                f"{(item['last_started'] or '-')[:19]:<19} {outcome}"
                + (f": {item['last_error']}" if item["last_error"] else "")
            )
