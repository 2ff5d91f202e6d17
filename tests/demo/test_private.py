"""The demo's secrets: a per-install key under var/ (0600, atomic, reused) and a database nobody else can read."""

from __future__ import annotations

import multiprocessing
import os
import pathlib
import stat
import subprocess
import sys

import pytest

from demo import private

CHECKOUT = pathlib.Path(__file__).resolve().parents[2]
PUBLIC_KEY_OF_OLD = "kafaat-demo-not-secret-" + "x" * 24


def _mode(path: pathlib.Path) -> int:
    return stat.S_IMODE(os.lstat(path).st_mode)


def _start_demo_settings(var_dir: pathlib.Path, *args: str) -> str:
    """Load demo.settings in a fresh process with a permissive umask, as `make demo` would; returns its key."""
    env = {k: v for k, v in os.environ.items() if k not in ("KAFAAT_DEMO_SECRET_KEY", "DJANGO_SETTINGS_MODULE")}
    env.update(KAFAAT_VAR_DIR=str(var_dir), DJANGO_SETTINGS_MODULE="demo.settings", PYTHONPATH=str(CHECKOUT))
    code = (
        "import os, sys; os.umask(0o022); import django; django.setup(); from django.conf import settings; "
        "from django.core.management import call_command; "
        "args = sys.argv[1:]; args and call_command(*args, verbosity=0); print(settings.SECRET_KEY)"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, cwd=CHECKOUT, capture_output=True, text=True, timeout=240
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip().splitlines()[-1]


def test_the_demo_makes_its_own_secret_and_private_files(tmp_path):
    var = tmp_path / "var"
    key = _start_demo_settings(var, "migrate")
    assert key != PUBLIC_KEY_OF_OLD and len(key) >= 48
    assert _mode(var) == 0o700
    assert _mode(var / "secret-key") == 0o600
    assert (var / "secret-key").read_text().strip() == key
    assert _mode(var / "workbench.db") == 0o600 and (var / "workbench.db").stat().st_size > 0  # migrated, still 0600
    assert _mode(var / "kafaat.log") == 0o600
    for folder in (
        "broker",
        "broker-processed",
        "broker-control",
        "celery-results",
        "credential-keys",
        "mail",
        "exports",
    ):
        assert _mode(var / folder) == 0o700, folder
    # restarting reuses the key (sessions, signed values and lab flags survive a restart)...
    assert _start_demo_settings(var) == key
    # ...and another install gets another one (nobody can compute this install's flags from the repository)
    assert _start_demo_settings(tmp_path / "other") != key


def test_an_existing_world_readable_var_and_database_are_tightened(tmp_path):
    var = tmp_path / "var"
    var.mkdir(mode=0o755)
    var.chmod(0o755)
    db = var / "workbench.db"
    db.write_bytes(b"")
    db.chmod(0o644)
    _start_demo_settings(var)
    assert _mode(var) == 0o700 and _mode(db) == 0o600


def _key_of(path: str) -> str:
    return private.secret_key(pathlib.Path(path))


def test_processes_starting_together_agree_on_one_key(tmp_path):
    with multiprocessing.get_context("fork").Pool(6) as pool:
        keys = pool.map(_key_of, [str(tmp_path)] * 12)
    assert len(set(keys)) == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["secret-key"]  # no temporary file left behind


@pytest.mark.parametrize("problem", ["world-readable", "symlink", "empty"])
def test_a_key_file_that_is_not_private_is_refused(tmp_path, problem):
    path = tmp_path / "secret-key"
    if problem == "world-readable":
        path.write_text("k" * 64)
        path.chmod(0o644)
    elif problem == "symlink":
        target = tmp_path / "elsewhere"
        target.write_text("k" * 64)
        target.chmod(0o600)
        path.symlink_to(target)
    else:
        path.write_text("")
        path.chmod(0o600)
    with pytest.raises(OSError):
        private.secret_key(tmp_path)
