"""The one template helper: a Django template shipped inside a package, rendered on a private autoescaping engine.

The engine is Kafaat's own, independent of the host's ``TEMPLATES`` setting (the LMS configures Mako and
several Django engines; the workbench one), so a block renders the same everywhere.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import lru_cache
from typing import Any

from django.template import Context, Engine
from django.utils.safestring import mark_safe

from xblocks.core.resources import resource_text


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return Engine(
        autoescape=True, libraries={"i18n": "django.templatetags.i18n"}, builtins=["django.templatetags.i18n"]
    )


@lru_cache(maxsize=64)
def _template(package: str, name: str):
    return _engine().from_string(resource_text(package, f"templates/{name}"))


def template(package: str, name: str):
    """A compiled package template, for ``{% extends base %}`` (the engine has no loader: a page names its
    base through a context value)."""
    return _template(package, name)


def _mark(value: Any, html_keys: frozenset[str]) -> Any:
    if isinstance(value, dict):
        return {
            key: (mark_safe(item) if key in html_keys and isinstance(item, str) else _mark(item, html_keys))  # noqa: S308
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_mark(item, html_keys) for item in value]
    return value


def render(package: str, name: str, context: dict[str, Any], *, html_keys: Iterable[str] = ()) -> str:
    """Render ``<package>/templates/<name>`` with ``context``; every value is escaped.

    Values under ``html_keys`` (at any depth) are inserted as HTML: the caller passes only text it
    sanitised itself (``xblocks.core.html.render_markdown``, which runs nh3).
    """
    return _template(package, name).render(Context(_mark(context, frozenset(html_keys)), autoescape=True))
