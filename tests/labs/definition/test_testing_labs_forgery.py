"""The software-testing labs run code the learner wrote (their tests, their fix) in outside checks. Those
checks must not be forgeable by such code: telling a mutant from the original by anything but its
behaviour (its source, the order of the runs), ending the run with the status the check wants, or
reading what the check keeps hidden. Each attack below is what a hostile learner would write instead of
the lab's solve, and the honest solves still pass."""

from __future__ import annotations

import pathlib
import re

import pytest

from xblocks.cli import main

VERTICALS = pathlib.Path(__file__).resolve().parents[3] / "course_content" / "vertical"
MUTANTS = VERTICALS / "unit_testing_mutants.xml"
BUG_PIN = VERTICALS / "unit_testing_bug_pin.xml"
SOLVE = re.compile(r"<solve user=\"learner\"><!\[CDATA\[.*?\]\]></solve>", re.S)

# Kills every mutant without testing anything: the first run of a check (the original calculator, when
# the runs come in order) passes, every later run fails, counted in a file that outlives the run.
RUN_COUNTER = r"""
cd ~/premium
cat > tests/conftest.py <<'PY'
import pathlib


def pytest_sessionfinish(session, exitstatus):
    mark = pathlib.Path("/tmp/.kafaat-seen")
    try:
        seen = mark.exists()
        mark.touch()
    except OSError:
        seen = False
    session.exitstatus = 1 if seen else 0
PY
cat > tests/test_more.py <<'PY'
def test_one():
    pass


def test_two():
    pass
PY
"""

# Kills every mutant without testing behaviour: the module under test must be the pristine calculator,
# byte for byte (read without the words the runner refuses: `open(`, `read_text`, `__file__`, `os.`).
SOURCE_COMPARE = r"""
cd ~/premium
cat > tests/test_more.py <<'PY'
import pathlib

import premium

READ = "read_" + "text"


def test_the_module_is_the_pristine_one():
    here = getattr(pathlib.Path(vars(premium)["__fi" + "le__"]), READ)()
    for shipped in ("/lab/opt/kafaat/premium-original.py", "/opt/kafaat/premium-original.py"):
        try:
            assert here == getattr(pathlib.Path(shipped), READ)()
            return
        except OSError:
            continue
    assert False, "no pristine copy to compare with"


def test_again():
    test_the_module_is_the_pristine_one()
PY
"""

# Pins the bug by the shipped code's text, not by what settle pays.
PIN_BY_SOURCE = r"""
cd ~/claims
cat > tests/test_ticket.py <<'PY'
import pathlib

import settlement


def test_ticket():
    text = getattr(pathlib.Path(settlement.__file__), "read_text")()
    assert "covered = min(" not in text
PY
"""

# "Fixes" the bug by ending any run outside the learner's own folder with success, so hidden tests that
# import the module are never run but pytest's status says they passed.
EXIT_ON_IMPORT = r"""
cd ~/claims
cat >> settlement.py <<'PY'

import os as _os

if not _os.getcwd().startswith("/home/learner"):
    _os._exit(0)
PY
"""


def _lab(tmp_path, path, solves):
    """The lab at ``path`` with the solve of each step named in ``solves`` replaced by an attack."""
    source = path.read_text(encoding="utf-8")
    for step, script in solves.items():
        start = source.index(f'<step id="{step}"')
        end = source.index("</step>", start)
        part = SOLVE.sub(
            lambda _m, s=script: f'<solve user="learner"><![CDATA[{s}]]></solve>', source[start:end], count=1
        )
        source = source[:start] + part + source[end:]
    lab = tmp_path / path.name
    lab.write_text(source, encoding="utf-8")
    return lab


def _run(tmp_path, capsys, path, solves):
    assert main(["lab", "test", str(_lab(tmp_path, path, solves))]) == 1
    return capsys.readouterr().out


MUTANT_CHECKS = {
    "young": ("young-boundary", "young-amount", "minimum-age"),
    "no-claims": ("ncd-rate", "ncd-cap"),
    "loading": ("claims-count", "minimum-premium", "rounding"),
}


@pytest.mark.sandbox
@pytest.mark.parametrize("attack", [RUN_COUNTER, SOURCE_COMPARE], ids=["run-counter", "source-compare"])
def test_tests_that_do_not_test_behaviour_kill_no_mutant(tmp_path, capsys, attack):
    out = _run(tmp_path, capsys, MUTANTS, {"young": attack, "no-claims": "true", "loading": "true"})
    for step, checks in MUTANT_CHECKS.items():
        for check in checks:
            assert f"step {step} solved check {check}: FAILED" in out, (check, out)


@pytest.mark.sandbox
def test_a_pin_that_reads_the_source_is_no_pin(tmp_path, capsys):
    out = _run(tmp_path, capsys, BUG_PIN, {"pin": PIN_BY_SOURCE})
    assert "step pin solved check fails-on-shipped: FAILED" in out


@pytest.mark.sandbox
def test_a_module_that_ends_the_hidden_tests_with_success_is_not_a_fix(tmp_path, capsys):
    out = _run(tmp_path, capsys, BUG_PIN, {"fix": EXIT_ON_IMPORT})
    assert "step pin solved check fails-on-shipped: passes" in out  # the honest pin still passes
    assert "step fix solved check ticket-paid: FAILED" in out
    assert "step fix solved check no-regression: FAILED" in out


@pytest.mark.sandbox
@pytest.mark.parametrize("path", [MUTANTS, BUG_PIN], ids=lambda p: p.stem)
def test_the_honest_solves_still_pass(path, capsys):
    assert main(["lab", "test", str(path)]) == 0, capsys.readouterr().out


def _grader(path):
    source = path.read_text(encoding="utf-8")
    start = source.index('<file path="/opt/kafaat/grade.py"')
    return source[start : source.index("]]></file>", start)]


def test_both_testing_labs_ship_the_same_grader():
    assert _grader(MUTANTS) == _grader(BUG_PIN)
    # and no check of theirs runs the learner's code as its own root any more
    for path in (MUTANTS, BUG_PIN):
        checks = re.findall(
            r'<check [^>]*where="outside"[^>]*><!\[CDATA\[(.*?)\]\]></check>', path.read_text(encoding="utf-8"), re.S
        )
        assert checks
        for check in checks:
            assert "pytest" not in check and "mutate.py" not in check, check
