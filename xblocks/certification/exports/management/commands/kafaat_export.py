"""``manage.py kafaat_export --format csv --preset workday --cohort 3 --user coordinator --out file.csv``."""

import sys

from django.core.management.base import BaseCommand, CommandError

from xblocks.certification.exports.cli import add_export_arguments, run_export


class Command(BaseCommand):
    help = "Export certification records for an employer's HR system, scoped to a coordinator, with progress."

    def add_arguments(self, parser):
        add_export_arguments(parser)

    def handle(self, *args, **options):
        import argparse  # pylint: disable=import-outside-toplevel

        namespace = argparse.Namespace(**options)
        out = sys.stdout.buffer if options["out"] == "-" else None
        status = run_export(namespace, out, self.stderr)
        if status:
            raise CommandError(f"export failed (status {status})", returncode=status)
