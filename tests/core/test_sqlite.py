"""The embedded default's SQLite options: many writers at once wait for each other instead of failing."""

from __future__ import annotations

import sqlite3
import threading

import django
import pytest
from django.db import connection

from xblocks.core.sqlite import INIT_COMMAND


def _connect(path, *, timeout: float = 10) -> sqlite3.Connection:
    """A raw connection set up as Django sets up one with ``sqlite_options`` (autocommit, the init commands)."""
    db = sqlite3.connect(str(path), timeout=timeout, isolation_level=None, check_same_thread=False)
    for command in INIT_COMMAND.split(";"):
        if command.strip():
            db.execute(command)
    return db


def _counter(path) -> None:
    db = _connect(path)
    db.execute("CREATE TABLE counter (n INTEGER)")
    db.execute("INSERT INTO counter VALUES (0)")
    db.close()


def test_a_deferred_transaction_that_read_before_another_wrote_fails_with_database_is_locked(tmp_path):
    """What the receivers met before: SQLite's default transactions fail at once, busy timeout or not."""
    path = tmp_path / "deferred.db"
    _counter(path)
    first, second = _connect(path), _connect(path)
    first.execute("BEGIN")
    first.execute("SELECT n FROM counter").fetchone()
    second.execute("BEGIN")
    second.execute("SELECT n FROM counter").fetchone()
    first.execute("UPDATE counter SET n = n + 1")
    first.execute("COMMIT")
    with pytest.raises(sqlite3.OperationalError, match="database is locked"):
        second.execute("UPDATE counter SET n = n + 1")


def test_immediate_transactions_of_many_threads_reading_then_writing_all_commit(tmp_path):
    path = tmp_path / "immediate.db"
    _counter(path)
    errors: list[Exception] = []
    start = threading.Barrier(8)

    def writer():
        db = _connect(path)
        start.wait()
        try:
            for _ in range(40):
                db.execute("BEGIN IMMEDIATE")
                (n,) = db.execute("SELECT n FROM counter").fetchone()
                db.execute("UPDATE counter SET n = ?", (n + 1,))
                db.execute("COMMIT")
        except Exception as error:  # collected: the assertion below names it
            errors.append(error)
        finally:
            db.close()

    threads = [threading.Thread(target=writer) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert _connect(path).execute("SELECT n FROM counter").fetchone() == (320,)  # no lost update either


@pytest.mark.django_db
@pytest.mark.skipif(django.VERSION < (5, 1), reason="SQLite transaction_mode and init_command need Django 5.1")
def test_the_embedded_database_runs_in_wal_mode_with_immediate_transactions():
    if connection.vendor != "sqlite":
        pytest.skip("the options are SQLite's; MariaDB runs with its own")
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 20000
    assert connection.transaction_mode == "IMMEDIATE"
