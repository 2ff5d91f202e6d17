"""The skills catalogue and what each track proves, as the dashboard, imports and commands read them."""

from __future__ import annotations

from xblocks.certification import api as cert_api
from xblocks.partnership import catalogue, models
from xblocks.partnership.data import SkillData


def _skill_data(skill: models.Skill) -> SkillData:
    return SkillData(skill.id, skill.domain, skill.name_en, skill.name_fr, skill.name_ar, skill.framework, skill.code)


def list_skills(*, include_retired: bool = False) -> list[SkillData]:
    queryset = models.Skill.objects.all()
    if not include_retired:
        queryset = queryset.filter(retired=False)
    return [_skill_data(skill) for skill in queryset.order_by("domain", "id")]


def load_skills(directory=None, *, dry_run: bool = False) -> catalogue.LoadReport:
    """Load the catalogue files (default: the configured or bundled ``course_content/skills``)."""
    return catalogue.load_directory(directory, dry_run=dry_run)


def track_skills() -> dict[str, tuple[str, ...]]:
    """What the current version of each track proves, by track slug (from the track files' ``proves``)."""
    return {track.slug: track.proves for track in cert_api.list_tracks()}


def unknown_track_skills() -> dict[str, tuple[str, ...]]:
    """Tracks that claim skills the catalogue does not hold (a typo there would hide supply): slug → ids."""
    known = set(models.Skill.objects.filter(retired=False).values_list("id", flat=True))
    found = {slug: tuple(s for s in proves if s not in known) for slug, proves in track_skills().items()}
    return {slug: missing for slug, missing in found.items() if missing}
