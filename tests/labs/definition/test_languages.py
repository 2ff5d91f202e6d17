"""A lab in several languages: parsed, serialised, shown in one language, warned about, and keyed feedback."""

import json
import pathlib

import pytest

from xblocks.cli import main
from xblocks.core import skills
from xblocks.labs.catalog import lab_catalogue
from xblocks.labs.definition import (
    Feedback,
    LabDefinitionError,
    generate_params,
    languages,
    localise,
    localise_feedback,
    parse_lab,
    parse_lab_with_warnings,
    render,
    serialize_lab,
)
from xblocks.partnership.data import Domain

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "olx"


@pytest.fixture
def lab():
    return parse_lab((FIXTURES / "languages.xml").read_text(encoding="utf-8"))


def test_every_language_is_parsed_and_the_lab_round_trips(lab):
    assert languages(lab) == ("en", "fr", "ar")
    assert lab.domain == "data" and lab.skills == ("data.sql", "data.pipelines")
    assert dict(lab.title_translations) == {"fr": "Les sinistres dans un fichier", "ar": "المطالبات في ملف"}
    hint = lab.steps[0].hints[0]
    assert hint.cost == 1 and dict(hint.translations) == {"fr": "Comptez les lignes.", "ar": "عُدّ الأسطر."}
    assert parse_lab(serialize_lab(lab)) == lab
    assert serialize_lab(parse_lab(serialize_lab(lab))) == serialize_lab(lab)


@pytest.mark.parametrize(
    ("lang", "title", "step_title", "hint", "finish"),
    [
        ("fr", "Les sinistres dans un fichier", "Comptez les sinistres", "Comptez les lignes.", "Terminé."),
        ("fr-ca", "Les sinistres dans un fichier", "Comptez les sinistres", "Comptez les lignes.", "Terminé."),
        ("ar", "المطالبات في ملف", "عُدّ المطالبات", "عُدّ الأسطر.", "انتهى."),
        ("en", "Claims in a file", "Count the claims", "Count the lines.", "Done."),
        ("de", "Claims in a file", "Count the claims", "Count the lines.", "Done."),  # the lab's own language
        (None, "Claims in a file", "Count the claims", "Count the lines.", "Done."),
    ],
)
def test_the_learner_reads_their_language_else_the_labs(lab, lang, title, step_title, hint, finish):
    shown = localise(lab, lang)
    assert (shown.display_name, shown.steps[0].title, shown.steps[0].hints[0].text, shown.finish) == (
        title,
        step_title,
        hint,
        finish,
    )
    assert shown.steps[0].checks == lab.steps[0].checks  # what is graded never depends on the language


def test_a_text_missing_in_a_language_falls_back_to_the_labs_own():
    lab = parse_lab(
        """<kafaat_lab display_name="Own"><title lang="fr">Propre</title>
        <step id="s" title="S"><instructions>Only English.</instructions><check id="c">true</check></step>
        </kafaat_lab>"""
    )
    shown = localise(lab, "fr")
    assert shown.display_name == "Propre" and shown.steps[0].instructions == "Only English."


def test_parameters_are_substituted_in_every_language(lab):
    rendered = render(lab, generate_params(lab, b"seed"))
    port = generate_params(lab, b"seed")["port"]
    for item in rendered.feedback:
        assert f"port {port}" in item.text or f"المنفذ {port}" in item.text


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        ("en", "There is no `/tmp/count` yet"),
        ("fr", "Il n'y a pas encore de `/tmp/count`"),
        ("ar", "لا يوجد `/tmp/count` بعد"),
        ("es", "There is no `/tmp/count` yet"),
    ],
)
def test_keyed_feedback_shows_in_the_learners_language(lab, lang, expected):
    out = localise_feedback(lab, "count", "kafaat-feedback: no-file path=/tmp/count\nexit 1", lang)
    assert out.startswith(expected) and out.endswith("\nexit 1")


def test_step_feedback_keys_override_the_labs_and_fill_named_values():
    lab = parse_lab(
        """<kafaat_lab display_name="x" language="fr">
        <feedback key="k">Texte du lab {n}.</feedback>
        <step id="s" title="S"><check id="c">true</check>
          <feedback key="k">Texte de l'étape {n} {absent}.</feedback>
          <feedback key="k" lang="en">Step text {n}.</feedback></step>
        <step id="t" title="T"><check id="d">true</check></step></kafaat_lab>"""
    )
    assert (
        localise_feedback(lab, "s", 'kafaat-feedback: k n="trois mots"', "fr")
        == "Texte de l'étape trois mots {absent}."
    )
    assert localise_feedback(lab, "s", "kafaat-feedback: k n=3", "en") == "Step text 3."
    assert localise_feedback(lab, "t", "kafaat-feedback: k n=3", "en") == "Texte du lab 3."  # the lab's language


def test_an_unknown_key_and_ordinary_output_are_left_as_printed(lab):
    out = "step 1\nkafaat-feedback: never-defined x=1\nplain kafaat-feedback: no-file in the middle"
    assert localise_feedback(lab, "count", out, "fr") == out


def test_a_feedback_value_from_the_learners_files_stays_plain_bounded_text(lab):
    """Abuse: a check that echoes a learner's file can carry their text into a value; it is inserted as
    text (the page escapes feedback) and cut, and cannot pull another key or a parameter in."""
    hostile = "<img/src=x/onerror=alert(1)>{path}{{lab.param.port}}" + "A" * 5000
    out = localise_feedback(lab, "count", f"kafaat-feedback: wrong-count found={hostile}", "en")
    assert out.startswith("<img/src=x/onerror=alert(1)>{path}{{lab.param.port}}AAA")
    assert out.endswith(" is not the number of claims.") and len(out) < 300


def test_a_translated_hint_needs_the_hint_it_translates():
    with pytest.raises(LabDefinitionError) as error:
        parse_lab(
            """<kafaat_lab display_name="x"><step id="s" title="S"><check id="c">true</check>
            <hint lang="fr">Un.</hint></step></kafaat_lab>"""
        )
    assert "Step s has 0 hints in en and more in fr" in str(error.value)


def test_missing_translations_are_warnings_with_their_lines():
    source = """<kafaat_lab display_name="x">
  <title lang="fr">X</title>
  <feedback key="k" lang="fr">Texte.</feedback>
  <step id="s" title="S">
    <title lang="fr">S</title>
    <instructions>Do it.</instructions>
    <hint>One.</hint>
    <hint>Two.</hint>
    <hint lang="fr">Un.</hint>
    <check id="c">echo "kafaat-feedback: k"
echo "kafaat-feedback: typo-key"; echo "kafaat-feedback: $dynamic"</check>
  </step>
</kafaat_lab>"""
    lab, warnings = parse_lab_with_warnings(source)
    assert lab.steps[0].hints[1].translations == ()
    found = {(problem.line, problem.message) for problem in warnings}
    assert found == {
        (3, "Feedback k has no text in en, which other texts of this lab have."),
        (6, "Step s: the instructions has no text in fr, which other texts of this lab have."),
        (8, "Step s: hint 2 has no text in fr, which other texts of this lab have."),
        (11, "Check c prints feedback key typo-key, which no <feedback> defines."),
    }


def test_a_single_language_lab_has_no_translation_warnings():
    assert parse_lab_with_warnings((FIXTURES / "every_feature.xml").read_text(encoding="utf-8"))[1] == []


def test_the_domains_are_the_partnerships_and_every_catalogue_skill_is_known():
    assert skills.DOMAINS == tuple(Domain)
    known = skills.known_skill_ids()
    assert known is not None and "data.sql" in known and known["data.sql"] == "data"
    assert set(known.values()) == set(skills.DOMAINS)


def test_without_a_catalogue_only_the_form_of_a_skill_is_checked(tmp_path, monkeypatch):
    monkeypatch.setenv("KAFAAT_PARTNERSHIP_SKILLS_DIR", str(tmp_path))
    lab = parse_lab(
        '<kafaat_lab display_name="x" skills="data.anything"><step id="s" title="S"><check id="c">true</check>'
        "</step></kafaat_lab>"
    )
    assert lab.skills == ("data.anything",)
    with pytest.raises(LabDefinitionError, match="must read domain.name"):
        parse_lab(
            '<kafaat_lab display_name="x" skills="NoDot"><step id="s" title="S"><check id="c">true</check></step>'
            "</kafaat_lab>"
        )


def test_validate_prints_warnings_and_strict_fails_on_them(tmp_path, capsys):
    path = tmp_path / "lab.xml"
    path.write_text(
        """<kafaat_lab display_name="x" lab_key="x">
  <step id="s" title="S">
    <instructions>Do it.</instructions>
    <title lang="fr">S</title>
    <check id="c">true</check>
  </step>
</kafaat_lab>""",
        encoding="utf-8",
    )
    assert main(["lab", "validate", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"{path}:3: warning: Step s: the instructions has no text in fr" in out
    assert "languages en fr" in out
    assert main(["lab", "validate", "--strict", str(path)]) == 1


def test_the_catalogue_lists_domain_machines_duration_points_languages_and_the_last_result(tmp_path, capsys):
    results = tmp_path / "results.json"
    results.write_text(
        json.dumps({"claims": {"passed": True, "at": "2026-12-06T10:00:00+00:00", "start_seconds": 1.5}})
    )
    lab_file = tmp_path / "lab.xml"
    lab_file.write_text(
        (FIXTURES / "languages.xml")
        .read_text(encoding="utf-8")
        .replace('language="en"', 'language="en" lab_key="claims"')
    )
    [entry] = lab_catalogue([str(lab_file)], results=json.loads(results.read_text()))
    assert (entry.lab_key, entry.domain, entry.machines, entry.time_limit, entry.max_score) == (
        "claims",
        "data",
        ("lab",),
        1800,
        1,
    )
    assert entry.languages == ("en", "fr", "ar") and entry.titles["fr"] == "Les sinistres dans un fichier"
    assert main(["lab", "catalogue", str(lab_file), "--results", str(results)]) == 0
    out = capsys.readouterr().out
    assert "claims" in out and "data" in out and "30 min" in out and "en fr ar" in out and "passed 2026-12-06" in out
    assert main(["lab", "catalogue", str(ROOT / "course_content"), "--json"]) == 0
    listed = {item["lab_key"]: item for item in json.loads(capsys.readouterr().out)}
    assert {"devops_make_hooks", "security_hardening", "cloud_reverse_proxy"} <= set(listed)


def test_feedback_items_compare_by_key_text_and_language():
    assert Feedback("k", "t") == Feedback("k", "t", "")
