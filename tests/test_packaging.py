"""The distributions a user installs hold every file of the package: the sdist, and the wheel built from it.

The expected files come from the source tree itself (every file under ``xblocks/`` but bytecode), so a
new kind of file (a C source, a font, a catalog in a new place) is checked the day it is added.
"""

from __future__ import annotations

import pathlib
import shutil
import subprocess
import sys
import tarfile
import zipfile

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SKIPPED_SUFFIXES = {".pyc", ".pyo", ".so"}


def _package_files() -> set[str]:
    files = set()
    for path in (ROOT / "xblocks").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix not in SKIPPED_SUFFIXES:
            files.add(path.relative_to(ROOT).as_posix())
    return files


@pytest.fixture(scope="module")
def distributions(tmp_path_factory) -> dict[str, pathlib.Path]:
    out = tmp_path_factory.mktemp("dist")
    # A clean copy: setuptools would otherwise reuse the file list of the checkout's editable install.
    source = tmp_path_factory.mktemp("source") / "kafaat"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv", ".tox", "var", "build", "dist", "*.egg-info", "__pycache__"),
    )
    # Without isolation: the test virtualenv's setuptools builds, as the Makefile installed it (no download).
    subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(out), str(source)],
        check=True,
        capture_output=True,
        timeout=600,
    )
    (sdist,) = out.glob("*.tar.gz")
    (wheel,) = out.glob("*.whl")
    return {"sdist": sdist, "wheel": wheel}


def test_the_package_tree_has_the_kinds_of_files_users_need():
    suffixes = {pathlib.PurePosixPath(name).suffix for name in _package_files()}
    assert {".py", ".html", ".js", ".css", ".po", ".mo", ".json", ".jsonld", ".ttf"} <= suffixes


@pytest.mark.slow
def test_the_sdist_holds_every_package_file_and_the_requirements(distributions):
    with tarfile.open(distributions["sdist"]) as archive:
        names = {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}
    missing = _package_files() - names
    assert not missing, sorted(missing)
    assert {"setup.py", "README.md", "CHANGELOG.md", "requirements/base.txt", "requirements/openedx.txt"} <= names


@pytest.mark.slow
def test_the_wheel_built_from_the_sdist_holds_every_package_file_and_its_entry_points(distributions):
    with zipfile.ZipFile(distributions["wheel"]) as archive:
        names = set(archive.namelist())
        (entry_points,) = [name for name in names if name.endswith(".dist-info/entry_points.txt")]
        entry_text = archive.read(entry_points).decode()
        (metadata,) = [name for name in names if name.endswith(".dist-info/METADATA")]
        metadata_text = archive.read(metadata).decode()
    missing = _package_files() - names
    assert not missing, sorted(missing)
    for group in ("[xblock.v1]", "[lms.djangoapp]", "[cms.djangoapp]", "[console_scripts]"):
        assert group in entry_text
    assert entry_text.count("kafaat_exports = xblocks.certification.exports.apps:ExportsConfig") == 2  # LMS, CMS
    assert entry_text.count("kafaat_partnership = xblocks.partnership.apps:PartnershipConfig") == 2
    assert "Provides-Extra: openedx" in metadata_text
