"""``manage.py kafaat_import_needs FILE --as USER [--commit]``: check (and record) employers' needs from a CSV file."""

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.management.base import BaseCommand, CommandError

from xblocks.core.files import read_limited
from xblocks.partnership import api
from xblocks.partnership.conf import partnership_settings


class Command(BaseCommand):
    help = "Import employers' needs from CSV: a dry run with a per-row report unless --commit."

    def add_arguments(self, parser):
        parser.add_argument("file")
        parser.add_argument("--as", dest="username", required=True, help="the user recording the needs")
        parser.add_argument("--commit", action="store_true", help="write the needs (only when every row is good)")

    def handle(self, *args, file, username, commit=False, **options):
        user = get_user_model().objects.filter(username=username, is_active=True).first()
        if user is None:
            raise CommandError(f"no active user {username!r}")
        try:
            raw = read_limited(file, partnership_settings.PARTNERSHIP_MAX_IMPORT_BYTES)
            report = api.import_needs(user, raw, dry_run=not commit)
        except PermissionDenied:
            raise CommandError(f"{username} may not record needs") from None
        except (OSError, ValueError) as error:
            raise CommandError(str(error)) from None
        self.stdout.write(api.needs_report_csv(report), ending="")
        verb = "imported" if commit else "would import"
        if report.problems:
            raise CommandError(f"{len(report.problems)} problem(s) in {report.total_rows} rows; nothing was imported")
        count = report.imported if commit else report.total_rows
        self.stdout.write(f"{verb} {count} need(s)")
