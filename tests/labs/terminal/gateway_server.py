"""Runs the demo ASGI application (HTTP + terminal gateway) on the test database, under uvicorn or daphne.

Started by the terminal tests as a subprocess: ``python -m tests.labs.terminal.gateway_server PORT [SERVER]``.
The parent passes the test database's name, since MariaDB test databases are named per run.
"""

import os
import sys


def main(argv: list[str]) -> None:
    port, server = int(argv[0]), (argv[1] if len(argv) > 1 else "uvicorn")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    if os.environ.get("KAFAAT_GATEWAY_DB_NAME"):
        settings.DATABASES["default"]["NAME"] = os.environ["KAFAAT_GATEWAY_DB_NAME"]
    import django  # pylint: disable=import-outside-toplevel

    django.setup()
    if server == "daphne":
        from daphne.cli import CommandLineInterface  # pylint: disable=import-outside-toplevel

        CommandLineInterface().run(["-b", "127.0.0.1", "-p", str(port), "-v", "0", "demo.asgi:application"])
    else:
        import uvicorn  # pylint: disable=import-outside-toplevel

        uvicorn.run("demo.asgi:application", host="127.0.0.1", port=port, lifespan="off", log_level="warning")


if __name__ == "__main__":
    main(sys.argv[1:])
