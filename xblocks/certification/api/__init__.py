"""The one door to certification data: blocks, views, tasks, commands and the sister apps call these functions.

Everything returns frozen dataclasses from ``xblocks.certification.data`` (or ``rules.Evaluation``),
never querysets. Evaluation loads evidence for many enrolments in a constant number of queries and hands
it to the pure ``rules.evaluate``; issuance is idempotent per learner, track version and period. One topic
per module: ``certificates``, ``tracks``, ``enrolment``, ``evidence``, ``evaluation``, ``issuance``,
``renewal``, ``permissions``.
"""

from xblocks.certification.api.certificates import (
    certificate_events,
    certificate_events_verified,
    count_certificate_records,
    get_certificate,
    iter_certificate_records,
    list_employers,
    set_certificate_status,
    set_certificate_status_as,
)
from xblocks.certification.api.enrolment import (
    add_coordinator,
    enroll,
    ensure_cohort,
    ensure_employer,
    ensure_school,
    learner_consents,
    list_cohorts,
    set_consent,
    set_own_consent,
)
from xblocks.certification.api.evaluation import (
    cohort_roster,
    evaluate_enrollments,
    learner_progress,
)
from xblocks.certification.api.evidence import (
    add_attestation,
    add_hours,
    check_attestation,
    check_hours_entry,
    correct_hours_entry,
    hours_entries,
    lab_evidence,
    on_course_grade_changed,
    on_course_passing_status,
    record_evidence,
    record_lab_result,
)
from xblocks.certification.api.issuance import (
    compute_validity,
    evaluate_and_issue,
    evaluate_learner,
    issue_certificate,
)
from xblocks.certification.api.permissions import (
    CHANGE_OPERATIONS,
    SEE_OPERATIONS,
    OperationsAdminMixin,
    allowed,
    can_view_cohort,
    managed_school_ids,
    normalise_number,
    visible_school_ids,
)
from xblocks.certification.api.renewal import (
    evaluate_renewal,
    expire_certificates,
    process_renewals,
    renewal_window_opens,
    send_expiry_reminders,
)
from xblocks.certification.api.tracks import (
    get_track,
    list_tracks,
    publish_version,
    requirement_tree,
)

__all__ = [
    "CHANGE_OPERATIONS",
    "OperationsAdminMixin",
    "SEE_OPERATIONS",
    "add_attestation",
    "add_coordinator",
    "add_hours",
    "allowed",
    "can_view_cohort",
    "certificate_events",
    "certificate_events_verified",
    "check_attestation",
    "check_hours_entry",
    "cohort_roster",
    "compute_validity",
    "correct_hours_entry",
    "count_certificate_records",
    "enroll",
    "ensure_cohort",
    "ensure_employer",
    "ensure_school",
    "evaluate_and_issue",
    "evaluate_enrollments",
    "evaluate_learner",
    "evaluate_renewal",
    "expire_certificates",
    "get_certificate",
    "get_track",
    "hours_entries",
    "issue_certificate",
    "iter_certificate_records",
    "lab_evidence",
    "learner_consents",
    "learner_progress",
    "list_cohorts",
    "list_employers",
    "list_tracks",
    "managed_school_ids",
    "normalise_number",
    "on_course_grade_changed",
    "on_course_passing_status",
    "process_renewals",
    "publish_version",
    "record_evidence",
    "record_lab_result",
    "renewal_window_opens",
    "requirement_tree",
    "send_expiry_reminders",
    "set_certificate_status",
    "set_certificate_status_as",
    "set_consent",
    "set_own_consent",
    "visible_school_ids",
]
