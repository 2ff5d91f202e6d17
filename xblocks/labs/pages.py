"""Server-side HTML of the lab block's views: Django templates shipped in the package, autoescaped.

A private template engine keeps the block independent of the host's TEMPLATES setting (the LMS
configures Mako and several Django engines; the workbench one).
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.template import Context, Engine
from django.utils.safestring import mark_safe

from xblocks.core.resources import resource_text

SAFE_KEYS = ("instructions", "preview")


@lru_cache(maxsize=1)
def _engine() -> Engine:
    return Engine(
        autoescape=True, libraries={"i18n": "django.templatetags.i18n"}, builtins=["django.templatetags.i18n"]
    )


@lru_cache(maxsize=16)
def _template(name: str):
    return _engine().from_string(resource_text("xblocks.labs", f"templates/{name}"))


def _mark(value: Any) -> Any:
    # Only values under SAFE_KEYS are HTML, and those come from render_markdown (nh3-sanitised).
    if isinstance(value, dict):
        return {
            k: (mark_safe(v) if k in SAFE_KEYS and isinstance(v, str) else _mark(v))  # noqa: S308  nh3 output
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_mark(item) for item in value]
    return value


def render_page(name: str, context: dict[str, Any]) -> str:
    """Render ``templates/<name>`` with ``context``; everything is escaped except sanitised Markdown."""
    return _template(name).render(Context(_mark(context), autoescape=True))
