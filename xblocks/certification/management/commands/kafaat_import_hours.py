"""``manage.py kafaat_import_hours FILE --as USER [--commit] [--skip-invalid]``: import an hours CSV."""

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from xblocks.certification import imports
from xblocks.certification.conf import cert_settings
from xblocks.core.files import FileRefused, read_limited


class Command(BaseCommand):
    help = "Validate and import work-study and training hours from a CSV file; a dry run unless --commit."

    def add_arguments(self, parser):
        parser.add_argument("path")
        parser.add_argument("--as", dest="actor", required=True, help="username whose school permissions apply")
        parser.add_argument("--commit", action="store_true", help="write the entries (default: dry run)")
        parser.add_argument("--skip-invalid", action="store_true", help="import the valid rows even if others are bad")

    def handle(self, *args, **options):
        actor = get_user_model().objects.filter(username=options["actor"]).first()
        if actor is None:
            raise CommandError(f"no user {options['actor']!r}")
        try:
            raw = read_limited(options["path"], int(cert_settings.CERT_MAX_IMPORT_BYTES))
        except FileRefused as error:
            raise CommandError(f"{options['path']}: {error}; nothing was imported") from None
        report = imports.import_hours_csv(
            actor, raw, dry_run=not options["commit"], skip_invalid=options["skip_invalid"]
        )
        for problem in report.problems:
            self.stdout.write(f"row {problem.row} {problem.column or '-'}: {problem.reason}")
        verb = "would import" if report.dry_run else "imported"
        count = report.total_rows - len({p.row for p in report.problems}) if report.dry_run else report.imported
        self.stdout.write(f"{verb} {count} of {report.total_rows} row(s)")
        if report.problems and not (options["skip_invalid"] and options["commit"]):
            raise CommandError(
                f"{len(report.problems)} problem(s); nothing was written"
                if options["commit"]
                else f"{len(report.problems)} problem(s)"
            )
