"""Tracks and their requirement trees: frozen versions, cached trees, what a learner works toward."""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable

from django.utils import timezone

from xblocks.certification import models, rules
from xblocks.certification.data import (
    TrackData,
)

log = logging.getLogger(__name__)


def _track_data(version: models.TrackVersion) -> TrackData:
    spec = requirement_tree(version)
    return TrackData(
        id=version.track_id,
        slug=version.track.slug,
        title=version.title,
        description=version.description,
        version=version.version,
        version_id=version.pk,
        criteria=version.criteria,
        total_hours_required=float(spec.hours_required()),
        skills=tuple(version.skills or ()),
        proves=tuple(version.proves or ()),
        branding=dict(version.track.branding or {}),
    )


# Published versions are frozen, so their trees are cached for the life of the process. The key
# carries ``published_at`` too: a primary key alone can come back for another row after a rollback.
_TREE_CACHE: dict[tuple, rules.RequirementSpec] = {}


def _build_tree(rows: list[models.Requirement]) -> rules.RequirementSpec:
    by_parent: dict[int | None, list[models.Requirement]] = defaultdict(list)
    for row in rows:
        by_parent[row.parent_id].append(row)

    def node(row: models.Requirement) -> rules.RequirementSpec:
        children = tuple(node(child) for child in sorted(by_parent.get(row.pk, []), key=lambda r: (r.position, r.pk)))
        return rules.RequirementSpec(
            id=str(row.pk),
            kind=row.kind,
            title=row.title,
            key=row.key,
            category=row.category,
            source=row.source,
            threshold=row.threshold,
            due_date=row.due_date,
            children=children,
        )

    top = tuple(node(row) for row in sorted(by_parent.get(None, []), key=lambda r: (r.position, r.pk)))
    return rules.RequirementSpec(id="root", kind="all", children=top)


def _tree_key(version: models.TrackVersion, purpose: str) -> tuple | None:
    if not version.published or version.published_at is None:
        return None
    return (version.pk, purpose, version.published_at)


def _prefetch_trees(versions: Iterable[models.TrackVersion]) -> dict[tuple[int, str], rules.RequirementSpec]:
    """Trees of these versions (both purposes), from the cache or in one query for the missing ones."""
    versions = {v.pk: v for v in versions}
    trees: dict[tuple[int, str], rules.RequirementSpec] = {}
    missing = set()
    for vid, version in versions.items():
        for purpose in ("initial", "renewal"):
            key = _tree_key(version, purpose)
            if key is not None and key in _TREE_CACHE:
                trees[(vid, purpose)] = _TREE_CACHE[key]
            else:
                missing.add(vid)
    if missing:
        rows: dict[tuple[int, str], list[models.Requirement]] = defaultdict(list)
        for row in models.Requirement.objects.filter(version_id__in=missing):
            rows[(row.version_id, row.purpose)].append(row)
        for vid in missing:
            for purpose in ("initial", "renewal"):
                tree = _build_tree(rows.get((vid, purpose), []))
                trees[(vid, purpose)] = tree
                key = _tree_key(versions[vid], purpose)
                if key is not None:
                    _TREE_CACHE[key] = tree
    return trees


def requirement_tree(version: models.TrackVersion | int, purpose: str = "initial") -> rules.RequirementSpec:
    """The requirement tree of a track version (``purpose``: initial or renewal)."""
    if not isinstance(version, models.TrackVersion):
        version = models.TrackVersion.objects.get(pk=version)
    return _prefetch_trees([version])[(version.pk, purpose)]


def list_tracks() -> list[TrackData]:
    result = []
    for track in models.Track.objects.order_by("slug"):
        version = track.current_version()
        if version is not None:
            version.track = track
            result.append(_track_data(version))
    return result


def get_track(slug: str) -> TrackData | None:
    track = models.Track.objects.filter(slug=slug).first()
    version = track.current_version() if track else None
    return _track_data(version) if version else None


def publish_version(version_id: int) -> None:
    """Freeze a draft version: from now on its requirements cannot change."""
    models.TrackVersion.objects.filter(pk=version_id, published=False).update(
        published=True, published_at=timezone.now()
    )
