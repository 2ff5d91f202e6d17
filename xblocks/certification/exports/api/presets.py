"""Presets: the named column layouts of CSV and XLSX exports, built in or saved by staff."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Any

from django.core.exceptions import PermissionDenied
from django.db.models import Q

from xblocks.certification.exports import presets
from xblocks.certification.exports.data import (
    PresetData,
)
from xblocks.certification.exports.models import ExportPreset
from xblocks.certification.exports.scope import certification_api
from xblocks.core.i18n import gettext as _

log = logging.getLogger(__name__)


def list_presets(user: Any = None) -> list[PresetData]:
    """Built-in presets, then coordinators' presets of the user's schools (all for a superuser)."""

    found = presets.builtin_presets()
    rows = ExportPreset.objects.order_by("name")
    schools = certification_api().visible_school_ids(user) if user is not None else None
    if schools is not None:
        rows = rows.filter(Q(school_id__isnull=True) | Q(school_id__in=list(schools)))
    for row in rows:
        try:
            found.append(_preset_data(row))
        except presets.PresetError:
            log.warning("export preset %s is invalid and was skipped", row.slug)
    return found


def get_preset(slug: str, user: Any = None) -> PresetData:
    """A preset by slug; ``LookupError`` when unknown or not visible to ``user``."""
    for preset in list_presets(user):
        if preset.slug == slug:
            return preset
    raise LookupError(_("Unknown preset %(slug)s.") % {"slug": slug})


def save_preset(
    user: Any, *, slug: str, name: str, base: str, columns: Iterable[dict] | None = None, school_id: int | None = None
) -> PresetData:
    """Create or update a coordinator's preset adjusting a built-in; columns default to the base's."""

    if base not in presets.BUILTIN:
        raise presets.PresetError(_("Unknown base preset %(slug)s.") % {"slug": base})
    if slug in presets.BUILTIN or not re.fullmatch(r"[-a-z0-9_]{1,64}", slug):
        raise presets.PresetError(_("Choose another preset name."))
    schools = certification_api().visible_school_ids(user)
    if schools is not None and (school_id is None or school_id not in schools):
        raise PermissionDenied(_("You may only save presets for your own school."))
    checked = presets.columns_from_json(
        columns if columns is not None else [c.as_json() for c in presets.BUILTIN[base].columns]
    )
    existing = ExportPreset.objects.filter(slug=slug).first()
    if existing is not None and schools is not None and existing.school_id not in schools:
        raise PermissionDenied(_("This preset belongs to another school."))
    row, _created = ExportPreset.objects.update_or_create(
        slug=slug,
        defaults={
            "name": name,
            "base": base,
            "columns": [c.as_json() for c in checked],
            "school_id": school_id,
            "created_by": user if getattr(user, "pk", None) else None,
        },
    )
    return _preset_data(row)


def _preset_data(row) -> PresetData:
    base = presets.BUILTIN.get(row.base)
    if base is None:
        raise presets.PresetError(f"unknown base {row.base}")
    return PresetData(
        slug=row.slug,
        name=row.name,
        target=base.target,
        description=base.description,
        columns=presets.columns_from_json(row.columns),
        key=tuple(h for h in base.key),
        builtin=False,
        base=row.base,
        id=row.pk,
    )
