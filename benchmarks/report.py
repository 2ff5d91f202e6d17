"""Shared figures for every benchmark: percentiles, a printed table, and a JSON file under benchmarks/results/."""

from __future__ import annotations

import json
import pathlib
import platform
import statistics
import time
from collections.abc import Sequence

RESULTS = pathlib.Path(__file__).resolve().parent / "results"


def percentile(values: Sequence[float], pct: float) -> float:
    """Nearest-rank percentile (pct in 0..100) of a non-empty sample."""
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    rank = max(0, min(len(ordered) - 1, int(round(pct / 100 * len(ordered) + 0.5)) - 1))
    return ordered[rank]


def summary(values: Sequence[float]) -> dict[str, float]:
    return {
        "n": len(values),
        "p50": percentile(values, 50),
        "p95": percentile(values, 95),
        "mean": statistics.fmean(values) if values else float("nan"),
        "max": max(values) if values else float("nan"),
    }


def ratio(value: float, baseline: float) -> float:
    return value / baseline if baseline else float("nan")


def print_table(title: str, rows: list[dict], columns: list[str]) -> None:
    """Print rows (dicts) as an aligned table with the given columns."""

    def fmt(value):
        if isinstance(value, float):
            return f"{value:.3f}" if abs(value) < 1000 else f"{value:.0f}"
        return str(value)

    cells = [[fmt(row.get(col, "")) for col in columns] for row in rows]
    widths = [max(len(col), *(len(c[i]) for c in cells)) if cells else len(col) for i, col in enumerate(columns)]
    print(f"\n{title}")
    print("  ".join(col.ljust(w) for col, w in zip(columns, widths, strict=True)))
    print("  ".join("-" * w for w in widths))
    for row in cells:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)))


def save(name: str, figures: dict) -> pathlib.Path:
    """Write figures with the machine's description to benchmarks/results/NAME-<timestamp>.json."""
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"{name}-{time.strftime('%Y%m%dT%H%M%S')}.json"
    payload = {
        "benchmark": name,
        "at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": {"python": platform.python_version(), "platform": platform.platform(), "cpus": _cpus()},
        "figures": figures,
    }
    path.write_text(json.dumps(payload, indent=2, default=str), encoding="utf-8")
    print(f"\nsaved {path.relative_to(RESULTS.parent.parent)}")
    return path


def _cpus() -> int:
    import os

    return os.cpu_count() or 1


def mariadb_account() -> dict[str, str]:
    """The MariaDB account benchmarks use: the tests' account (``make services`` creates it), which may
    only create databases named ``test_kafaat_*``; ``KAFAAT_MARIADB_*`` override it."""
    import os

    return {
        "USER": os.environ.get("KAFAAT_MARIADB_USER", "kafaat_test"),
        "PASSWORD": os.environ.get("KAFAAT_MARIADB_PASSWORD", "kafaat_test"),
        "HOST": os.environ.get("KAFAAT_MARIADB_HOST", "127.0.0.1"),
        "PORT": os.environ.get("KAFAAT_MARIADB_PORT", "3306"),
    }


def _mariadb_admin(statement: str) -> None:
    import pymysql

    account = mariadb_account()
    with (
        pymysql.connect(
            host=account["HOST"], port=int(account["PORT"]), user=account["USER"], password=account["PASSWORD"]
        ) as admin,
        admin.cursor() as cursor,
    ):
        cursor.execute(statement)


def create_mariadb_database(name: str) -> dict:
    """Create the scratch database ``name`` (a ``test_kafaat_*`` name: all the account may create) and
    return Django's settings for it; ``drop_mariadb_database`` removes it."""
    import pymysql

    pymysql.install_as_MySQLdb()
    _mariadb_admin(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    return mariadb_settings(name)


def mariadb_settings(name: str) -> dict:
    """Django's ``DATABASES['default']`` for the database ``name`` on the benchmarks' account."""
    return {"ENGINE": "django.db.backends.mysql", "NAME": name, **mariadb_account(), "OPTIONS": {"charset": "utf8mb4"}}


def drop_mariadb_database(name: str) -> None:
    _mariadb_admin(f"DROP DATABASE IF EXISTS `{name}`")
