"""The one XML parser for untrusted input (OLX, imports): no DTD, no entities, no network, capped size."""

from __future__ import annotations

import re

from lxml import etree

MAX_XML_BYTES = 512 * 1024

_DECLARATIONS = re.compile(rb"<!\s*(DOCTYPE|ENTITY|ELEMENT|ATTLIST)", re.IGNORECASE)
_PROLOG_NOISE = re.compile(rb"<!--.*?(-->|$)|<\?.*?(\?>|$)", re.DOTALL)
_FIRST_ELEMENT = re.compile(rb"<[A-Za-z_:]")


def _prolog(data: bytes) -> bytes:
    """What precedes the root element, comments and processing instructions blanked out.

    Declarations can only stand there; ``<!doctype html>`` inside a CDATA section of a lab file
    is content, not a declaration.
    """
    blanked = _PROLOG_NOISE.sub(lambda m: b" " * len(m.group(0)), data)
    first = _FIRST_ELEMENT.search(blanked)
    return blanked[: first.start()] if first else blanked


class UnsafeXMLError(ValueError):
    """The document was refused before or during parsing; ``line`` is 1-based when known."""

    def __init__(self, message: str, line: int | None = None):
        super().__init__(message)
        self.message = message
        self.line = line

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}" if self.line else self.message


def _parser() -> etree.XMLParser:
    # lxml resolves internal entities by default and is open to quadratic blowup; refusing every
    # declaration up front and turning resolution off closes XXE, billion laughs and blowups.
    return etree.XMLParser(
        resolve_entities=False,
        no_network=True,
        load_dtd=False,
        dtd_validation=False,
        huge_tree=False,
        remove_comments=False,
        remove_pis=True,
    )


def parse(text: str | bytes, max_bytes: int = MAX_XML_BYTES) -> etree._Element:
    """Parse untrusted XML and return its root element, or raise UnsafeXMLError with a line number."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(data) > max_bytes:
        raise UnsafeXMLError(f"document is {len(data)} bytes; the limit is {max_bytes}")
    match = _DECLARATIONS.search(_prolog(data))
    if match:
        line = data.count(b"\n", 0, match.start()) + 1
        raise UnsafeXMLError("DOCTYPE and entity declarations are not allowed", line)
    try:
        root = etree.fromstring(data, parser=_parser())
    except etree.XMLSyntaxError as error:
        raise UnsafeXMLError(error.msg or "malformed XML", error.lineno) from None
    if root.getroottree().docinfo.doctype:
        raise UnsafeXMLError("DOCTYPE and entity declarations are not allowed", 1)
    for node in root.iter():
        if isinstance(node, etree._Entity):
            raise UnsafeXMLError("entity references are not allowed", node.sourceline)
    return root
