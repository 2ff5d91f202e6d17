"""The block's OLX round trip, its Studio editor (validate, save only when valid) and its workbench scenarios."""

from __future__ import annotations

import pathlib
import re

import pytest
from lxml import etree

from tests.labs.helpers import OLX_DIR, assert_inert
from xblocks.labs.block import DEFAULT_OLX, LabBlock
from xblocks.labs.catalog import find_labs

CHECKOUT = pathlib.Path(__file__).resolve().parents[3]
COURSE_LABS = find_labs([str(CHECKOUT / "course_content")])
# (name, OLX text): the fixtures, and the sample course's labs as written inline in their verticals.
LAB_TEXTS = [(path.name, path.read_text(encoding="utf-8")) for path in sorted(OLX_DIR.glob("*.xml"))] + [
    (f"{item.path.name}:{item.line}", etree.tostring(item.source, encoding="unicode", with_tail=False))
    for item in COURSE_LABS
]


def canonical(text: str) -> bytes:
    parser = etree.XMLParser(remove_blank_text=False, resolve_entities=False)
    return etree.tostring(etree.fromstring(text.encode("utf-8"), parser), method="c14n")


@pytest.mark.parametrize("name,text", LAB_TEXTS, ids=[name for name, _ in LAB_TEXTS])
@pytest.mark.django_db
def test_import_then_export_leaves_the_olx_unchanged(lab_factory, name, text):
    lab = lab_factory(text)
    node = etree.Element("kafaat_lab")
    lab.block.add_xml_to_node(node)
    original = etree.fromstring(text.encode("utf-8"))
    for name in ("url_name", "xblock-family"):
        original.attrib.pop(name, None)
    assert etree.tostring(node, method="c14n") == etree.tostring(original, method="c14n")


@pytest.mark.django_db
def test_the_block_scores_what_its_definition_says(lab_factory, definition_of):
    lab = lab_factory("files_and_flags")
    assert lab.block.has_score and lab.block.max_score() == definition_of("files_and_flags").max_score == 3
    assert lab.block.weight == 1.0


@pytest.mark.django_db
def test_studio_validate_reports_every_error_with_its_line(lab_factory):
    staff = lab_factory(DEFAULT_OLX, student="staff")
    bad = '<kafaat_lab display_name="x">\n  <step id="a" title="A">\n    <oops/>\n  </step>\n</kafaat_lab>'
    result = staff.ok("studio_validate", {"olx": bad})
    assert result["valid"] is False
    lines = {error["line"] for error in result["errors"]}
    assert 3 in lines and len(result["errors"]) >= 2


@pytest.mark.django_db
def test_studio_save_refuses_invalid_olx_and_keeps_the_old_lab(lab_factory):
    staff = lab_factory(DEFAULT_OLX, student="staff")
    result = staff.ok("studio_submit", {"olx": "<kafaat_lab><step"})
    assert result["valid"] is False and "saved" not in result
    assert canonical(staff.block.olx) == canonical(DEFAULT_OLX)


@pytest.mark.django_db
def test_studio_save_stores_valid_olx_and_previews_it(lab_factory):
    staff = lab_factory(DEFAULT_OLX, student="staff")
    text = (OLX_DIR / "three_checks.xml").read_text(encoding="utf-8")
    result = staff.ok("studio_submit", {"olx": text})
    assert result["saved"] is True and result["max_score"] == 3
    assert "Prepare a project folder" in result["preview"]
    assert staff.block.display_name == "Three checks"
    assert canonical(staff.block.olx) == canonical(text)


@pytest.mark.django_db
def test_studio_preview_sanitises_authored_markdown(lab_factory):
    staff = lab_factory(DEFAULT_OLX, student="staff")
    result = staff.ok("studio_validate", {"olx": (OLX_DIR / "hostile.xml").read_text(encoding="utf-8")})
    assert result["valid"]
    assert_inert(result["preview"])
    assert "<script>alert('title')</script>" in result["preview"].replace("&lt;", "<").replace("&gt;", ">").replace(
        "&#x27;", "'"
    ).replace("&#39;", "'")


@pytest.mark.django_db
def test_intro_and_finish_pages_are_in_the_preview_and_the_learners_page_with_their_parameters(lab_factory):
    text = (OLX_DIR / "pages_and_reading_steps.xml").read_text(encoding="utf-8")
    staff = lab_factory(DEFAULT_OLX, student="staff")
    preview = staff.ok("studio_validate", {"olx": text})["preview"]
    assert "In this lab you serve a page" in preview and "Well done" in preview
    learner = lab_factory(text, student="alice")
    page = learner.block.runtime.render(learner.block, "student_view").content
    assert 'class="kafaat-lab__intro"' in page and "{{ lab.param.port }}" not in page  # rendered for this learner
    assert re.search(r'<div class="kafaat-lab__finish"[^>]*hidden>', page)  # shown by the page once all passed
    assert_inert(page)


def test_workbench_offers_the_inline_lab_and_every_sample_course_lab():
    scenarios = LabBlock.workbench_scenarios()
    assert scenarios[0][1] == DEFAULT_OLX
    assert len(COURSE_LABS) >= 3
    assert len(scenarios) == 1 + len(COURSE_LABS)


@pytest.mark.parametrize("index", range(len(LabBlock.workbench_scenarios())))
@pytest.mark.parametrize("view", ["student_view", "studio_view", "author_view"])
@pytest.mark.django_db
def test_every_workbench_scenario_renders(lab_factory, index, view):
    description, text = LabBlock.workbench_scenarios()[index]
    lab = lab_factory(text, student="staff")
    fragment = lab.block.runtime.render(lab.block, view)
    assert "kafaat-lab" in fragment.content and "No such view" not in fragment.content
    if view == "student_view":
        assert "Start lab" in fragment.content and "Learners in this lab" in fragment.content
        from xblocks.core.html import escape
        from xblocks.labs.definition import parse_lab

        assert description.startswith("Kafaat lab")
        assert escape(parse_lab(text).display_name) in fragment.content


@pytest.mark.django_db
def test_foreground_commands_reach_the_learners_page_rendered_and_escaped(lab_factory):
    text = """<kafaat_lab display_name="Typed">
  <param name="port" kind="port"/>
  <foreground><![CDATA[cd ~ && echo "<b>{{ lab.param.port }}</b>"]]></foreground>
  <step id="one" title="One">
    <instructions>Read.</instructions>
    <foreground>ls '/tmp'</foreground>
    <check id="c">true</check>
  </step>
</kafaat_lab>"""
    learner = lab_factory(text, student="alice")
    page = learner.block.runtime.render(learner.block, "student_view").content
    tree = etree.fromstring(f"<root>{page}</root>".encode(), etree.HTMLParser())
    lab = tree.find(".//div[@class='kafaat-lab']")
    typed = lab.get("data-foreground")
    assert typed.startswith('cd ~ && echo "<b>') and typed.endswith('</b>"') and "{{" not in typed  # its value
    assert tree.find(".//li[@data-step='one']").get("data-foreground") == "ls '/tmp'"
    assert "<b>" not in page.replace("&lt;b&gt;", "")  # only ever an escaped attribute value
    assert_inert(page)


def test_a_lab_of_machines_shows_a_terminal_tab_per_machine_and_studio_names_them(lab_factory):
    source = (CHECKOUT / "course_content" / "vertical" / "unit_security_network.xml").read_text(encoding="utf-8")
    text = source[source.index("<kafaat_lab") : source.index("</kafaat_lab>") + len("</kafaat_lab>")]
    lab = lab_factory(text)
    page = lab.block.runtime.render(lab.block, "student_view").content
    tabs = re.findall(r'<button type="button" role="tab" class="kafaat-lab__machine" data-machine="([^"]*)"', page)
    assert tabs == ["", "portal"]  # db has no terminal; the first machine's tab asks for the default
    assert 'role="tablist"' in page and '<bdi dir="ltr">attacker</bdi>' in page
    preview = lab.block.runtime.render(lab.block, "author_view").content
    assert "attacker (base)" in preview and "portal (web)" in preview and "db (base)" in preview
    single = lab_factory("files_and_flags").block
    assert "kafaat-lab__machine" not in single.runtime.render(single, "student_view").content
