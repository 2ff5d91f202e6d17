"""Defaults of every partnership setting, overridable in ``settings.KAFAAT``."""

from xblocks.core.conf import AppSettings

partnership_settings = AppSettings(
    {
        # Folder of skill catalogue files (one per domain) loaded by ``kafaat_load_skills`` without an argument.
        "PARTNERSHIP_SKILLS_DIR": "",
        # Counts below this are shown to committee members as "< N": a group that small names people.
        "PARTNERSHIP_SMALL_COUNT": 5,
        # A learner with evidence or hours in this many days before the period's end counts as active.
        "PARTNERSHIP_ACTIVE_DAYS": 30,
        # Needs CSV imports larger than this are refused before parsing.
        "PARTNERSHIP_MAX_IMPORT_BYTES": 2 * 1024 * 1024,
    }
)
