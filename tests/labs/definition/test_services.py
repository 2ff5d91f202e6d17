"""``<service>`` in the lab OLX: what it means, its defaults, and every way an author can get it wrong."""

import pytest

from xblocks.labs.definition import LabDefinitionError, Service, ServiceKind, parse_lab, serialize_lab

STEP = '<step id="a" title="A"><check id="c">true</check></step>'


def lab(services: str, extra: str = "") -> str:
    return f'<kafaat_lab display_name="S" {extra}>\n{services}\n{STEP}</kafaat_lab>'


def problems(services: str) -> str:
    with pytest.raises(LabDefinitionError) as caught:
        parse_lab(lab(services))
    return str(caught.value)


def test_the_three_kinds_parse_with_their_defaults_on_the_single_machine():
    definition = parse_lab(
        lab(
            '<service id="portal" port="8080" label="Portal"/>'
            '<service id="nb" port="8888" kind="notebook"/>'
            '<service id="edit" kind="editor" root="/home/learner/project" label="Editor"/>'
        )
    )
    assert definition.services == (
        Service(id="portal", label="Portal", machine="lab", port=8080, path="/", kind=ServiceKind.WEB),
        Service(id="nb", label="nb", machine="lab", port=8888, path="/", kind=ServiceKind.NOTEBOOK),
        Service(
            id="edit", label="Editor", machine="lab", port=None, kind=ServiceKind.EDITOR, root="/home/learner/project"
        ),
    )
    assert definition.service("nb").port == 8888
    with pytest.raises(KeyError):
        definition.service("nope")


def test_services_round_trip_through_the_canonical_serialiser():
    source = lab(
        '<service id="portal" machine="lab" port="8080" path="/app/?x=1" label="A &quot;portal&quot;"/>'
        '<service id="edit" kind="editor" root="/srv"/>'
    )
    definition = parse_lab(source)
    canonical = serialize_lab(definition)
    assert '<service id="portal" machine="lab" port="8080" path="/app/?x=1"' in canonical
    assert parse_lab(canonical) == definition
    assert serialize_lab(parse_lab(canonical)) == canonical


def test_a_lab_without_services_serialises_no_service_element():
    assert "<service" not in serialize_lab(parse_lab(lab("")))


def test_the_machine_must_be_one_of_the_lab_machines():
    assert "names machine 'web'; the lab's machines are: lab" in problems('<service id="p" machine="web" port="80"/>')


@pytest.mark.parametrize(
    ("services", "message"),
    [
        ('<service id="p" port="0"/>', "port must be between 1 and 65535, not 0"),
        ('<service id="p" port="65536"/>', "port must be between 1 and 65535"),
        ('<service id="p" port="http"/>', "port must be a whole number"),
        ('<service id="p"/>', "Service p needs a port"),
        ('<service id="Portal" port="80"/>', "Service id 'Portal' must be 1 to 24 lowercase"),
        ('<service id="a_b" port="80"/>', "Service id 'a_b'"),
        ('<service port="80"/>', "Service id ''"),
        ('<service id="p" port="80" kind="shell"/>', "Service kind must be one of web, notebook, editor, not 'shell'"),
        ('<service id="p" port="80"/><service id="p" port="81"/>', "Duplicate service id 'p' (first used on line"),
        ('<service id="p" port="80"/><service id="q" port="80"/>', "Services p and q both use port 80 of machine lab"),
        ('<service id="e" kind="editor"/>', "An editor service needs a root folder"),
        ('<service id="e" kind="editor" root="/home/../etc"/>', "must be normalised"),
        ('<service id="e" kind="editor" root="relative"/>', "must be absolute"),
        ('<service id="e" kind="editor" root="/srv" port="80"/>', "An editor service takes no port"),
        ('<service id="p" port="80" root="/srv"/>', "Only an editor service takes a root"),
        ('<service id="p" port="80" path="http://evil.example/"/>', "must be an absolute URL path"),
        ('<service id="p" port="80" path="//evil.example/"/>', "must be an absolute URL path"),
        ('<service id="p" port="80" path="/a/../../b"/>', "must be an absolute URL path"),
        ('<service id="p" port="80" colour="red"/>', "Unknown attribute colour on <service>"),
        ('<service id="p" port="80">text</service>', "<service> takes attributes only"),
    ],
)
def test_a_wrong_service_is_reported_with_its_line(services, message):
    text = problems(services)
    assert message in text
    assert "line 2:" in text


def test_at_most_eight_services():
    services = "".join(f'<service id="s{n}" port="{8000 + n}"/>' for n in range(9))
    assert "at most 8 services" in problems(services)
