"""The partnership's domains and the ids of its skill catalogue, for every app to validate against.

The partnership app owns the catalogue (``course_content/skills/<domain>.json``, loaded into its tables by
``kafaat_load_skills``); labs and tracks sit below it and name skills in their own files, so the ids are
read here, from the same files, without a database: a lab's ``skills`` attribute is checked when its OLX
is parsed, in Studio and by ``kafaat lab validate`` alike. The folder is the partnership's
``PARTNERSHIP_SKILLS_DIR`` setting, else the sample course's beside the package in a checkout; when
neither exists (an installed package with no catalogue configured) ``known_skill_ids`` answers None and
only the form of an id is checked.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
from functools import lru_cache

from xblocks.core.conf import AppSettings
from xblocks.core.files import FileRefused, read_text_limited

# Same names as ``xblocks.partnership.data.Domain`` (a test keeps them equal).
DOMAINS = ("cybersecurity", "data", "ai", "cloud", "devops", "software-testing")

SKILL_ID = re.compile(r"^([a-z0-9][a-z0-9-]*)\.[a-z0-9][a-z0-9_.-]{0,100}$")

MAX_CATALOGUE_BYTES = 512 * 1024

_settings = AppSettings({"PARTNERSHIP_SKILLS_DIR": ""})


def skills_directory() -> pathlib.Path:
    """Where the catalogue files are: the partnership's setting, else the checkout's sample course."""
    configured = _settings.PARTNERSHIP_SKILLS_DIR
    if configured:
        return pathlib.Path(configured)
    return pathlib.Path(__file__).resolve().parents[2] / "course_content" / "skills"


def known_skill_ids(directory: str | os.PathLike | None = None) -> dict[str, str] | None:
    """Skill id -> domain for every skill of the catalogue files, or None when there is no catalogue."""
    folder = pathlib.Path(directory) if directory is not None else skills_directory()
    try:
        stamp = tuple(sorted((p.name, p.stat().st_mtime_ns) for p in folder.glob("*.json")))
    except OSError:
        return None
    if not stamp:
        return None
    return dict(_read(str(folder), stamp))


@lru_cache(maxsize=8)
def _read(folder: str, stamp: tuple) -> tuple[tuple[str, str], ...]:
    """Read once per set of file versions (``stamp``): parsing a lab must not re-read six files."""
    found: dict[str, str] = {}
    for name, _mtime in stamp:
        try:
            data = json.loads(read_text_limited(pathlib.Path(folder) / name, MAX_CATALOGUE_BYTES))
        except (FileRefused, OSError, ValueError):
            continue  # the partnership's loader reports a broken file; labs only need the good ones
        if not isinstance(data, dict) or not isinstance(data.get("skills"), list):
            continue
        domain = str(data.get("domain") or "")
        for item in data["skills"]:
            skill_id = item.get("id") if isinstance(item, dict) else None
            if isinstance(skill_id, str) and SKILL_ID.match(skill_id):
                found.setdefault(skill_id, domain)
    return tuple(sorted(found.items()))
