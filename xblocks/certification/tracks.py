"""Track definition files (``course_content/tracks/*.json``) to published track versions.

A file describes one track; loading it creates a new ``TrackVersion`` only when the requirements,
validity or renewal settings changed (compared by a hash of their canonical JSON), so reloading the
same files is a no-op and learners keep the version they enrolled under.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import pathlib
import re
from dataclasses import dataclass, field

from django.db import transaction

from xblocks.certification import branding, models, rules
from xblocks.certification.conf import cert_settings
from xblocks.core.files import read_text_limited
from xblocks.labs import api as labs_api

# The parts of a file that make a new version when they change (title typos do not).
VERSIONED_FIELDS = ("requirements", "validity", "renewal", "criteria", "skills")
# Versioned too, but hashed only when present, so files written before the key existed keep their versions.
OPTIONAL_VERSIONED_FIELDS = ("proves",)
_SKILL_ID = re.compile(r"^[a-z0-9][a-z0-9_-]*\.[a-z0-9][a-z0-9_.-]*$")
MAX_TRACK_BYTES = 1024 * 1024  # a track file is a few kilobytes; refuse anything far bigger unread


@dataclass
class LoadReport:
    created: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    dry_run: bool = False

    def lines(self) -> list[str]:
        prefix = "would create" if self.dry_run else "created"
        return (
            [f"{prefix} {item}" for item in self.created]
            + [f"unchanged {item}" for item in self.unchanged]
            + [f"ERROR {item}" for item in self.errors]
        )


def known_from_platform() -> bool:
    from xblocks.core import compat  # pylint: disable=import-outside-toplevel

    return compat.running_in_openedx()


def default_directory() -> pathlib.Path:
    configured = cert_settings.CERT_TRACKS_DIR
    if configured:
        return pathlib.Path(configured)
    return pathlib.Path(__file__).resolve().parents[2] / "course_content" / "tracks"


def _validate(data: dict, name: str) -> tuple[list[rules.RequirementSpec], list[rules.RequirementSpec]]:
    for key in ("slug", "title", "requirements"):
        if not data.get(key):
            raise ValueError(f"{name}: missing {key!r}")
    initial = [
        rules.RequirementSpec.from_json(item, f"requirements.{i}") for i, item in enumerate(data["requirements"])
    ]
    renewal_items = (data.get("renewal") or {}).get("requirements") or []
    renewal = [
        rules.RequirementSpec.from_json(item, f"renewal.requirements.{i}") for i, item in enumerate(renewal_items)
    ]
    proves = data.get("proves", [])
    if not isinstance(proves, list) or not all(isinstance(item, str) and _SKILL_ID.match(item) for item in proves):
        raise ValueError(f"{name}: 'proves' must be a list of skill ids such as \"cybersecurity.log-triage\"")
    validity = data.get("validity") or {}
    models.ValidityMode(validity.get("mode", "none"))
    models.RenewalMode((data.get("renewal") or {}).get("mode", "requirements"))
    return initial, renewal


def content_hash(data: dict) -> str:
    versioned = {key: data.get(key) for key in VERSIONED_FIELDS}
    versioned.update({key: data[key] for key in OPTIONAL_VERSIONED_FIELDS if key in data})
    return hashlib.sha256(json.dumps(versioned, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _create_rows(version: models.TrackVersion, specs: list[rules.RequirementSpec], purpose: str, parent=None) -> None:
    for position, spec in enumerate(specs):
        row = models.Requirement.objects.create(
            version=version,
            parent=parent,
            purpose=purpose,
            position=position,
            kind=spec.kind,
            title=spec.title,
            key=spec.key,
            category=spec.category,
            source=spec.source,
            threshold=spec.threshold,
            due_date=spec.due_date,
        )
        if spec.children:
            _create_rows(version, list(spec.children), purpose, row)


def load_track(
    data: dict, name: str = "track", *, dry_run: bool = False, base: pathlib.Path | None = None
) -> tuple[str, bool]:
    """Load one definition; returns ``("slug vN", created)``. Raises ValueError on an invalid file.

    ``base`` is the folder image paths of the file's ``"certificate"`` (logo, signatures) are read from.
    """
    from xblocks.certification import api  # pylint: disable=import-outside-toplevel

    initial, renewal = _validate(data, name)
    look = branding.clean(data.get("certificate"), base, f"{name}: certificate")
    digest = content_hash(data)
    with transaction.atomic():
        track, _created = models.Track.objects.get_or_create(slug=data["slug"], defaults={"title": data["title"]})
        if not dry_run and track.branding != look:
            models.Track.objects.filter(pk=track.pk).update(branding=look)
        latest = track.versions.order_by("-version").first()
        if latest is not None and latest.content_hash == digest:
            if not dry_run and (track.title, track.description) != (data["title"], data.get("description", "")):
                models.Track.objects.filter(pk=track.pk).update(
                    title=data["title"], description=data.get("description", "")
                )
            return f"{track.slug} v{latest.version}", False
        number = (latest.version + 1) if latest else 1
        if dry_run:
            transaction.set_rollback(True)
            return f"{track.slug} v{number}", True
        models.Track.objects.filter(pk=track.pk).update(title=data["title"], description=data.get("description", ""))
        validity = data.get("validity") or {}
        renewal_cfg = data.get("renewal") or {}
        fixed = validity.get("fixed_until")
        version = models.TrackVersion.objects.create(
            track=track,
            version=number,
            title=data["title"],
            description=data.get("description", ""),
            criteria=data.get("criteria", ""),
            skills=list(data.get("skills") or []),
            proves=list(data.get("proves") or []),
            content_hash=digest,
            validity_mode=validity.get("mode", "none"),
            validity_months=int(validity.get("months", 0)),
            fixed_until=datetime.date.fromisoformat(fixed) if fixed else None,
            window_days=int(validity.get("window_days", 60)),
            renewal_mode=renewal_cfg.get("mode", "requirements"),
            renewal_hours=float(renewal_cfg.get("hours", 0)),
            renewal_window_months=int(renewal_cfg.get("window_months", 24)),
        )
        _create_rows(version, initial, "initial")
        _create_rows(version, renewal, "renewal")
        api.publish_version(version.pk)
    return f"{track.slug} v{number}", True


def lab_keys(data: dict) -> list[str]:
    """The lab keys a track file names (``lab_passed`` requirements, initial and renewal), in file order."""
    initial, renewal = _validate(data, data.get("slug") or "track")
    keys: list[str] = []
    for spec in (*initial, *renewal):
        for leaf in spec.leaves():
            if leaf.kind == "lab_passed" and leaf.key not in keys:
                keys.append(leaf.key)
    return keys


def _unknown_labs(data: dict, known: dict[str, str]) -> list[str]:
    return [key for key in lab_keys(data) if rules.stable_block_id(key) not in known]


def load_directory(directory=None, *, dry_run: bool = False, lab_paths=None) -> LoadReport:
    """Load every ``*.json`` in ``directory`` (default: the configured or bundled tracks folder).

    A track that names a lab key no known lab has is refused: a typo there would leave the requirement
    unmeetable for every learner. Labs are known from the OLX under ``lab_paths`` (default: the folder
    holding the tracks folder, as in ``course_content/``) and, inside Open edX, from the platform's courses.
    """
    folder = pathlib.Path(directory) if directory else default_directory()
    report = LoadReport(dry_run=dry_run)
    if not folder.is_dir():
        report.errors.append(f"{folder}: not a folder")
        return report
    searched = [pathlib.Path(path) for path in lab_paths] if lab_paths else [folder.resolve().parent]
    known = labs_api.known_lab_keys(searched)
    for path in sorted(folder.glob("*.json")):
        try:
            data = json.loads(read_text_limited(path, MAX_TRACK_BYTES))
            unknown = _unknown_labs(data, known)
            if unknown:
                where = ", ".join(str(item) for item in searched)
                report.errors.append(
                    f"{path.name}: lab key {unknown[0]!r} matches no known lab (labs searched in {where}"
                    f"{' and the platform courses' if known_from_platform() else ''}); "
                    "give the lab that attribute (lab_key) or fix the key"
                    + (f" (also unknown: {', '.join(repr(key) for key in unknown[1:])})" if unknown[1:] else "")
                )
                continue
            label, created = load_track(data, path.name, dry_run=dry_run, base=folder)
        except (ValueError, KeyError, TypeError) as error:  # FileRefused is a ValueError
            report.errors.append(f"{path.name}: {error}")
            continue
        (report.created if created else report.unchanged).append(label)
    return report
