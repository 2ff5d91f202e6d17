"""``manage.py kafaat_verify_chain``: check every certificate's event chain and name each broken event."""

from django.core.management.base import BaseCommand, CommandError

from xblocks.certification import api


class Command(BaseCommand):
    help = "Verify the hash chain of certificate events; exits non-zero and names the event when one was tampered with."

    def add_arguments(self, parser):
        parser.add_argument("--certificate", default=None, help="number or id of one certificate")

    def handle(self, *args, **options):
        certificate_id = None
        if options["certificate"]:
            certificate = api.get_certificate(options["certificate"])
            if certificate is None:
                raise CommandError(f"no certificate {options['certificate']!r}")
            certificate_id = certificate.id
        report = api.certificate_events_verified(certificate_id=certificate_id)
        for problem in report.problems:
            self.stdout.write(
                f"BROKEN event {problem.event_id} (certificate {problem.certificate_id}): {problem.reason}"
            )
        self.stdout.write(f"{report.checked} events checked, {len(report.problems)} problem(s)")
        if not report.ok:
            raise CommandError("the certificate event chain is broken")
