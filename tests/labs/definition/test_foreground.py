"""``<foreground>``: commands the learner's page types into the terminal; parsed, serialised, rendered, refused."""

from __future__ import annotations

import pytest

from xblocks.labs.definition import LabDefinitionError, parse_lab, render, serialize_lab

LAB = """<kafaat_lab display_name="Typed">
  <param name="dir" kind="word"/>
  <foreground>cd /tmp
clear</foreground>
  <step id="one" title="One">
    <instructions>Read.</instructions>
    <foreground><![CDATA[mkdir -p ~/{{ lab.param.dir }} && cd ~/{{ lab.param.dir }} && ls | head -n 2]]></foreground>
    <check id="c">true</check>
  </step>
  <step id="two" title="Two"><instructions>No foreground.</instructions></step>
</kafaat_lab>"""


def test_a_lab_and_a_step_hold_foreground_commands_that_round_trip_and_render():
    lab = parse_lab(LAB)
    assert lab.foreground == "cd /tmp\nclear"
    assert lab.steps[0].foreground.startswith("mkdir -p ~/{{ lab.param.dir }}")
    assert lab.steps[1].foreground == ""
    assert parse_lab(serialize_lab(lab)) == lab
    rendered = render(lab, {"dir": "falcon-linden-07"})
    assert rendered.steps[0].foreground.startswith("mkdir -p ~/falcon-linden-07 && cd ~/falcon-linden-07")


@pytest.mark.parametrize(
    ("olx", "message"),
    [
        ('<foreground user="root">ls</foreground>', "Unknown attribute user on <foreground>"),
        ("<foreground> </foreground>", "<foreground> is empty"),
        ("<foreground>ls</foreground><foreground>pwd</foreground>", "A lab has one <foreground>"),
        ("<foreground>{{ lab.param.nope }}</foreground>", "Unknown parameter nope"),
    ],
)
def test_a_lab_foreground_is_refused_when_malformed(olx, message):
    text = f'<kafaat_lab display_name="x">{olx}<step id="a" title="A"><check id="c">true</check></step></kafaat_lab>'
    with pytest.raises(LabDefinitionError) as caught:
        parse_lab(text)
    assert message in str(caught.value)


def test_a_step_has_one_foreground():
    text = (
        '<kafaat_lab display_name="x"><step id="a" title="A"><foreground>ls</foreground>'
        '<foreground>pwd</foreground><check id="c">true</check></step></kafaat_lab>'
    )
    with pytest.raises(LabDefinitionError) as caught:
        parse_lab(text)
    assert "A step has one <foreground>" in str(caught.value)
