"""The one door to partnership data: views, commands and other apps call these functions.

Everything returns frozen dataclasses from ``xblocks.partnership.data``, never querysets. Certification
data (enrolments, certificates, progress, permissions) is read only through ``xblocks.certification.api``.
One topic per module: ``skills``, ``needs``, ``coverage``, ``dashboard``, ``placements``.
"""

from xblocks.partnership.api.coverage import (
    refresh_projections,
    skill_coverage,
)
from xblocks.partnership.api.dashboard import (
    cohort_kind_label,
    dashboard,
    domain_label,
    group_label,
    role_kind_label,
)
from xblocks.partnership.api.needs import (
    import_needs,
    list_needs,
    needs_report_csv,
    record_need,
)
from xblocks.partnership.api.placements import (
    record_placement,
)
from xblocks.partnership.api.skills import (
    list_skills,
    load_skills,
    track_skills,
    unknown_track_skills,
)

__all__ = [
    "cohort_kind_label",
    "dashboard",
    "domain_label",
    "group_label",
    "import_needs",
    "list_needs",
    "list_skills",
    "load_skills",
    "needs_report_csv",
    "record_need",
    "record_placement",
    "refresh_projections",
    "role_kind_label",
    "skill_coverage",
    "track_skills",
    "unknown_track_skills",
]
