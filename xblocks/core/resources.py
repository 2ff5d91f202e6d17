"""Package resources for block fragments: static text read once, and the shared JS helpers (i18n, HTTP)."""

from __future__ import annotations

from functools import lru_cache
from importlib import resources


@lru_cache(maxsize=64)
def resource_text(package: str, path: str) -> str:
    """The text of a file shipped inside ``package`` (e.g. ``("xblocks.labs", "static/js/lab.js")``)."""
    return resources.files(package).joinpath(path).read_text(encoding="utf-8")


def add_i18n_js(fragment) -> None:
    """Add the shared ``KafaatI18n`` helper to a fragment (once per page is enough; it is idempotent)."""
    fragment.add_javascript(resource_text("xblocks.core", "static/kafaat-i18n.js"))


def add_http_js(fragment) -> None:
    """Add the shared ``KafaatHttp`` helper (CSRF cookie, JSON POST) to a fragment; idempotent like ``add_i18n_js``."""
    fragment.add_javascript(resource_text("xblocks.core", "static/kafaat-http.js"))
