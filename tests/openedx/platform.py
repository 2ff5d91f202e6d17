"""What the conformance tier needs from edx-platform itself, which is not on PyPI: written here to match it.

- ``ProjectType`` and ``SettingsType``: the values of ``openedx.core.djangoapps.plugins.constants``.
- Derived settings (``openedx.core.lib.derived``) in both forms the platform has used:
  Ulmo wraps a derived value in a ``Derived`` object and ``derive_settings`` replaces every ``Derived``
  found in the module's setting names, recursively through containers; Teak and earlier store a plain
  function, register its name with ``derived(...)`` (or ``derived_collection_entry(...)`` for an entry
  inside a list or dict) and ``derive_settings`` calls the registered callables. Until
  ``derive_settings`` runs, reading such a setting gives the placeholder, never a value: that is the
  state COMMON plugin settings see.

Everything else (``edx_django_utils.plugins``, openedx-events, edx-completion…) is the real library.
"""

from __future__ import annotations

import os
import re
import sys
import typing

# Which platform release the settings imitate: "ulmo" (Derived objects) or "teak" (callables).
RELEASE = os.environ.get("KAFAAT_OPENEDX_RELEASE", "ulmo")


class ProjectType:
    LMS = "lms.djangoapp"
    CMS = "cms.djangoapp"


class SettingsType:
    PRODUCTION = "production"
    COMMON = "common"
    DEVSTACK = "devstack"
    TEST = "test"


# --------------------------------------------------------------------------------------- Ulmo

T = typing.TypeVar("T")


class Derived(typing.Generic[T]):
    """A setting whose value a function of the finished settings module computes later."""

    def __init__(self, calculate_value: typing.Callable[[typing.Any], T]):
        self.calculate_value = calculate_value


_SETTING_NAME = re.compile(r"^[A-Z][A-Z0-9_]*$")


def _is_setting_name(name: str) -> bool:
    return bool(_SETTING_NAME.match(name))


def _derive(settings, value):
    if isinstance(value, Derived):
        return value.calculate_value(settings)
    if isinstance(value, dict):
        for key, item in value.items():
            value[key] = _derive(settings, item)
        return value
    if isinstance(value, list):
        for index, item in enumerate(value):
            value[index] = _derive(settings, item)
        return value
    if isinstance(value, tuple):
        return tuple(_derive(settings, item) for item in value)
    if isinstance(value, frozenset):
        return frozenset(_derive(settings, item) for item in value)
    return value


# --------------------------------------------------------------------------------------- Teak

_REGISTERED: list = []


def derived(*names: str) -> None:
    _REGISTERED.extend(names)


def derived_collection_entry(collection_name: str, *accessors) -> None:
    _REGISTERED.append((collection_name, accessors))


# --------------------------------------------------------------------------------------- both


def derive_settings(module_name: str) -> None:
    """Turn every placeholder of the settings module into its value (the release's own way)."""
    module = sys.modules[module_name]
    if RELEASE == "ulmo":
        namespace = vars(module)
        for name in list(namespace):
            if _is_setting_name(name):
                namespace[name] = _derive(module, namespace[name])
        return
    for entry in _REGISTERED:
        if isinstance(entry, str):
            value = getattr(module, entry)
            if callable(value):
                setattr(module, entry, value(module))
        elif isinstance(entry, tuple) and len(entry) == 2:
            collection = getattr(module, entry[0])
            accessors = entry[1]
            for accessor in accessors[:-1]:
                collection = collection[accessor]
            value = collection[accessors[-1]]
            if callable(value):
                collection[accessors[-1]] = value(module)


def derived_setting(name: str, function, *, entry: tuple = ()):
    """The placeholder of a derived setting as this release writes it: ``Derived(f)``, or ``f`` registered."""
    if RELEASE == "ulmo":
        return Derived(function)
    if entry:
        derived_collection_entry(name, *entry)
    else:
        derived(name)
    return function


def is_placeholder(value) -> bool:
    """Whether a setting is still an underived placeholder."""
    return isinstance(value, Derived) or callable(value)
