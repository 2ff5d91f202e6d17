"""Server-side HTML of the certification block: package templates on a private, autoescaping engine."""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from django.template import Context, Engine

from xblocks.core.resources import resource_text


@lru_cache(maxsize=1)
def _engine() -> Engine:
    # Independent of the host's TEMPLATES: the LMS configures Mako and several Django engines.
    return Engine(
        autoescape=True, libraries={"i18n": "django.templatetags.i18n"}, builtins=["django.templatetags.i18n"]
    )


@lru_cache(maxsize=16)
def _template(name: str):
    return _engine().from_string(resource_text("xblocks.certification", f"templates/{name}"))


def render_page(name: str, context: dict[str, Any]) -> str:
    """Render ``templates/<name>``; every value is escaped."""
    return _template(name).render(Context(context, autoescape=True))
