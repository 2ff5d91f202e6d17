"""``manage.py kafaat_load_skills [folder] [--dry-run]``: load the skill catalogue and check the tracks' claims."""

from django.core.management.base import BaseCommand, CommandError

from xblocks.partnership import api


class Command(BaseCommand):
    help = "Load the skills catalogue (one JSON file per domain) and report tracks proving unknown skills."

    def add_arguments(self, parser):
        parser.add_argument("folder", nargs="?", default=None, help="default: course_content/skills")
        parser.add_argument("--dry-run", action="store_true", help="report what would change, write nothing")

    def handle(self, *args, folder=None, dry_run=False, **options):
        report = api.load_skills(folder, dry_run=dry_run)
        for line in report.lines():
            self.stdout.write(line)
        if report.errors:
            raise CommandError(f"{len(report.errors)} catalogue file(s) refused; nothing was loaded")
        for slug, missing in sorted(api.unknown_track_skills().items()):
            self.stderr.write(f"WARNING track {slug} proves skills not in the catalogue: {', '.join(missing)}")
