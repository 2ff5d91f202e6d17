"""The embedded default's database: SQLite options that let a class's web server and workers write at once.

A single SQLite file serves the demo and the test runs; MariaDB (or PostgreSQL) serves production, and
nothing here applies to them. Three settings make SQLite hold many concurrent writers:

- WAL journal: readers never block the writer, nor the writer the readers;
- a busy timeout: a writer that finds the file locked waits (up to ``timeout`` seconds) instead of failing;
- immediate write transactions (``BEGIN IMMEDIATE``): a transaction takes the write lock when it begins.
  With SQLite's default (deferred), a transaction that reads and then writes while another one writes
  fails at once with "database is locked", busy timeout or not, since waiting could deadlock.
"""

from __future__ import annotations

from typing import Any

import django

# NORMAL is durable across a crash of the process; only a power loss may lose the last commits.
INIT_COMMAND = "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL"


def sqlite_options(timeout: float = 30) -> dict[str, Any]:
    """``DATABASES[...]["OPTIONS"]`` for a SQLite database written by several processes.

    ``transaction_mode`` and ``init_command`` arrived in Django 5.1; under Django 4.2 (Open edX Teak,
    where the platform's database is MariaDB or MySQL anyway) only the busy timeout applies.
    """
    options: dict[str, Any] = {"timeout": timeout}
    if django.VERSION >= (5, 1):
        options.update(transaction_mode="IMMEDIATE", init_command=INIT_COMMAND)
    return options
