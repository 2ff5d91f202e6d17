"""The sample course as Open edX's import sees it: edx-cleaner (olxcleaner) finds nothing but Kafaat's own tags."""

import pathlib
import subprocess
import sys

COURSE = pathlib.Path(__file__).resolve().parents[1] / "course_content"


def test_edx_cleaner_accepts_the_sample_course():
    cleaner = pathlib.Path(sys.executable).with_name("edx-cleaner")
    result = subprocess.run(
        [str(cleaner), "-c", "course.xml", "-i", "UnexpectedTag"],
        cwd=COURSE,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors found!" in result.stdout


def test_edx_cleaner_reports_only_kafaat_tags_as_unexpected():
    """Without the ignore list the only findings are the XBlock tags olxcleaner does not know."""
    cleaner = pathlib.Path(sys.executable).with_name("edx-cleaner")
    result = subprocess.run(
        [str(cleaner), "-c", "course.xml"], cwd=COURSE, capture_output=True, text=True, timeout=120, check=False
    )
    findings = [line for line in result.stdout.splitlines() if line.startswith(("ERROR ", "WARNING "))]
    assert findings and all(line.startswith("ERROR UnexpectedTag") for line in findings), findings
    assert all("<kafaat_lab>" in line or "<kafaat_certification>" in line for line in findings)
