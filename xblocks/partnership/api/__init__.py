"""The one door to partnership data: views, commands and other apps call these functions.

Everything returns frozen dataclasses from ``xblocks.partnership.data``, never querysets. Certification
data (enrolments, certificates, progress, permissions) is read only through ``xblocks.certification.api``.
One topic per module: ``skills``, ``needs``, ``coverage``, ``dashboard``, ``placements``, ``offers`` (and
the talent pool, invitations), ``projects``, ``reports``.
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
    project_status_label,
    role_kind_label,
)
from xblocks.partnership.api.needs import (
    import_needs,
    list_needs,
    needs_report_csv,
    record_need,
)
from xblocks.partnership.api.offers import (
    answer_invitation,
    close_offer,
    create_offer,
    drop,
    get_offer,
    invite,
    learner_invitations,
    list_offers,
    offer_counts,
    offer_targets,
    set_contact_consent,
    shortlist,
    talent_pool,
)
from xblocks.partnership.api.placements import (
    list_placements,
    placement_candidates,
    record_placement,
)
from xblocks.partnership.api.projects import (
    create_project,
    list_projects,
    project_counts,
    set_project_status,
    sign_off,
)
from xblocks.partnership.api.reports import (
    get_report,
    list_reports,
    report_file,
    request_report,
    write_report,
)
from xblocks.partnership.api.skills import (
    list_skills,
    load_skills,
    track_skills,
    unknown_track_skills,
)

__all__ = [
    "answer_invitation",
    "close_offer",
    "cohort_kind_label",
    "create_offer",
    "create_project",
    "dashboard",
    "domain_label",
    "drop",
    "get_offer",
    "get_report",
    "group_label",
    "import_needs",
    "invite",
    "learner_invitations",
    "list_needs",
    "list_offers",
    "list_placements",
    "list_projects",
    "list_reports",
    "list_skills",
    "load_skills",
    "needs_report_csv",
    "offer_counts",
    "offer_targets",
    "placement_candidates",
    "project_counts",
    "project_status_label",
    "record_need",
    "record_placement",
    "refresh_projections",
    "report_file",
    "request_report",
    "role_kind_label",
    "set_contact_consent",
    "set_project_status",
    "shortlist",
    "sign_off",
    "skill_coverage",
    "talent_pool",
    "track_skills",
    "unknown_track_skills",
    "write_report",
]
