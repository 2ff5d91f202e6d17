"""Images that authors and operators hand us (issuer logos, signatures): PNG, JPEG or sanitised SVG only.

Every image is cleaned once, when it is configured, and stored as a ``data:`` URI of the cleaned
bytes: raster images are decoded by Pillow (format, byte and pixel caps: no decompression bomb) and
re-encoded as PNG, which drops metadata and anything appended to the file; SVG goes through the safe
XML parser and keeps only an allow-list of drawing elements and attributes (no script, no
``foreignObject``, no event handler, no link or style that reaches outside the document).
"""

from __future__ import annotations

import base64
import binascii
import io
import re

from lxml import etree

from xblocks.core.xml import UnsafeXMLError, parse

MAX_IMAGE_BYTES = 512 * 1024
MAX_PIXELS = 2048 * 2048
MAX_SIDE = 4096
SVG_NS = "http://www.w3.org/2000/svg"
XLINK_NS = "http://www.w3.org/1999/xlink"

SVG_ELEMENTS = frozenset(
    "svg g defs title desc path rect circle ellipse line polyline polygon text tspan "
    "linearGradient radialGradient stop clipPath use symbol".split()
)
SVG_ATTRIBUTES = frozenset(
    """id class x y x1 y1 x2 y2 cx cy r rx ry width height d points viewBox preserveAspectRatio
    transform fill fill-opacity fill-rule stroke stroke-width stroke-opacity stroke-linecap
    stroke-linejoin stroke-dasharray opacity font-family font-size font-weight text-anchor
    dominant-baseline direction offset stop-color stop-opacity gradientUnits gradientTransform
    clip-path clip-rule role aria-label lang version""".split()
)
_URL = re.compile(r"url\(\s*(?!#)", re.IGNORECASE)
_DATA_URI = re.compile(r"^data:(image/(?:png|jpeg|svg\+xml));base64,([A-Za-z0-9+/=\s]+)$")


class ImageRefused(ValueError):
    """The bytes are not an image we accept (wrong type, too large, unsafe SVG)."""


def clean_svg(data: bytes) -> bytes:
    """The SVG with only drawing elements and attributes left; raises ImageRefused."""
    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(f"the image is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}")
    try:
        root = parse(data, max_bytes=MAX_IMAGE_BYTES)
    except UnsafeXMLError as error:
        raise ImageRefused(f"not a safe SVG: {error}") from None
    if root.tag != f"{{{SVG_NS}}}svg":
        raise ImageRefused("not an SVG document (the root must be <svg> in the SVG namespace)")
    for node in list(root.iter()):
        if not isinstance(node.tag, str):  # comments, processing instructions
            if node.getparent() is not None:
                node.getparent().remove(node)
            continue
        namespace, _, local = node.tag[1:].partition("}") if node.tag.startswith("{") else ("", "", node.tag)
        if namespace != SVG_NS or local not in SVG_ELEMENTS:
            if node.getparent() is not None:
                node.getparent().remove(node)
            continue
        for name, value in list(node.attrib.items()):
            keep = name in SVG_ATTRIBUTES and not _URL.search(value)
            if name == f"{{{XLINK_NS}}}href" or name == "href":
                keep = value.startswith("#")  # a reference inside the document, never a file or URL
                if keep:
                    node.attrib.pop(name)
                    node.set("href", value)
                    continue
            if not keep:
                del node.attrib[name]
    etree.cleanup_namespaces(root)
    return etree.tostring(root, encoding="utf-8", xml_declaration=False)


def clean_raster(data: bytes) -> bytes:
    """A PNG or JPEG decoded and re-encoded as PNG; raises ImageRefused."""
    from PIL import Image  # pylint: disable=import-outside-toplevel

    if len(data) > MAX_IMAGE_BYTES:
        raise ImageRefused(f"the image is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}")
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("PNG", "JPEG"):
                raise ImageRefused(f"{image.format or 'this'} images are not accepted: PNG, JPEG or SVG")
            width, height = image.size
            if width * height > MAX_PIXELS or max(width, height) > MAX_SIDE:
                raise ImageRefused(f"the image is {width}×{height} pixels; the limit is {MAX_PIXELS} pixels")
            image.load()
            converted = image.convert("RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB")
    except ImageRefused:
        raise
    except Exception as error:  # Pillow raises many kinds for a broken file
        raise ImageRefused(f"not a readable PNG or JPEG image ({type(error).__name__})") from None
    out = io.BytesIO()
    converted.save(out, format="PNG", optimize=True)
    return out.getvalue()


def clean(data: bytes) -> tuple[str, bytes]:
    """``(media type, cleaned bytes)`` of a PNG, JPEG or SVG; raises ImageRefused for anything else."""
    head = data.lstrip()[:512]
    if head.startswith((b"<svg", b"<?xml")) or b"<svg" in head:
        return "image/svg+xml", clean_svg(data)
    return "image/png", clean_raster(data)


def to_data_uri(media_type: str, data: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(data).decode('ascii')}"


def clean_data_uri(uri: str) -> str:
    """A ``data:`` URI of a PNG, JPEG or SVG, decoded, cleaned and encoded again."""
    match = _DATA_URI.match(uri or "")
    if not match:
        raise ImageRefused("an image must be a base64 data: URI of a PNG, JPEG or SVG")
    if len(match.group(2)) > MAX_IMAGE_BYTES * 4 // 3 + 8:
        raise ImageRefused(f"the image is larger than {MAX_IMAGE_BYTES} bytes")
    try:
        raw = base64.b64decode(re.sub(r"\s", "", match.group(2)), validate=True)
    except (binascii.Error, ValueError):
        raise ImageRefused("the data: URI is not valid base64") from None
    return to_data_uri(*clean(raw))


def from_data_uri(uri: str) -> tuple[str, bytes]:
    """``(media type, bytes)`` of a URI ``clean_data_uri`` produced."""
    match = _DATA_URI.match(uri or "")
    if not match:
        raise ImageRefused("not an image data: URI")
    return match.group(1), base64.b64decode(re.sub(r"\s", "", match.group(2)))
