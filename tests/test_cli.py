"""The ``kafaat`` entry point imports only the command group it runs (start-up time of operators' commands)."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]

PROBE = """
import sys
from xblocks import cli
try:
    cli.main(sys.argv[1:])
except SystemExit:
    pass
heavy = ["django", "lxml", "xblocks.certification", "xblocks.labs.cli", "xblocks.labs.catalog"]
print("loaded:", *(name for name in heavy if name in sys.modules))
"""


def loaded_by(*words: str) -> set[str]:
    env = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *words], capture_output=True, text=True, env=env, cwd=str(ROOT), check=True
    )
    return set(done.stdout.splitlines()[-1].split()[1:])


def test_a_sandbox_command_imports_neither_django_nor_the_other_groups():
    assert loaded_by("sandbox", "list") == set()
    assert loaded_by("image", "list") == set()


def test_the_help_still_names_every_group_and_a_group_still_gets_its_subcommands():
    done = subprocess.run(
        [sys.executable, "-m", "xblocks.cli", "--help"], capture_output=True, text=True, cwd=str(ROOT), check=True
    )
    for group in ("image", "sandbox", "lab", "cert"):
        assert group in done.stdout
    assert "xblocks.labs.cli" in loaded_by("lab", "validate", "--help")
