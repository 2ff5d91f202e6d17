"""``manage.py kafaat_lab_host``: run a lab host (worker + terminal gateway + heartbeat), list the
registered hosts, or check this machine's sandbox requirements."""

from __future__ import annotations

import json

from django.core.management.base import BaseCommand, CommandError

from xblocks.labs import api


def _bind(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise CommandError(f"--gateway-bind takes HOST:PORT, not {text!r}")
    return host, int(port)


class Command(BaseCommand):
    help = "Run this machine as a lab host, list lab hosts, or check what the sandboxes need."

    def add_arguments(self, parser):
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("run", help="the lab-host service: Celery worker on the lab queues, gateway, heartbeat")
        run.add_argument("--name", default="", help="this host's name (default: KAFAAT LAB_HOST, the host name)")
        run.add_argument("--celery-app", default="lms.celery", help="Celery app of the site (default lms.celery)")
        run.add_argument("--concurrency", type=int, default=4, help="worker processes (default 4)")
        run.add_argument(
            "--queues", default="", help="more queues for this worker, comma-separated (the demo adds 'celery')"
        )
        run.add_argument("--capacity", type=int, default=None, help="live sessions it takes (LAB_HOST_CAPACITY)")
        run.add_argument("--gateway-url", default=None, help="where browsers reach its gateway (LAB_HOST_GATEWAY_URL)")
        run.add_argument("--gateway-bind", default="127.0.0.1:8010", help="HOST:PORT the gateway listens on")
        run.add_argument("--no-gateway", action="store_true", help="do not start the terminal gateway here")
        run.add_argument("--periodic", action="store_true", help="also run every periodic job (no Celery beat)")
        run.add_argument("--loglevel", default="INFO")
        listing = sub.add_parser("list", help="registered lab hosts with their load")
        listing.add_argument("--json", action="store_true")
        sub.add_parser("check", help="this machine's sandbox requirements, one line each (exit 1 if one is missing)")

    def handle(self, *args, **options):
        action = options["action"]
        if action == "list":
            return self._list(options)
        if action == "check":
            return self._check()
        return self._run(options)

    def _list(self, options):
        statuses = api.lab_hosts()
        if options["json"]:
            self.stdout.write(json.dumps([status.as_json() for status in statuses], indent=2))
            return
        if not statuses:
            self.stdout.write("no lab host registered: new sessions go to the shared lab queue")
            return
        for status in statuses:
            state = "alive" if status.alive else "dead"
            taking = "accepting" if status.accepting else "refusing"
            self.stdout.write(
                f"{status.name:<20} {state:<5} {taking:<9} {status.live_sessions:>3}/{status.capacity:<3} "
                f"seen {status.last_seen:%Y-%m-%d %H:%M:%S}  {status.queue}  {status.gateway_url or '-'}"
                + (f"  ({status.detail})" if status.detail else "")
            )

    def _check(self):
        from xblocks.labs.sandbox import requirements  # pylint: disable=import-outside-toplevel

        results = requirements.check()
        for result in results:
            self.stdout.write(result.line())
        if not all(result.ok for result in results):
            raise CommandError(requirements.summary(results))

    def _run(self, options):
        from xblocks.labs import labhost  # pylint: disable=import-outside-toplevel
        from xblocks.labs.conf import labs_settings  # pylint: disable=import-outside-toplevel
        from xblocks.labs.sandbox.conf import sandbox_settings  # pylint: disable=import-outside-toplevel

        host, port = _bind(options["gateway_bind"])
        name = options["name"] or str(sandbox_settings.LAB_HOST)
        capacity = options["capacity"] if options["capacity"] is not None else int(labs_settings.LAB_HOST_CAPACITY)
        if capacity < 0 or options["concurrency"] < 1:
            raise CommandError("--capacity must be 0 or more and --concurrency at least 1")
        service = labhost.Service(
            labhost.Options(
                name=name,
                capacity=capacity,
                celery_app=options["celery_app"],
                concurrency=options["concurrency"],
                extra_queues=tuple(q.strip() for q in options["queues"].split(",") if q.strip()),
                gateway=not options["no_gateway"],
                gateway_host=host,
                gateway_port=port,
                gateway_url=(
                    options["gateway_url"]
                    if options["gateway_url"] is not None
                    else str(labs_settings.LAB_HOST_GATEWAY_URL)
                ),
                periodic=options["periodic"],
                log_level=options["loglevel"],
                heartbeat=float(labs_settings.LAB_HOST_HEARTBEAT),
            ),
            say=lambda line: self.stdout.write(line),
        )
        code = service.run()
        if code:
            raise CommandError("a lab host process exited; the service stopped", returncode=code)
