"""Hostile files are refused before a byte is read, on every path that reads one.

Each path (lab OLX for ``kafaat lab validate``, track files, the hours CSV import command, ``kafaat cert
verify``, and the web uploads) meets four files: one byte over its limit, a FIFO with no writer (a plain
``open`` blocks forever), a symlink to ``/dev/zero`` (a plain ``read`` never ends) and a sparse file that
claims 64 GiB. Each is refused within a couple of seconds with a message naming the problem, and the
good files next to it are still handled.
"""

from __future__ import annotations

import json
import os
import pathlib
import shutil
import time

import pytest

from xblocks.cli import main
from xblocks.core import files

ROOT = pathlib.Path(__file__).resolve().parents[2]
HOSTILE = ["one_byte_over", "fifo", "symlink_to_dev_zero", "sparse_64_gib"]
QUICK = 5.0  # seconds: generous for a loaded machine; reading 64 GiB or waiting on a FIFO never ends

GOOD_LAB = """<kafaat_lab display_name="Fine" time_limit="5" idle_timeout="5">
  <step id="one" title="One"><check id="c">true</check><solve>true</solve></step>
</kafaat_lab>
"""


def make_hostile(path: pathlib.Path, kind: str, limit: int, head: bytes = b"") -> pathlib.Path:
    if kind == "one_byte_over":
        path.write_bytes(head + b" " * (limit + 1 - len(head)))
    elif kind == "fifo":
        os.mkfifo(path)
    elif kind == "symlink_to_dev_zero":
        path.symlink_to("/dev/zero")
    else:
        with open(path, "wb") as handle:
            handle.truncate(64 * 1024**3)
    return path


def _expected(kind: str) -> str:
    return {
        "one_byte_over": "refused before reading",
        "fifo": "named pipe",
        "symlink_to_dev_zero": "device",
        "sparse_64_gib": "refused before reading",
    }[kind]


@pytest.mark.parametrize("kind", HOSTILE)
def test_read_limited_refuses_without_reading(tmp_path, kind):
    path = make_hostile(tmp_path / "f", kind, 1000)
    started = time.monotonic()
    with pytest.raises(files.FileRefused) as refused:
        files.read_limited(path, 1000)
    assert time.monotonic() - started < QUICK
    assert _expected(kind) in str(refused.value)


def test_read_limited_reads_a_file_at_the_limit_and_refuses_a_folder(tmp_path):
    (tmp_path / "ok").write_bytes(b"x" * 1000)
    assert files.read_limited(tmp_path / "ok", 1000) == b"x" * 1000
    with pytest.raises(files.FileRefused, match="folder"):
        files.read_limited(tmp_path, 1000)
    with pytest.raises(files.FileRefused, match="cannot open"):
        files.read_limited(tmp_path / "missing", 1000)


@pytest.mark.parametrize("kind", HOSTILE)
def test_lab_validate_refuses_a_hostile_file_and_still_checks_the_others(tmp_path, capsys, kind):
    from xblocks.core.xml import MAX_XML_BYTES

    (tmp_path / "a_good.xml").write_text(GOOD_LAB)
    hostile = make_hostile(tmp_path / "b_hostile.xml", kind, MAX_XML_BYTES, head=b"<kafaat_lab>")
    started = time.monotonic()
    assert main(["lab", "validate", str(tmp_path)]) == 1
    assert time.monotonic() - started < QUICK
    out = capsys.readouterr().out
    assert f"{hostile}: " in out and _expected(kind) in out
    assert "a_good.xml: ok" in out  # nothing lost: the good lab was still validated
    started = time.monotonic()
    assert main(["lab", "validate", str(hostile)]) == 1  # named directly too
    assert time.monotonic() - started < QUICK


@pytest.mark.django_db
@pytest.mark.parametrize("kind", HOSTILE)
def test_track_loading_refuses_a_hostile_file_and_loads_the_others(tmp_path, kind):
    from tests.certification.helpers import missing_labs
    from xblocks.certification import models, tracks

    copied = 0
    for path in (ROOT / "course_content" / "tracks").glob("*.json"):
        if not missing_labs(json.loads(path.read_text(encoding="utf-8"))):  # the tracks whose labs exist
            shutil.copy(path, tmp_path / path.name)
            copied += 1
    make_hostile(tmp_path / "zz-evil.json", kind, tracks.MAX_TRACK_BYTES, head=b"{")
    started = time.monotonic()
    report = tracks.load_directory(tmp_path, lab_paths=[ROOT / "course_content"])
    assert time.monotonic() - started < QUICK
    assert len(report.errors) == 1 and report.errors[0].startswith("zz-evil.json: ")
    assert _expected(kind) in report.errors[0]
    assert models.Track.objects.count() == copied >= 2


@pytest.mark.django_db
@pytest.mark.parametrize("kind", HOSTILE)
def test_the_hours_import_command_refuses_a_hostile_file(tmp_path, settings, django_user_model, kind):
    from django.core.management import call_command
    from django.core.management.base import CommandError

    from xblocks.certification import models

    settings.KAFAAT = {**settings.KAFAAT, "CERT_MAX_IMPORT_BYTES": 4096}
    django_user_model.objects.create_user("ops", is_staff=True)
    path = make_hostile(tmp_path / "hours.csv", kind, 4096, head=b"username,cohort,source,minutes,date\n")
    started = time.monotonic()
    with pytest.raises(CommandError) as refused:
        call_command("kafaat_import_hours", str(path), "--as", "ops", "--commit")
    assert time.monotonic() - started < QUICK
    assert _expected(kind) in str(refused.value) and "nothing was imported" in str(refused.value)
    assert not models.HoursEntry.objects.exists()


@pytest.mark.django_db
@pytest.mark.parametrize("kind", HOSTILE)
def test_cert_verify_refuses_a_hostile_file(tmp_path, capsys, kind):
    from xblocks.certification.credentials.cli import MAX_CREDENTIAL_BYTES

    path = make_hostile(tmp_path / "credential.json", kind, MAX_CREDENTIAL_BYTES, head=b'{"a":"')
    started = time.monotonic()
    assert main(["cert", "verify", str(path)]) == 2
    assert time.monotonic() - started < QUICK
    err = capsys.readouterr().err
    assert "FAILED: cannot read" in err and _expected(kind) in err
