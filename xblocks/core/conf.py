"""Settings access for every Kafaat app: read late, with each app's defaults kept in one place.

Plugin apps are imported before Django settings are loaded, so nothing here reads settings at
import time. Operators override any default in one dict: ``KAFAAT = {"SANDBOX_BACKEND": "local"}``;
an environment variable ``KAFAAT_<NAME>`` wins over both (JSON for lists, numbers and booleans), which
serves command-line tools that run without Django settings.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping
from typing import Any


class AppSettings:
    """Attribute access to ``settings.KAFAAT[name]`` falling back to an app's defaults."""

    def __init__(self, defaults: Mapping[str, Any]):
        self._defaults = dict(defaults)

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        if name not in self._defaults:
            raise AttributeError(f"unknown Kafaat setting {name!r}")
        env = os.environ.get(f"KAFAAT_{name}")
        if env is not None:
            return _from_env(env, self._defaults[name])
        if "django.conf" not in sys.modules:
            # nothing imported Django, so nothing configured it: a command-line tool that needs no
            # database (``kafaat sandbox exec``) reads the defaults without paying Django's imports
            return self._defaults[name]
        from django.conf import settings  # pylint: disable=import-outside-toplevel

        if not settings.configured:  # command-line tools that need no database
            return self._defaults[name]
        overrides = getattr(settings, "KAFAAT", None) or {}
        return overrides.get(name, self._defaults[name])

    def defaults(self) -> dict[str, Any]:
        return dict(self._defaults)


def _from_env(raw: str, default: Any) -> Any:
    if isinstance(default, str):
        return raw
    try:
        return json.loads(raw)
    except ValueError:
        return raw
