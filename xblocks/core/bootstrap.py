"""Django configured on demand for the ``kafaat`` command groups that need the database.

The sandbox and image commands never call it, so they start fast and work without a database.
"""

from __future__ import annotations

import importlib
import os
import pathlib
import sys

import django


def setup_django() -> None:
    """Configure Django for commands that need the database.

    Uses ``DJANGO_SETTINGS_MODULE`` when set; from a source checkout falls back to the demo settings.
    """
    checkout = pathlib.Path(__file__).resolve().parents[2]
    if (checkout / "demo" / "settings.py").exists() and str(checkout) not in sys.path:
        sys.path.insert(0, str(checkout))  # an editable install from a source checkout: demo settings
    if not os.environ.get("DJANGO_SETTINGS_MODULE"):
        try:
            importlib.import_module("demo.settings")
        except ImportError:
            sys.exit("kafaat: set DJANGO_SETTINGS_MODULE to your LMS or project settings first")
        os.environ["DJANGO_SETTINGS_MODULE"] = "demo.settings"
    django.setup()
