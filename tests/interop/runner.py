"""Runs ``verify.mjs`` (implementations nobody on the project wrote) on artefacts made by Kafaat's real code.

The tests that call it live beside the code they check (tests/certification/...); this module only finds
node, refuses to run without the locked node modules, and passes one job in and one JSON answer out.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
SCRIPT = HERE / "verify.mjs"
STAMP = HERE / "node_modules" / ".kafaat-installed"


def node() -> str:
    """The node binary; skips the test, loudly, where node is not installed (and only there)."""
    binary = shutil.which("node")
    if binary is None:
        message = (
            "INTEROP TIER SKIPPED: node is not installed, so nothing checked Kafaat's credentials, "
            "VC-JWTs, schema conformance or xAPI statements with independent implementations"
        )
        # pytest.ini turns warnings into errors; the skip reason is printed in the run's summary (-ra).
        pytest.skip(message)
    if not STAMP.exists():
        pytest.fail("the interop tier's node modules are not installed: run `make interop`", pytrace=False)
    return binary


def run(job: dict) -> dict:
    """One job to ``verify.mjs`` (see its header); its answer, per check."""
    completed = subprocess.run(
        [node(), str(SCRIPT)],
        input=json.dumps(job),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if completed.returncode != 0:
        raise AssertionError(f"verify.mjs failed ({completed.returncode}):\n{completed.stderr}")
    return json.loads(completed.stdout)
