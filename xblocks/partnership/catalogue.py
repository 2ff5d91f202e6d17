"""Skill catalogue files (``course_content/skills/<domain>.json``) to ``Skill`` rows.

A file holds one domain: ``{"domain": "cloud", "name": {...}, "skills": [{"id": "cloud.x", "name":
{"en": ..., "fr": ..., "ar": ...}, "reference": {"framework": "e-CF", "code": "B.4"}}]}``. Loading is
idempotent; a skill that left the files is marked retired, never deleted (needs may name it).
"""

from __future__ import annotations

import json
import pathlib
import re
from dataclasses import dataclass, field

from django.db import transaction

from xblocks.core.files import read_text_limited
from xblocks.partnership import models
from xblocks.partnership.conf import partnership_settings
from xblocks.partnership.data import Domain

MAX_CATALOGUE_BYTES = 512 * 1024
FRAMEWORKS = ("e-CF", "ESCO")
_SKILL_ID = re.compile(r"^([a-z0-9][a-z0-9-]*)\.[a-z0-9][a-z0-9_.-]{0,100}$")


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    retired: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        verb = "would " if self.dry_run else ""
        return (
            [f"{verb}create {item}" for item in self.created]
            + [f"{verb}update {item}" for item in self.updated]
            + [f"{verb}retire {item}" for item in self.retired]
            + [f"unchanged: {len(self.unchanged)} skills"]
            + [f"ERROR {item}" for item in self.errors]
        )


def default_directory() -> pathlib.Path:
    configured = partnership_settings.PARTNERSHIP_SKILLS_DIR
    if configured:
        return pathlib.Path(configured)
    return pathlib.Path(__file__).resolve().parents[2] / "course_content" / "skills"


def parse_file(data: dict, name: str) -> list[dict]:
    """The skill rows of one catalogue file; ValueError naming the file and the entry when it is invalid."""
    if not isinstance(data, dict):
        raise ValueError(f"{name}: a catalogue file is a JSON object")
    try:
        domain = Domain(data.get("domain"))
    except ValueError:
        raise ValueError(f"{name}: 'domain' must be one of {', '.join(Domain)}") from None
    skills = data.get("skills")
    if not isinstance(skills, list) or not skills:
        raise ValueError(f"{name}: 'skills' must be a non-empty list")
    rows, seen = [], set()
    for index, item in enumerate(skills):
        where = f"{name}: skills.{index}"
        if not isinstance(item, dict):
            raise ValueError(f"{where}: a skill is a JSON object")
        skill_id = item.get("id")
        match = _SKILL_ID.match(skill_id) if isinstance(skill_id, str) else None
        if not match or match.group(1) != domain:
            raise ValueError(f"{where}: 'id' must read {domain}.<name> (lower case, digits, dashes)")
        if skill_id in seen:
            raise ValueError(f"{where}: {skill_id!r} appears twice")
        seen.add(skill_id)
        names = item.get("name")
        if not isinstance(names, dict) or not isinstance(names.get("en"), str) or not names["en"].strip():
            raise ValueError(f"{where}: 'name' needs at least an English name ('en')")
        reference = item.get("reference") or {}
        framework = reference.get("framework", "") if isinstance(reference, dict) else None
        if framework not in ("", *FRAMEWORKS):
            raise ValueError(f"{where}: 'reference.framework' must be one of {', '.join(FRAMEWORKS)}")
        rows.append(
            {
                "id": skill_id,
                "domain": str(domain),
                "name_en": names["en"].strip(),
                "name_fr": str(names.get("fr") or "").strip(),
                "name_ar": str(names.get("ar") or "").strip(),
                "framework": framework,
                "code": str(reference.get("code") or "").strip(),
                "retired": False,
            }
        )
    return rows


def load_directory(directory=None, *, dry_run: bool = False) -> LoadReport:
    """Load every ``*.json`` in ``directory``; nothing is written when any file is invalid or in ``dry_run``."""
    folder = pathlib.Path(directory) if directory else default_directory()
    report = LoadReport(dry_run=dry_run)
    if not folder.is_dir():
        report.errors.append(f"{folder}: not a folder")
        return report
    wanted: dict[str, dict] = {}
    for path in sorted(folder.glob("*.json")):
        try:
            for row in parse_file(json.loads(read_text_limited(path, MAX_CATALOGUE_BYTES)), path.name):
                if row["id"] in wanted:
                    raise ValueError(f"{path.name}: {row['id']!r} is also in another file")
                wanted[row["id"]] = row
        except ValueError as error:  # JSONDecodeError and FileRefused are ValueErrors
            report.errors.append(str(error) if path.name in str(error) else f"{path.name}: {error}")
    if report.errors:
        return report
    fields = ("domain", "name_en", "name_fr", "name_ar", "framework", "code", "retired")
    with transaction.atomic():
        existing = {skill.id: skill for skill in models.Skill.objects.select_for_update()}
        for skill_id, row in wanted.items():
            current = existing.get(skill_id)
            if current is None:
                report.created.append(skill_id)
                if not dry_run:
                    models.Skill.objects.create(**row)
            elif any(getattr(current, name) != row[name] for name in fields):
                report.updated.append(skill_id)
                if not dry_run:
                    models.Skill.objects.filter(pk=skill_id).update(**{name: row[name] for name in fields})
            else:
                report.unchanged.append(skill_id)
        for skill_id, skill in existing.items():
            if skill_id not in wanted and not skill.retired:
                report.retired.append(skill_id)
                if not dry_run:
                    models.Skill.objects.filter(pk=skill_id).update(retired=True)
    return report
