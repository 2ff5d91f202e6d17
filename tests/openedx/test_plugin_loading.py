"""Kafaat loads into the LMS and Studio the way edx-platform loads plugins, and both projects start."""

import importlib
import os
import subprocess
import sys

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection

from tests.openedx.platform import RELEASE, is_placeholder

KAFAAT_APPS = {
    "xblocks.labs.apps.LabsConfig",
    "xblocks.labs.terminal.apps.TerminalConfig",
    "xblocks.certification.apps.CertificationConfig",
    "xblocks.certification.credentials.apps.CredentialsConfig",
    "xblocks.certification.exports.apps.ExportsConfig",
    "xblocks.partnership.apps.PartnershipConfig",
}
KAFAAT_LABELS = [
    "kafaat_labs",
    "kafaat_terminal",
    "kafaat_certification",
    "kafaat_credentials",
    "kafaat_exports",
    "kafaat_partnership",
]


def test_every_kafaat_app_is_a_plugin_app_of_this_project():
    assert KAFAAT_APPS <= set(settings.INSTALLED_APPS)
    assert {config.label for config in apps.get_app_configs()} >= set(KAFAAT_LABELS)


def test_common_plugin_settings_ran_while_derived_settings_were_placeholders(project):
    common = importlib.import_module(f"tests.openedx.envs.{project}_common")
    # The common module still holds the placeholders: COMMON plugin settings neither read nor replaced them.
    assert is_placeholder(common.LOCALE_PATHS)
    assert is_placeholder(common.STATICFILES_DIRS)
    # Kafaat's COMMON settings wrote its own name and nothing else (completion adds its own settings).
    assert "KAFAAT" in common.PLUGIN_COMMON_CHANGES
    assert {name for name in common.PLUGIN_COMMON_CHANGES if not name.startswith("COMPLETION_")} == {"KAFAAT"}


def test_derived_settings_are_values_once_the_platform_derived_them():
    assert isinstance(settings.LOCALE_PATHS, list) and all(isinstance(path, str) for path in settings.LOCALE_PATHS)
    # Kafaat's catalogs are found through its apps' locale folders, never through LOCALE_PATHS.
    assert not any("xblocks" in path for path in settings.LOCALE_PATHS)


@pytest.mark.django_db
def test_every_kafaat_model_has_its_table():
    """Studio used to leave the terminal, credentials and exports models on apps it had not installed."""
    tables = set(connection.introspection.table_names())
    for label in KAFAAT_LABELS:
        for model in apps.get_app_config(label).get_models():
            assert model._meta.db_table in tables, f"{model.__name__} has no table in this project"
    for model in apps.get_models():
        if model.__module__.startswith("xblocks."):
            assert model._meta.app_label in KAFAAT_LABELS, f"{model.__module__}.{model.__name__}"


@pytest.mark.django_db
def test_models_and_migrations_agree():
    call_command("makemigrations", *KAFAAT_LABELS, check=True, dry_run=True, verbosity=0)


@pytest.mark.django_db
def test_no_migration_is_left_unapplied():
    call_command("migrate", check_unapplied=True, verbosity=0)


@pytest.mark.parametrize("kind", ["production", "devstack"])
def test_production_plugin_settings_register_the_periodic_jobs_and_lab_routes(project, kind, tmp_path):
    """Beat entries and routes extend the platform's own, after its production settings defined them."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"tests.openedx.envs.{project}_{kind}",
        "KAFAAT_VAR_DIR": str(tmp_path),
        "KAFAAT_OPENEDX_RELEASE": RELEASE,
    }
    probe = (
        "import django, json; from django.conf import settings; django.setup();"
        "print(json.dumps([sorted(settings.CELERYBEAT_SCHEDULE), settings.EXPLICIT_QUEUES]))"
    )
    result = subprocess.run(
        [sys.executable, "-W", "ignore::DeprecationWarning", "-c", probe],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    import json  # pylint: disable=import-outside-toplevel

    from xblocks.core import periodic, routing  # pylint: disable=import-outside-toplevel

    beat, routes = json.loads(result.stdout.strip().splitlines()[-1])
    assert {job.name for job in periodic.JOBS} <= set(beat)
    assert all(routes[task] == {"queue": "kafaat.labs"} for task in routing.LAB_TASKS)
    assert routes["lms.djangoapps.grades.tasks.compute_all_grades_for_course"] == {"queue": "edx.lms.core.high"}


@pytest.mark.parametrize("kind", ["test", "production", "devstack"])
def test_the_project_starts_with_each_settings_type(project, kind, tmp_path):
    """``manage.py check`` then ``migrate`` on a fresh database, in a new process per settings type."""
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": f"tests.openedx.envs.{project}_{kind}",
        "KAFAAT_VAR_DIR": str(tmp_path),
        "KAFAAT_OPENEDX_RELEASE": RELEASE,
    }
    for command in (["check", "--fail-level", "WARNING"], ["migrate", "--noinput", "-v", "0"]):
        result = subprocess.run(
            [sys.executable, "-W", "ignore::DeprecationWarning", "-m", "django", *command],
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert result.returncode == 0, f"{' '.join(command)} under {kind}:\n{result.stdout}\n{result.stderr}"
