"""``manage.py kafaat_lab_sessions``: list lab sessions, run the reaper and reconciler once (no beat
needed), or stop every live lab on this host now (``make demo`` does this when it exits)."""

from django.core.management.base import BaseCommand

from xblocks.labs import api
from xblocks.labs.models import LabSession


class Command(BaseCommand):
    help = "List live lab sessions, or run the reaper (--reap) and the reconciler (--reconcile) once."

    def add_arguments(self, parser):
        parser.add_argument(
            "--reap", action="store_true", help="end expired and idle labs, retry or fail stalled starts"
        )
        parser.add_argument("--reconcile", action="store_true", help="compare the sandbox inventory with the database")
        parser.add_argument("--all", action="store_true", help="list every session, not only live ones")
        parser.add_argument(
            "--stop-all",
            action="store_true",
            help="stop every live lab and destroy its environment now, in this process",
        )

    def handle(self, *args, **options):
        if options["stop_all"]:
            live = list(LabSession.objects.exclude(live_key=None).values_list("pk", flat=True))
            for session_id in live:
                api.stop_session(
                    session_id, actor="system:operator", reason="stopped by kafaat_lab_sessions --stop-all"
                )
                api.teardown_session(session_id)  # no worker needed; a queued teardown later finds nothing to do
            self.stdout.write(f"stopped {len(live)} live lab session(s)")
            return
        if options["reap"]:
            self.stdout.write(f"reaper: {api.reap_sessions().as_json()}")
        if options["reconcile"]:
            self.stdout.write(f"reconciler: {api.reconcile_sessions().as_json()}")
        if options["reap"] or options["reconcile"]:
            return
        rows = LabSession.objects.select_related("user").order_by("-created")
        if not options["all"]:
            rows = rows.exclude(live_key=None)
        for row in rows[:500]:
            ends = f"  ends {row.ends_at:%Y-%m-%d %H:%M:%S}" if row.ends_at else ""
            self.stdout.write(
                f"{row.pk:>7}  {row.state:<12} {row.phase:<14} {row.user.get_username():<20} {row.host:<12} "
                f"{row.usage_key}{ends}"
            )
