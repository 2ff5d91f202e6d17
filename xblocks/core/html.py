"""Authored Markdown to safe HTML, and escaping for learner-controlled text (check output)."""

from __future__ import annotations

import html
import re

import markdown
import nh3

ALLOWED_TAGS = {
    "a",
    "abbr",
    "b",
    "blockquote",
    "br",
    "code",
    "dd",
    "del",
    "details",
    "div",
    "dl",
    "dt",
    "em",
    "h1",
    "h2",
    "h3",
    "h4",
    "h5",
    "h6",
    "hr",
    "i",
    "img",
    "kbd",
    "li",
    "ol",
    "p",
    "pre",
    "s",
    "span",
    "strong",
    "sub",
    "summary",
    "sup",
    "table",
    "tbody",
    "td",
    "th",
    "thead",
    "tr",
    "ul",
}
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "title", "width", "height"},
    "code": {"class"},
    "span": {"class"},
    "div": {"class"},
    "td": {"align"},
    "th": {"align"},
}
ALLOWED_SCHEMES = {"http", "https", "mailto", "data"}
# data: only as the source of a raster image (an imported lab's pictures travel inside its OLX): never in
# a link (a data: document is a page of its own), never SVG (which can carry script).
DATA_IMAGE = re.compile(r"^data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/]+={0,2}$")


def _data_only_as_images(tag: str, attribute: str, value: str) -> str | None:
    if value.strip().lower().startswith("data:") and not (
        tag == "img" and attribute == "src" and DATA_IMAGE.match(value)
    ):
        return None
    return value


def sanitize(fragment: str) -> str:
    """Keep an allowlist of tags, attributes and URL schemes; drop everything else (scripts, handlers)."""
    return nh3.clean(
        fragment,
        tags=ALLOWED_TAGS,
        attributes=ALLOWED_ATTRIBUTES,
        url_schemes=ALLOWED_SCHEMES,
        attribute_filter=_data_only_as_images,
        link_rel="noopener noreferrer nofollow",
    )


_CODE_TAG = re.compile(r"<(code|pre)(?=[\s>])")


def render_markdown(text: str) -> str:
    """Render authored Markdown and sanitise the result; raw HTML in the source goes through nh3 too.

    Code and code blocks read left to right whatever the text around them (``dir="ltr"``, added after
    sanitising, which drops any ``dir`` an author wrote): in Arabic instructions a command or a path
    keeps its order.
    """
    rendered = markdown.markdown(text or "", extensions=["fenced_code", "tables", "sane_lists"])
    return _CODE_TAG.sub(r'<\1 dir="ltr"', sanitize(rendered))


def escape(text: str) -> str:
    """Escape learner-controlled text (check output, names) for inclusion in HTML."""
    return html.escape(text or "", quote=True)
