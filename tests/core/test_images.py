"""Images from authors and operators: PNG and JPEG re-encoded, SVG sanitised, everything else refused."""

import base64
import io

import pytest
from PIL import Image

from xblocks.core import images


def _raster(fmt: str, size=(40, 20)) -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, (10, 20, 30)).save(buffer, fmt)
    return buffer.getvalue()


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_png_and_jpeg_are_re_encoded_as_png_without_trailing_bytes(fmt):
    polyglot = _raster(fmt) + b"<script>alert(1)</script>"
    media_type, cleaned = images.clean(polyglot)
    assert media_type == "image/png" and cleaned.startswith(b"\x89PNG")
    assert b"<script>" not in cleaned
    assert Image.open(io.BytesIO(cleaned)).size == (40, 20)


@pytest.mark.parametrize(
    "data,message",
    [
        (b"GIF89a" + b"\0" * 20, "not a readable"),
        (_raster("GIF"), "GIF images are not accepted"),
        (b"\0" * (images.MAX_IMAGE_BYTES + 1), "limit"),
        (b"%PDF-1.4 hello", "not a readable"),
    ],
)
def test_other_files_and_oversized_ones_are_refused(data, message):
    with pytest.raises(images.ImageRefused, match=message):
        images.clean(data)


def test_a_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(images.ImageRefused, match="pixels"):
        images.clean(_raster("PNG", size=(5000, 1)))


def test_svg_keeps_drawing_and_loses_scripts_handlers_external_links_and_foreign_content():
    hostile = b"""<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink"
        viewBox="0 0 10 10" onload="alert(1)">
      <script>alert(2)</script>
      <foreignObject><div xmlns="http://www.w3.org/1999/xhtml">x</div></foreignObject>
      <image href="https://evil.example/track.png" width="1" height="1"/>
      <use xlink:href="https://evil.example/a.svg#x"/>
      <use xlink:href="#mark"/>
      <rect id="mark" width="5" height="5" fill="url(https://evil.example/p)" style="background:url(x)"/>
      <a href="javascript:alert(3)"><text x="1" y="5">hi</text></a>
      <path d="M0 0L10 10" stroke="#123456"/>
    </svg>"""
    media_type, cleaned = images.clean(hostile)
    assert media_type == "image/svg+xml"
    text = cleaned.decode()
    for gone in ("onload", "script", "alert", "foreignObject", "evil.example", "style=", "javascript", "<image"):
        assert gone not in text, gone
    assert 'd="M0 0L10 10"' in text and 'href="#mark"' in text


@pytest.mark.parametrize(
    "data",
    [
        b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY x SYSTEM "file:///etc/passwd">]><svg xmlns="http://www.w3.org/2000/svg">&x;</svg>',
        b"<svg>no namespace</svg>",
        b"<svg xmlns='http://www.w3.org/2000/svg'><unclosed></svg>",
    ],
)
def test_unsafe_or_broken_svg_is_refused(data):
    with pytest.raises(images.ImageRefused):
        images.clean(data)


def test_data_uris_are_cleaned_and_anything_else_refused():
    uri = "data:image/png;base64," + base64.b64encode(_raster("PNG")).decode()
    assert images.from_data_uri(images.clean_data_uri(uri))[0] == "image/png"
    for bad in ("https://example.org/logo.png", "data:image/gif;base64,R0lGOD", "data:text/html;base64,PGI+"):
        with pytest.raises(images.ImageRefused):
            images.clean_data_uri(bad)
