"""The labs as a catalogue: what each lab is (domain, skills, machines, duration, points, languages) and how
its last harness run went, for the staff page, ``kafaat lab catalogue``, tracks and the partnership app."""

from __future__ import annotations

import pathlib

from xblocks.core import compat
from xblocks.labs import catalog
from xblocks.labs.conf import labs_settings

CHECKOUT_COURSE = pathlib.Path(__file__).resolve().parents[3] / "course_content"


def catalogue_paths() -> list[str]:
    """The OLX the catalogue lists without a course: the setting, else a checkout's sample course."""
    configured = labs_settings.LABS_CATALOGUE_PATHS
    if isinstance(configured, str):
        configured = [configured] if configured else []
    if configured:
        return [str(path) for path in configured]
    return [str(CHECKOUT_COURSE)] if CHECKOUT_COURSE.is_dir() else []


def lab_catalogue(paths=None, course_key: str | None = None) -> list[catalog.CatalogueEntry]:
    """Every lab of ``paths`` (default: ``catalogue_paths()``), or of one platform course, with its last result.

    Results come from the file ``kafaat lab test --record`` writes (``LABS_TEST_RESULTS``), by lab key.
    """
    results_file = labs_settings.LABS_TEST_RESULTS
    results = catalog.read_results(results_file) if results_file else None
    if course_key and compat.running_in_openedx():
        found = compat.course_lab_sources(course_key)
        sources = [catalog.LabSource(pathlib.PurePosixPath(usage), 1, olx) for usage, olx in found]
        entries = [catalog.catalogue_entry(source, results) for source in sources]
        return sorted(entries, key=lambda entry: (entry.domain or "~", entry.lab_key, entry.where))
    return catalog.lab_catalogue(paths if paths is not None else catalogue_paths(), results=results)
