"""``kafaat lab validate|test``: output naming file and line, and exit codes an author and CI rely on."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
from lxml import etree

from xblocks.cli import main

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "olx"

PASSING = """<kafaat_lab display_name="Passes" time_limit="5" idle_timeout="5">
  <param name="flag" kind="flag"/>
  <setup user="learner">mkdir -p /home/learner/work</setup>
  <step id="one" title="One">
    <check id="file"><![CDATA[test -f /home/learner/work/answer || { echo "missing"; exit 1; }]]></check>
    <solve>runuser -u learner -- touch /home/learner/work/answer</solve>
  </step>
  <step id="two" title="Two">
    <check id="content" user="learner">grep -q 42 /home/learner/work/answer</check>
    <flag id="f">{{ lab.param.flag }}</flag>
    <solve>echo 42 > /home/learner/work/answer; echo "found {{ lab.param.flag }}" | cut -d" " -f2</solve>
  </step>
</kafaat_lab>
"""
SOLVE_DOES_NOT_SATISFY = """<kafaat_lab display_name="Broken solve" time_limit="5" idle_timeout="5">
  <step id="one" title="One">
    <check id="file">test -f /tmp/answer</check>
    <solve>touch /tmp/wrong-name</solve>
  </step>
</kafaat_lab>
"""
FLAG_NOT_PLANTED = """<kafaat_lab display_name="Flag typo" time_limit="5" idle_timeout="5">
  <param name="secret" kind="flag"/>
  <param name="other" kind="hex"/>
  <setup>echo "{{ lab.param.other }}" > /root/flag.txt</setup>
  <step id="find" title="Find it">
    <flag id="f">{{ lab.param.secret }}</flag>
    <solve>cat /root/flag.txt</solve>
  </step>
</kafaat_lab>
"""
OUTSIDE = """<kafaat_lab display_name="Checked from outside" time_limit="5" idle_timeout="5" sudo="true">
  <step id="one" title="One">
    <check id="mode" where="outside"><![CDATA[
      [ "$(stat -c '%U %a' /lab/srv/app.conf 2>/dev/null)" = "root 600" ] || { echo "not yet"; exit 1; }
    ]]></check>
    <solve user="learner">echo x | sudo tee /srv/app.conf >/dev/null; sudo chmod 600 /srv/app.conf</solve>
  </step>
</kafaat_lab>
"""
PASSES_WHEN_FRESH = """<kafaat_lab display_name="Always passes" time_limit="5" idle_timeout="5">
  <step id="one" title="One">
    <check id="trivial">true</check>
    <solve>true</solve>
  </step>
</kafaat_lab>
"""


def _write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


def test_validate_accepts_the_sample_course(capsys):
    assert main(["lab", "validate", str(ROOT / "course_content")]) == 0
    out = capsys.readouterr().out
    assert out.count(": ok: ") >= 3


def test_validate_names_file_and_line_of_every_problem_and_exits_1(capsys):
    bad = FIXTURES / "bad" / "duplicate_step_id.xml"
    assert main(["lab", "validate", str(FIXTURES / "minimal.xml"), str(bad)]) == 1
    out = capsys.readouterr().out
    assert f"{bad}:6: Duplicate step id 's' (first used on line 3)." in out
    assert "minimal.xml: ok:" in out


def test_validate_finds_labs_inline_in_a_vertical_and_skips_pointers(capsys):
    assert main(["lab", "validate", str(FIXTURES / "inline_in_vertical.xml")]) == 0
    out = capsys.readouterr().out
    assert "inline_in_vertical.xml:3: ok: 'Inline lab'" in out
    assert out.count(": ok: ") == 1


def test_validate_reports_inline_problems_at_their_line_in_the_enclosing_file(tmp_path, capsys):
    path = _write(
        tmp_path,
        "vertical.xml",
        '<vertical>\n  <html/>\n  <kafaat_lab display_name="x">\n    <step id="s" title="S" colour="red">\n'
        '      <check id="c">true</check>\n    </step>\n  </kafaat_lab>\n</vertical>\n',
    )
    assert main(["lab", "validate", path]) == 1
    assert f"{path}:4: Unknown attribute colour on <step>." in capsys.readouterr().out


def test_validate_without_any_lab_exits_1(tmp_path, capsys):
    _write(tmp_path, "vertical.xml", "<vertical><html/></vertical>")
    assert main(["lab", "validate", str(tmp_path)]) == 1
    assert "no <kafaat_lab> found" in capsys.readouterr().err


def test_validate_works_without_django_settings():
    env = {key: value for key, value in os.environ.items() if key != "DJANGO_SETTINGS_MODULE"}
    env["LANG"] = "xx_YY.UTF-8"  # a locale without a catalog falls back to English
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "xblocks.cli",
            "lab",
            "validate",
            str(FIXTURES / "minimal.xml"),
            str(FIXTURES / "bad" / "bad_user.xml"),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 1, result.stderr
    assert "minimal.xml: ok:" in result.stdout
    assert "bad_user.xml:4: user must be root or learner, not 'admin'." in result.stdout


@pytest.mark.sandbox
def test_lab_test_passes_a_lab_whose_solves_satisfy_its_checks(tmp_path, capsys):
    assert main(["lab", "test", _write(tmp_path, "passing.xml", PASSING)]) == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "1 lab: 1 passed, 0 failed" in out
    assert "step one fresh  check file: fails as expected" in out
    assert "step two solved check content: passes" in out
    assert "flag f: accepts its value and rejects a wrong one" in out
    assert "flag f: the answer the solve found is accepted" in out


@pytest.mark.sandbox
def test_lab_test_exits_1_when_a_solve_does_not_satisfy_its_check(tmp_path, capsys):
    paths = [_write(tmp_path, "broken.xml", SOLVE_DOES_NOT_SATISFY), _write(tmp_path, "fresh.xml", PASSES_WHEN_FRESH)]
    junit = tmp_path / "report.xml"
    assert main(["lab", "test", "--jobs", "2", "--junit", str(junit), *paths]) == 1
    out = capsys.readouterr().out
    assert "step one solved check file: FAILED after the solve" in out
    assert "step one fresh  check trivial: PASSED" in out
    assert "2 labs: 0 passed, 2 failed" in out
    suites = etree.fromstring(junit.read_bytes())
    assert [int(suite.get("failures")) for suite in suites] == [1, 1]
    failure = suites.find(".//failure")
    assert failure is not None and "FAIL" in failure.get("message")


@pytest.mark.sandbox
def test_lab_test_exits_1_when_the_solve_cannot_find_the_flag_the_step_expects(tmp_path, capsys):
    assert main(["lab", "test", _write(tmp_path, "typo.xml", FLAG_NOT_PLANTED)]) == 1
    assert "step find flag f: the solve printed no answer it accepts" in capsys.readouterr().out


@pytest.mark.sandbox
def test_lab_test_runs_outside_checks_against_the_learners_files(tmp_path, capsys):
    assert main(["lab", "test", _write(tmp_path, "outside.xml", OUTSIDE)]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "fresh  check mode: fails as expected" in out and "solved check mode: passes" in out


def test_lab_test_exits_1_for_an_invalid_lab_without_booting_anything(capsys):
    assert main(["lab", "test", str(FIXTURES / "bad" / "no_steps.xml")]) == 1
    assert "the definition is invalid" in capsys.readouterr().out


@pytest.mark.sandbox
def test_the_authoring_guide_example_passes_lab_test(tmp_path, capsys):
    import re  # pylint: disable=import-outside-toplevel

    guide = (ROOT / "docs" / "authoring-labs.md").read_text(encoding="utf-8")
    example = re.search(r"```xml\n(<kafaat_lab.*?</kafaat_lab>)\n```", guide, re.DOTALL).group(1)
    assert main(["lab", "test", _write(tmp_path, "example.xml", example)]) == 0, capsys.readouterr().out


def test_validate_shows_each_lab_key_and_warns_when_a_lab_has_none(capsys):
    assert main(["lab", "validate", str(ROOT / "course_content"), str(FIXTURES / "minimal.xml")]) == 0
    out = capsys.readouterr().out
    assert (
        "unit_devops.xml:5: ok: 'Build automation: a Makefile and a pre-commit hook', lab key devops_make_hooks" in out
    )
    assert "minimal.xml: ok: 'Minimal lab', lab key (none)" in out
    assert "minimal.xml: warning: no lab_key attribute" in out


def test_validate_refuses_two_labs_with_one_lab_key(tmp_path, capsys):
    lab = (
        '<kafaat_lab display_name="%s" lab_key="same">'
        '<step id="s" title="S"><check id="c">true</check></step></kafaat_lab>'
    )
    first = _write(tmp_path, "a.xml", lab % "A")
    second = _write(tmp_path, "b.xml", lab % "B")
    assert main(["lab", "validate", first, second]) == 1
    assert f"{second}: lab key 'same' is already used by the lab at {first}" in capsys.readouterr().out


@pytest.mark.sandbox
def test_lab_test_runs_each_steps_setup_when_it_reaches_the_step_and_passes_reading_steps(capsys):
    assert main(["lab", "test", str(FIXTURES / "pages_and_reading_steps.xml")]) == 0, capsys.readouterr().out
    out = capsys.readouterr().out
    assert "step read: a reading step, nothing to check" in out
    assert "step config setup (1 scripts)" in out and "step config fresh  check listens: fails as expected" in out
    # the later step's check copies what its own setup wrote: it passes only if the setup ran first
    assert "step later setup (2 scripts)" in out and "step later solved check seen: passes" in out


@pytest.mark.sandbox
def test_lab_test_fails_a_step_whose_setup_fails(tmp_path, capsys):
    text = PASSING.replace('<check id="file">', '<setup user="learner">exit 3</setup><check id="file">', 1)
    assert main(["lab", "test", _write(tmp_path, "broken_setup.xml", text)]) == 1
    assert "setup script 1 of step one (learner) failed: exit 3" in capsys.readouterr().out


@pytest.mark.sandbox
def test_lab_test_proves_the_sample_three_machine_lab_and_its_network(capsys):
    lab = ROOT / "course_content" / "vertical" / "unit_security_network.xml"
    assert main(["lab", "test", str(lab)]) == 0
    out = capsys.readouterr().out
    assert "network: attacker, portal, db reach each other by name; its deny rule holds" in out
    assert "step fix solved check refuses-others: passes" in out


SOLVE_ON_THE_WRONG_MACHINE = """<kafaat_lab display_name="Two machines">
  <machine name="one"/>
  <machine name="two"/>
  <step id="s" title="S">
    <check id="c" machine="two"><![CDATA[test "$(hostname)" = two && test -f /tmp/done]]></check>
    <solve machine="one">touch /tmp/done</solve>
  </step>
</kafaat_lab>"""


@pytest.mark.sandbox
def test_lab_test_fails_a_solve_that_ran_on_another_machine_than_its_check(tmp_path, capsys):
    assert main(["lab", "test", _write(tmp_path, "machines.xml", SOLVE_ON_THE_WRONG_MACHINE)]) == 1
    out = capsys.readouterr().out
    assert "network: one, two reach each other by name" in out
    assert "step s solved check c: FAILED after the solve" in out


BILINGUAL = """<kafaat_lab display_name="Two languages" lab_key="bilingual" time_limit="5" idle_timeout="5">
  <title lang="fr">Deux langues</title>
  <step id="one" title="One">
    <title lang="fr">Un</title>
    <instructions>Create `/tmp/answer`.</instructions>
    <instructions lang="fr">Créez `/tmp/answer`.</instructions>
    <check id="file">test -f /tmp/answer || { echo "kafaat-feedback: KEY path=/tmp/answer"; exit 1; }</check>
    FEEDBACK
    <solve>touch /tmp/answer</solve>
  </step>
</kafaat_lab>
"""


@pytest.mark.sandbox
def test_lab_test_renders_every_language_and_records_the_result(tmp_path, capsys):
    feedback = (
        '<feedback key="missing">No {path}.</feedback><feedback key="missing" lang="fr">Pas de {path}.</feedback>'
    )
    lab = _write(tmp_path, "bilingual.xml", BILINGUAL.replace("KEY", "missing").replace("FEEDBACK", feedback))
    record = tmp_path / "results.json"
    assert main(["lab", "test", lab, "--record", str(record)]) == 0
    out = capsys.readouterr().out
    assert "language en: 4 texts render" in out and "language fr: 4 texts render" in out
    assert "feedback keys missing have a text in every language" in out
    result = json.loads(record.read_text())["bilingual"]
    assert result["passed"] is True and result["start_seconds"] > 0 and result["check_seconds"] > 0
    assert main(["lab", "catalogue", lab, "--results", str(record)]) == 0
    assert "passed" in capsys.readouterr().out


@pytest.mark.sandbox
def test_lab_test_fails_a_printed_feedback_key_the_labs_own_language_lacks(tmp_path, capsys):
    only_french = '<feedback key="missing" lang="fr">Pas de {path}.</feedback>'
    lab = _write(tmp_path, "bilingual.xml", BILINGUAL.replace("KEY", "missing").replace("FEEDBACK", only_french))
    assert main(["lab", "test", lab]) == 1
    out = capsys.readouterr().out
    assert "feedback keys missing lack a <feedback>" in out and "missing (en)" in out


SOME_DRAWS_FAIL = """<kafaat_lab display_name="Fails for half its values" time_limit="5" idle_timeout="5">
  <param name="n" kind="number" min="0" max="1"/>
  <setup>echo {{ lab.param.n }} > /root/n</setup>
  <step id="one" title="One">
    <check id="answer">test -f /tmp/answer</check>
    <solve>[ "$(cat /root/n)" = 1 ] || touch /tmp/answer</solve>
  </step>
</kafaat_lab>
"""


@pytest.mark.sandbox
def test_lab_test_draws_finds_parameter_values_a_solve_does_not_survive_and_names_their_seed(tmp_path, capsys):
    lab, plain = _write(tmp_path, "draws.xml", SOME_DRAWS_FAIL), _write(tmp_path, "plain.xml", PASSES_WHEN_FRESH)
    # One seed passes this lab (n=0): a single run hides the values its solve does not survive.
    passing = next(
        seed
        for seed in ("00", "01", "02", "03", "04", "05", "06", "07")
        if main(["lab", "test", "--seed", seed, lab]) == 0
    )
    capsys.readouterr()
    assert main(["lab", "test", "--seed", passing, "--draws", "8", lab, plain]) == 1
    out, err = capsys.readouterr()
    assert "9 runs for 8 parameter draws" in err  # eight draws of the lab with a param, one of the other
    heads = [line for line in out.splitlines() if line.startswith(("PASS", "FAIL")) and "draws.xml" in line]
    assert len(heads) == 8 and any(h.startswith("PASS") for h in heads) and any(h.startswith("FAIL") for h in heads)
    failing = next(h for h in heads if h.startswith("FAIL"))
    seed = failing.split("--seed ")[1].split("]")[0]
    assert main(["lab", "test", "--seed", seed, lab]) == 1  # the named seed reproduces the failing draw alone
    assert main(["lab", "test", "--draws", "0", lab]) == 2
