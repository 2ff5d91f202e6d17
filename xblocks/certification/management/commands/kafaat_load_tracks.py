"""``manage.py kafaat_load_tracks [DIR]``: load track definition files; a new version only when they changed."""

from django.core.management.base import BaseCommand, CommandError

from xblocks.certification import tracks


class Command(BaseCommand):
    help = "Load certification track definitions (JSON) from a folder (default: course_content/tracks)."

    def add_arguments(self, parser):
        parser.add_argument("directory", nargs="?", default=None)
        parser.add_argument("--dry-run", action="store_true")
        parser.add_argument("--labs", action="append", metavar="PATH", help="OLX whose labs the tracks may name")

    def handle(self, *args, **options):
        report = tracks.load_directory(options["directory"], dry_run=options["dry_run"], lab_paths=options["labs"])
        for line in report.lines():
            self.stdout.write(line)
        if report.errors:
            raise CommandError(f"{len(report.errors)} track file(s) could not be loaded")
