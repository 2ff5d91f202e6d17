"""Lab OLX parsing: every fixture and sample lab round-trips, every bad file fails with its line and message."""

import pathlib
import re
import time

import pytest
from lxml import etree

from xblocks.labs.cli import find_labs
from xblocks.labs.definition import (
    LabDefinition,
    LabDefinitionError,
    Problem,
    parse_lab,
    serialize_lab,
)
from xblocks.labs.sandbox.base import Limits, SandboxSpec

ROOT = pathlib.Path(__file__).resolve().parents[3]
FIXTURES = ROOT / "tests" / "fixtures" / "olx"
GOOD = sorted(FIXTURES.glob("*.xml"))
BAD = sorted((FIXTURES / "bad").glob("*.xml"))
COURSE_LABS = find_labs([str(ROOT / "course_content")])
EXPECT = re.compile(r"<!-- expect: (.*?) -->")


def _labs_in(path: pathlib.Path):
    return [item.source for item in find_labs([str(path)])]


@pytest.mark.parametrize("path", GOOD, ids=[path.stem for path in GOOD])
def test_every_fixture_round_trips_through_the_canonical_serialiser(path):
    sources = _labs_in(path)
    assert sources, f"{path} holds no lab"
    for source in sources:
        definition = parse_lab(source)
        canonical = serialize_lab(definition)
        assert parse_lab(canonical) == definition
        assert serialize_lab(parse_lab(canonical)) == canonical


@pytest.mark.parametrize("item", COURSE_LABS, ids=[item.path.stem for item in COURSE_LABS])
def test_every_sample_course_lab_parses_and_round_trips(item):
    definition = parse_lab(item.source)
    assert definition.steps and definition.max_score > 0
    assert parse_lab(serialize_lab(definition)) == definition


def test_the_sample_course_has_the_three_promised_labs():
    images = {parse_lab(item.source).display_name: parse_lab(item.source).image for item in COURSE_LABS}
    assert len(images) >= 3
    assert "web" in images.values() and "base" in images.values()


def test_the_sample_course_has_two_labs_per_domain_each_in_french_with_its_skills():
    """Issue 14: at least two labs per domain (AI's are written apart), each naming its domain and skills,
    each in English and French, the data labs in Arabic too; every step graded or read, every graded step
    with a solve (what the harness proves)."""
    from xblocks.labs.definition.languages import languages  # pylint: disable=import-outside-toplevel

    by_domain: dict[str, list[str]] = {}
    for item in COURSE_LABS:
        definition = parse_lab(item.source)
        assert definition.domain and definition.skills, item.path.name
        assert {"en", "fr"} <= set(languages(definition)), item.path.name
        if definition.domain == "data":
            assert "ar" in languages(definition), item.path.name
        for step in definition.steps:
            assert not step.graded or step.solve, f"{item.path.name}: step {step.id} has no solve"
        by_domain.setdefault(definition.domain, []).append(definition.lab_key)
    for domain in ("cybersecurity", "data", "software-testing", "cloud", "devops"):
        assert len(by_domain.get(domain, [])) >= 2, (domain, by_domain)


def test_the_sample_course_writes_kafaat_blocks_inline_with_a_lab_key_each():
    """edx-platform does not resolve pointer tags for external XBlocks (openedx-platform#36390): a pointer
    imports as an empty block, so Kafaat blocks sit inline in their vertical."""
    keys = []
    for vertical in sorted((ROOT / "course_content" / "vertical").glob("*.xml")):
        for element in etree.parse(str(vertical)).getroot():
            if isinstance(element.tag, str) and element.tag.startswith("kafaat_"):
                assert set(element.attrib) - {"url_name"}, f"pointer tag <{element.tag}> in {vertical.name}"
                if element.tag == "kafaat_lab":
                    assert element.get("lab_key") == element.get("url_name"), vertical.name
                    keys.append(element.get("lab_key"))
    assert len(keys) == len(set(keys)) >= 3
    assert not (ROOT / "course_content" / "kafaat_lab").exists()


@pytest.mark.parametrize("path", BAD, ids=[path.stem for path in BAD])
def test_a_bad_lab_fails_with_its_line_and_message(path):
    text = path.read_text(encoding="utf-8")
    expected = EXPECT.search(text).group(1)
    with pytest.raises(LabDefinitionError) as error:
        parse_lab(text)
    assert any(expected in str(problem) for problem in error.value.errors), str(error.value)
    assert isinstance(error.value, ValueError)


def test_every_problem_is_reported_not_just_the_first():
    text = """<kafaat_lab display_name="x" memory="lots" colour="red">
  <file path="relative" mode="999"/>
  <step id="s" title="S">
    <check id="c" user="admin" points="x">echo {{ lab.param.missing }}</check>
  </step>
  <step id="s" title="">
  </step>
</kafaat_lab>"""
    with pytest.raises(LabDefinitionError) as error:
        parse_lab(text)
    lines = [problem.line for problem in error.value.errors]
    assert lines == sorted(lines)
    assert len(error.value.errors) >= 9
    rendered = str(error.value)
    for fragment in (
        "line 1: Unknown attribute colour",
        "line 1: memory must be",
        "line 2: File path relative",
        "line 2: mode must be",
        "line 4: user must be",
        "line 4: points must be",
        "line 4: Unknown parameter missing",
        "line 6: Duplicate step id",
        "line 6: Step s needs a title",
    ):
        assert fragment in rendered


def test_a_problem_prints_with_its_line_when_it_has_one():
    assert str(Problem(3, "bad")) == "line 3: bad"
    assert str(Problem(None, "bad")) == "bad"


def test_an_lxml_element_parses_with_line_numbers_of_its_enclosing_file():
    vertical = etree.fromstring((FIXTURES / "inline_in_vertical.xml").read_bytes())
    element = next(node for node in vertical.iter("kafaat_lab") if len(node))
    assert parse_lab(element).display_name == "Inline lab"
    element.find("step").set("colour", "red")
    with pytest.raises(LabDefinitionError, match="line 4: Unknown attribute colour on <step>"):
        parse_lab(element)


def test_runtime_attributes_of_olx_import_are_accepted_and_not_kept():
    definition = parse_lab((FIXTURES / "every_feature.xml").read_text())
    assert "url_name" not in serialize_lab(definition)


def test_the_parsed_definition_carries_units_and_defaults_as_documented():
    definition = parse_lab((FIXTURES / "every_feature.xml").read_text())
    assert definition.time_limit == 5400 and definition.idle_timeout == 900
    assert definition.limits == Limits(memory_bytes=1024**3, pids=128, cpus=0.25, disk_bytes=2 * 1024**3, inodes=50000)
    assert (definition.weight, definition.max_attempts, definition.gating, definition.learner_sudo) == (
        2.5,
        5,
        "free",
        True,
    )
    assert definition.network is False
    first = definition.step("first")
    assert [(c.id, c.points, c.timeout, c.user, c.where) for c in first.checks] == [
        ("port-open", 3, 60.0, "learner", "inside"),
        ("second-check", 0, 2.5, "root", "inside"),
        ("from-outside", 1, 10.0, "root", "outside"),
    ]
    assert first.max_points == 8 and definition.max_score == 9
    assert 'where="outside"' in serialize_lab(definition) and serialize_lab(definition).count("where=") == 1
    assert definition.files[0].content == "all:\n\t@echo port {{ lab.param.port }}\n"
    assert definition.files[2].content == "" and definition.files[2].mode == 0o600
    assert first.instructions.endswith("\n    indented code stays indented")
    assert first.hints[1].text == "A free hint with <b>markup</b> text."
    assert definition.step("second_step").solve is None
    assert first.solve_user == "learner"
    assert definition.display_name == 'Every feature & more: "quotes", <angles> and ünïcödé'
    minimal = parse_lab((FIXTURES / "minimal.xml").read_text())
    assert (minimal.image, minimal.time_limit, minimal.idle_timeout, minimal.limits, minimal.gating) == (
        "base",
        3600,
        900,
        Limits(),
        "sequential",
    )
    assert minimal.steps[0].checks[0].user == "root" and minimal.steps[0].checks[0].timeout == 10.0
    assert minimal.steps[0].solve_user == "root"


def test_a_missing_step_is_a_key_error():
    with pytest.raises(KeyError):
        parse_lab((FIXTURES / "minimal.xml").read_text()).step("nope")


def test_the_sandbox_spec_carries_the_image_limits_and_label():
    definition = parse_lab((FIXTURES / "every_feature.xml").read_text())
    spec = definition.sandbox_spec("labsession-7")
    assert spec == SandboxSpec(
        image="web", limits=definition.limits, network=False, learner_sudo=True, label="labsession-7"
    )


def test_serialising_a_hand_built_definition_keeps_tricky_text_intact():
    tricky = "line one\n  ]]> and <tags> & ampersands\n\ttabbed"
    definition = parse_lab((FIXTURES / "minimal.xml").read_text())
    from dataclasses import replace  # pylint: disable=import-outside-toplevel

    changed = replace(
        definition, steps=(replace(definition.steps[0], instructions=tricky, solve="echo '<x>' && true"),)
    )
    assert parse_lab(serialize_lab(changed)) == changed


@pytest.mark.parametrize(
    "payload",
    [
        '<!DOCTYPE l [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">'
        '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;&b;&b;">'
        '<!ENTITY d "&c;&c;&c;&c;&c;&c;&c;&c;&c;&c;">]><kafaat_lab display_name="&d;"/>',
        '<?xml version="1.0"?>\n<!DOCTYPE kafaat_lab [<!ENTITY x SYSTEM "file:///etc/passwd">]>\n'
        '<kafaat_lab display_name="&x;"/>',
        '<!DOCTYPE kafaat_lab SYSTEM "http://127.0.0.1:9/lab.dtd"><kafaat_lab display_name="x"/>',
        '<!DOCTYPE q [<!ENTITY a "' + "x" * 40000 + '">]><kafaat_lab display_name="' + "&a;" * 4000 + '"/>',
    ],
    ids=["billion-laughs", "xxe-file", "external-dtd", "quadratic"],
)
def test_xml_bombs_in_a_lab_are_rejected_within_a_second_without_content(payload):
    started = time.monotonic()
    with pytest.raises(LabDefinitionError) as error:
        parse_lab(payload)
    assert time.monotonic() - started < 1
    assert "root:x:" not in str(error.value) and "aaaaaaaaaa" not in str(error.value)
    assert "DOCTYPE" in str(error.value)


def test_an_unparsed_definition_is_a_plain_frozen_value():
    definition = parse_lab((FIXTURES / "minimal.xml").read_text())
    assert isinstance(definition, LabDefinition)
    with pytest.raises(AttributeError):
        definition.image = "web"  # type: ignore[misc]


def test_the_example_in_the_authoring_guide_is_a_valid_lab():
    guide = (ROOT / "docs" / "authoring-labs.md").read_text(encoding="utf-8")
    example = re.search(r"```xml\n(<kafaat_lab.*?</kafaat_lab>)\n```", guide, re.DOTALL).group(1)
    definition = parse_lab(example)
    assert definition.step("serve").checks[0].user == "learner"
    assert parse_lab(serialize_lab(definition)) == definition


def test_a_comment_inside_a_script_is_dropped_and_the_text_around_it_kept():
    lab = parse_lab(
        '<kafaat_lab display_name="x"><step id="s" title="S">'
        '<check id="c">test -f /a <!-- why --> || exit 1</check></step></kafaat_lab>'
    )
    assert lab.steps[0].checks[0].script == "test -f /a  || exit 1"


def _resolved(tag: str, url_name: str) -> etree._Element:
    path = ROOT / "course_content" / tag / f"{url_name}.xml"
    assert path.is_file(), f"{tag} {url_name!r} is referenced but {path} is missing"
    return parse_xml_file(path)


def parse_xml_file(path: pathlib.Path) -> etree._Element:
    from xblocks.core.xml import parse  # pylint: disable=import-outside-toplevel

    return parse(path.read_bytes())


def test_the_sample_course_export_resolves_from_course_xml_down_to_every_block():
    course_pointer = parse_xml_file(ROOT / "course_content" / "course.xml")
    course = _resolved("course", course_pointer.get("url_name"))
    assert course.get("display_name") == "Kafaat sample: labs in six domains"
    seen: dict[str, int] = {}
    stack = [course]
    while stack:
        node = stack.pop()
        for child in node:
            if not isinstance(child.tag, str):
                continue
            seen[child.tag] = seen.get(child.tag, 0) + 1
            if child.tag in ("chapter", "sequential", "vertical") and set(child.attrib) == {"url_name"}:
                stack.append(_resolved(child.tag, child.get("url_name")))
            elif child.tag == "html":
                html = _resolved("html", child.get("url_name"))
                assert (ROOT / "course_content" / "html" / f"{html.get('filename')}.html").is_file()
    assert seen["chapter"] >= 3 and seen["kafaat_lab"] >= 3 and seen["html"] >= 1


def test_hostile_markup_in_instructions_and_hints_is_kept_as_text_and_renders_inert():
    from xblocks.core.html import render_markdown  # pylint: disable=import-outside-toplevel

    hostile = "<img src=x onerror=alert(1)> [x](javascript:alert(1)) <svg><script>alert(1)</script></svg> </script>"
    lab = parse_lab(
        f'<kafaat_lab display_name="x"><step id="s" title="S"><instructions><![CDATA[{hostile}]]></instructions>'
        f'<flag id="f">a</flag><hint><![CDATA[{hostile}]]></hint></step></kafaat_lab>'
    )
    for text in (lab.steps[0].instructions, lab.steps[0].hints[0].text):
        assert text == hostile
        html = render_markdown(text).lower()
        assert "onerror" not in html and "javascript:" not in html and "<script" not in html and "<svg" not in html


def test_intro_finish_reading_steps_and_step_setup_are_part_of_the_definition():
    lab = parse_lab((FIXTURES / "pages_and_reading_steps.xml").read_text(encoding="utf-8"))
    assert lab.intro.startswith("In this lab you serve a page") and lab.finish.startswith("Well done")
    read, config, later = lab.steps
    assert not read.graded and read.max_points == 0 and lab.max_score == 3
    assert [(s.user, s.script) for s in config.setup] == [("learner", "printf 'listen 1\\n' > /home/learner/site.conf")]
    assert [s.user for s in later.setup] == ["root", "learner"]
    assert "<intro>" in serialize_lab(lab) and "<finish>" in serialize_lab(lab)


def test_machines_network_and_machine_attributes_are_read_as_declared():
    definition = parse_lab((FIXTURES / "machines.xml").read_text(encoding="utf-8"))
    assert [m.name for m in definition.machines] == ["attacker", "portal", "db"]
    portal = definition.machines[1]
    assert (portal.image, portal.learner_sudo, portal.limits.memory_bytes, portal.limits.cpus) == (
        "web",
        True,
        256 * 1024 * 1024,
        0.5,
    )
    assert definition.terminals == ("attacker", "portal")
    assert definition.deny == (("attacker", "db"),)
    assert [f.machine for f in definition.files] == ["portal", ""]
    step = definition.steps[0]
    assert [c.machine for c in step.checks] == ["portal", "", "db"]
    assert (step.solve_machine, step.setup[0].machine, definition.setup[0].machine) == ("portal", "portal", "db")
    spec = definition.sandbox_spec("labsession-1")
    assert [m.name for m in spec.machines] == ["attacker", "portal", "db"] and spec.deny == (("attacker", "db"),)
    assert spec.machines[1].learner_sudo and not spec.machines[0].learner_sudo


def test_a_lab_without_machines_has_one_machine_named_lab():
    definition = parse_lab((FIXTURES / "minimal.xml").read_text(encoding="utf-8"))
    assert definition.machines == () and [m.name for m in definition.all_machines] == ["lab"]
    assert definition.terminals == ("lab",)
    spec = definition.sandbox_spec("x")
    assert spec.machines == () and spec.hostname == "lab" and spec.image == definition.image


def test_one_declared_machine_is_a_single_machine_with_its_name():
    source = (
        '<kafaat_lab display_name="x"><machine name="web" image="web" sudo="true"/>'
        '<step id="s" title="S"><check id="c" machine="web">true</check></step></kafaat_lab>'
    )
    spec = parse_lab(source).sandbox_spec("x")
    assert spec.machines == () and (spec.hostname, spec.image, spec.learner_sudo) == ("web", "web", True)
