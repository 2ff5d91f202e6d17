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


@dataclass
class CatalogueEntry:
    """One lab as the catalogue lists it (for staff, authors and ``kafaat lab catalogue``)."""

    where: str
    lab_key: str = ""
    display_name: str = ""
    domain: str = ""
    skills: tuple[str, ...] = ()
    machines: tuple[str, ...] = ()
    time_limit: int = 0  # seconds
    max_score: int = 0
    languages: tuple[str, ...] = ()
    titles: dict[str, str] | None = None  # language -> title
    result: dict | None = None  # the last ``kafaat lab test --record`` of this lab, if any
    error: str = ""

    @property
    def result_summary(self) -> str:
        if not self.result:
            return "never"
        verdict = "passed" if self.result.get("passed") else "FAILED"
        start = self.result.get("start_seconds")
        times = f", start {start:.1f}s, checks {float(self.result.get('check_seconds') or 0):.1f}s" if start else ""
        return f"{verdict} {str(self.result.get('at', ''))[:10]}{times}"

    def as_json(self) -> dict:
        return {
            "where": self.where,
            "lab_key": self.lab_key,
            "display_name": self.display_name,
            "titles": self.titles or {},
            "domain": self.domain,
            "skills": list(self.skills),
            "machines": list(self.machines),
            "time_limit": self.time_limit,
            "max_score": self.max_score,
            "languages": list(self.languages),
            "result": self.result,
            "error": self.error,
        }


def read_results(path: str | pathlib.Path) -> dict[str, dict]:
    """The results ``kafaat lab test --record`` wrote (lab key -> last result); {} when there are none."""
    import json  # pylint: disable=import-outside-toplevel

    try:
        data = json.loads(read_text_limited(pathlib.Path(path), MAX_XML_BYTES))
    except (FileRefused, OSError, ValueError):
        return {}
    return {str(key): value for key, value in data.items() if isinstance(value, dict)} if isinstance(data, dict) else {}


def machine_names(definition) -> tuple[str, ...]:
    """The lab's machines: those it declares, else its one machine, ``lab``."""
    declared = tuple(getattr(machine, "name", "") for machine in getattr(definition, "machines", ()) or ())
    return declared or ("lab",)


def catalogue_entry(source: LabSource, results: dict[str, dict] | None = None) -> CatalogueEntry:
    # pylint: disable=import-outside-toplevel
    from xblocks.labs.definition import LabDefinitionError, languages, localise, parse_lab

    if source.error:
        return CatalogueEntry(where=source.where, error=source.error)
    try:
        definition = parse_lab(source.source)
    except LabDefinitionError as error:
        return CatalogueEntry(where=source.where, lab_key=lab_key_of(source), error=str(error))
    key = lab_key_of(source, definition)
    codes = languages(definition)
    return CatalogueEntry(
        where=source.where,
        lab_key=key,
        display_name=definition.display_name,
        domain=definition.domain,
        skills=definition.skills,
        machines=machine_names(definition),
        time_limit=int(definition.time_limit),
        max_score=int(definition.max_score),
        languages=codes,
        titles={code: localise(definition, code).display_name for code in codes},
        result=(results or {}).get(key) if key else None,
    )


def lab_catalogue(paths: Iterable[str], results: dict[str, dict] | None = None) -> list[CatalogueEntry]:
    """Every lab in the given OLX files and folders, by domain then key (invalid ones listed with their error)."""
    entries = [catalogue_entry(source, results) for source in find_labs(paths)]
    return sorted(entries, key=lambda entry: (entry.domain or "~", entry.lab_key, entry.where))
