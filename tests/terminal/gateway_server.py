"""Runs the demo ASGI application (HTTP + terminal gateway) under daphne on the test database.

Started by the terminal tests as a subprocess: ``python -m tests.terminal.gateway_server PORT``.
The parent passes the test database's name, since MariaDB test databases are named per run.
"""
import os
import sys


def main(argv: list[str]) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    if os.environ.get("KAFAAT_GATEWAY_DB_NAME"):
        settings.DATABASES["default"]["NAME"] = os.environ["KAFAAT_GATEWAY_DB_NAME"]
    import django  # pylint: disable=import-outside-toplevel

    django.setup()
    from daphne.cli import CommandLineInterface  # pylint: disable=import-outside-toplevel

    CommandLineInterface().run(["-b", "127.0.0.1", "-p", argv[0], "-v", "0", "demo.asgi:application"])


if __name__ == "__main__":
    main(sys.argv[1:])
