"""The sample course through an XBlock runtime: imported as the platform's XML importer reads it, exported,
imported again, and compared block by block.

The course's own containers and HTML are edx-platform blocks, which are not on PyPI: a vertical is parsed
by xblock-sdk's container and an HTML pointer is resolved into xblock-sdk's HTML block, as the importer
resolves ``html/<url_name>.xml`` and its ``filename``. Kafaat's blocks are loaded from their ``xblock.v1``
entry points and parse and export themselves.
"""

import io
import pathlib

import pytest
from lxml import etree
from sample_xblocks.basic.content import HtmlBlock
from sample_xblocks.basic.structure import VerticalBlock
from xblock.runtime import DictKeyValueStore, KvsFieldData
from xblock.test.tools import TestRuntime, blocks_are_equivalent

from xblocks.certification.block import CertificationBlock
from xblocks.labs.block import LabBlock
from xblocks.labs.definition import languages, parse_lab

COURSE = pathlib.Path(__file__).resolve().parents[2] / "course_content"
POINTER_TYPES = ("chapter", "sequential", "vertical")


class CourseRuntime(TestRuntime):
    """An XBlock runtime with the platform's container types mapped to xblock-sdk's."""

    PLATFORM_TYPES = {"vertical": VerticalBlock, "html": HtmlBlock}

    def __init__(self):
        super().__init__(services={"field-data": KvsFieldData(DictKeyValueStore())})

    def load_block_type(self, block_type):
        return self.PLATFORM_TYPES.get(block_type) or super().load_block_type(block_type)


def _read(*parts) -> etree._Element:
    return etree.parse(str(COURSE.joinpath(*parts))).getroot()


def _verticals() -> list[tuple[str, etree._Element]]:
    """Every vertical the course reaches from course.xml, pointers resolved as the platform's importer does."""
    course_ref = _read("course.xml")
    course = _read("course", f"{course_ref.get('url_name')}.xml")
    found, stack = [], [course]
    while stack:
        node = stack.pop(0)
        for child in node:
            if child.tag in POINTER_TYPES and set(child.attrib) == {"url_name"}:
                resolved = _read(child.tag, f"{child.get('url_name')}.xml")
                resolved.set("url_name", child.get("url_name"))
                if child.tag == "vertical":
                    found.append((child.get("url_name"), resolved))
                else:
                    stack.append(resolved)
    return found


def _with_html_resolved(vertical: etree._Element) -> etree._Element:
    vertical = etree.fromstring(etree.tostring(vertical))
    for name in ("url_name", "display_name"):  # the platform's vertical fields, which the sdk's has not
        vertical.attrib.pop(name, None)
    for child in list(vertical):
        if child.tag == "html" and set(child.attrib) == {"url_name"}:
            pointer = _read("html", f"{child.get('url_name')}.xml")
            html = (COURSE / "html" / f"{pointer.get('filename')}.html").read_text(encoding="utf-8")
            resolved = etree.fromstring(f"<html>{html}</html>")
            resolved.tail = child.tail
            vertical.replace(child, resolved)
    return vertical


VERTICALS = _verticals()
KAFAAT_VERTICALS = [(name, node) for name, node in VERTICALS if any(c.tag.startswith("kafaat_") for c in node)]


def _import(xml: bytes):
    runtime = CourseRuntime()
    return runtime.get_block(runtime.parse_xml_string(xml))


def _export(block) -> bytes:
    buffer = io.BytesIO()
    block.runtime.export_to_xml(block, buffer)
    return buffer.getvalue()


def test_the_course_reaches_every_kafaat_block_of_its_units():
    tags = [child.tag for _name, node in KAFAAT_VERTICALS for child in node if isinstance(child.tag, str)]
    labs_in_units = sum(
        len(etree.parse(str(path)).getroot().findall("kafaat_lab")) for path in (COURSE / "vertical").glob("*.xml")
    )
    assert tags.count("kafaat_lab") == labs_in_units >= 12 and tags.count("kafaat_certification") == 1


@pytest.mark.parametrize("name,vertical", KAFAAT_VERTICALS, ids=[name for name, _ in KAFAAT_VERTICALS])
def test_a_unit_imports_exports_and_imports_again_to_equivalent_blocks(name, vertical):
    source = _with_html_resolved(vertical)
    imported = _import(etree.tostring(source))
    children = [imported.runtime.get_block(child) for child in imported.children]
    originals = [child for child in source if isinstance(child.tag, str)]
    assert [block.unmixed_class for block in children] == [
        {"kafaat_lab": LabBlock, "kafaat_certification": CertificationBlock, "html": HtmlBlock}[node.tag]
        for node in originals
    ]

    exported = _export(imported)
    again = _import(exported)
    assert blocks_are_equivalent(imported, again)

    exported_children = [node for node in etree.fromstring(exported) if isinstance(node.tag, str)]
    for original, block, written in zip(originals, children, exported_children, strict=True):
        if original.tag == "kafaat_lab":
            # The definition an author wrote is the one the platform stores and the one it exports.
            assert block.definition() == parse_lab(etree.tostring(original)) == parse_lab(etree.tostring(written))
            assert block.definition().lab_key == original.get("url_name")
            # every language and the domain survive the platform's import and export
            assert "fr" in languages(parse_lab(etree.tostring(written))) and block.definition().domain
            kept = {key: value for key, value in original.attrib.items() if key != "url_name"}
            assert dict(written.attrib) == kept
        elif original.tag == "kafaat_certification":
            assert block.track_slug == original.get("track_slug") == written.get("track_slug")
            assert block.display_name == original.get("display_name") == written.get("display_name")


def test_a_pointer_tag_would_import_as_an_empty_lab():
    """Why the course writes labs inline: a bare ``<kafaat_lab url_name=…/>`` has no definition to parse."""
    block = _import(b'<vertical><kafaat_lab url_name="devops_make_hooks"/></vertical>')
    lab = block.runtime.get_block(block.children[0])
    with pytest.raises(ValueError):
        lab.definition()
