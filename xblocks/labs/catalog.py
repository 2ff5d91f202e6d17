"""Where labs are found and what they are called: ``<kafaat_lab>`` OLX on disk (course exports, the sample
course) and, inside Open edX, the labs of the published courses; each known by its stable lab key.
"""

from __future__ import annotations

import pathlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from lxml import etree

from xblocks.core import compat
from xblocks.core.files import FileRefused, read_text_limited
from xblocks.core.xml import MAX_XML_BYTES, UnsafeXMLError, parse

SKIP_DIRS = {"node_modules", "__pycache__", "images"}


@dataclass
class LabSource:
    """One ``<kafaat_lab>`` found on disk: the whole file, or an element inline in another file."""

    path: pathlib.Path
    line: int
    source: str | etree._Element
    error: str | None = None

    @property
    def where(self) -> str:
        return f"{self.path}:{self.line}" if self.line > 1 else str(self.path)


def _xml_files(paths: Iterable[str]) -> Iterator[pathlib.Path]:
    for raw in paths:
        path = pathlib.Path(raw)
        if path.is_dir():
            for candidate in sorted(path.rglob("*.xml")):
                relative = candidate.relative_to(path).parts[:-1]
                if not any(part.startswith(".") or part in SKIP_DIRS for part in relative):
                    yield candidate
        else:
            yield path


def find_labs(paths: Iterable[str]) -> list[LabSource]:
    """Every lab definition in the given files and folders; pointer tags (``url_name`` only) are skipped."""

    found: list[LabSource] = []
    for path in _xml_files(paths):
        try:
            # Refused from fstat before reading: a FIFO, a device, a sparse or oversized file never stalls us.
            text = read_text_limited(path, MAX_XML_BYTES)
        except FileRefused as error:
            found.append(LabSource(path, 1, "", error=str(error)))
            continue
        if "kafaat_lab" not in text:
            continue
        try:
            root = parse(text)
        except UnsafeXMLError:
            # parse_lab reports it again, in the same words as for any other lab problem
            found.append(LabSource(path, 1, text))
            continue
        if root.tag == "kafaat_lab":
            found.append(LabSource(path, 1, text))
            continue
        for element in root.iter("kafaat_lab"):
            is_pointer = set(element.attrib) <= {"url_name"} and len(element) == 0 and not (element.text or "").strip()
            if not is_pointer:
                found.append(LabSource(path, element.sourceline or 1, element))
    return found


def lab_key_of(source: LabSource, definition=None) -> str:
    """The lab's key: its ``lab_key`` attribute, else its ``url_name`` (the block id it imports as), else ""."""
    if definition is not None and definition.lab_key:
        return definition.lab_key
    element = source.source
    if isinstance(element, str):
        try:
            element = parse(element)
        except (UnsafeXMLError, etree.XMLSyntaxError, ValueError):
            return ""
    return (element.get("lab_key") or element.get("url_name") or "").strip()


def known_lab_keys(paths: Iterable[str | pathlib.Path]) -> dict[str, str]:
    """Lab key -> where it is defined, for every lab in the given OLX files and folders that has a key,
    plus (inside Open edX) every lab of the platform's courses."""

    found: dict[str, str] = {}
    for source in find_labs([str(path) for path in paths]):
        if source.error:
            continue
        key = lab_key_of(source)
        if key:
            found.setdefault(key, source.where)
    for key, where in compat.platform_lab_keys().items():
        found.setdefault(key, where)
    return found
