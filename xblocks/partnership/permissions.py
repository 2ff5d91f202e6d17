"""Who may see and change the partnership's rows and figures: named django-rules permissions (decision 0018).

Roles: *platform staff* (as certification defines them: superusers and ``is_staff`` accounts that
coordinate no school) see everything unsuppressed and change everything; a *committee member* (a
``CommitteeMember`` row) sees every school's aggregates with small counts suppressed, and changes the
needs of the employer they represent; a *coordinator* sees their schools' figures. Learners and
anonymous visitors see nothing. "May see" and "may change" are separate names (decision 0036).
"""

from __future__ import annotations

import rules
from django.core.exceptions import PermissionDenied

from xblocks.certification import api as cert_api
from xblocks.partnership import models
from xblocks.partnership.conf import partnership_settings


def _active(user) -> bool:
    return bool(user is not None and getattr(user, "is_authenticated", False) and user.is_active)


def _member(user) -> models.CommitteeMember | None:
    if not _active(user):
        return None
    return models.CommitteeMember.objects.filter(user=user).first()


@rules.predicate
def is_platform_staff(user) -> bool:
    # A committee member given ``is_staff`` by mistake stays a committee member here (certification would
    # take them for platform staff: docs/partnership.md says members never get ``is_staff``).
    return (
        _active(user)
        and cert_api.visible_school_ids(user) is None
        and _member(user) is None
        and _representative(user) is None
    )


@rules.predicate
def is_committee_member(user) -> bool:
    return _member(user) is not None


@rules.predicate
def is_coordinator(user) -> bool:
    return _active(user) and bool(cert_api.visible_school_ids(user))


@rules.predicate
def speaks_for_employer_of(user, need) -> bool:
    member = _member(user)
    if member is None or member.employer_id is None:
        return False
    if need is None:  # "may they record needs at all?"
        return True
    return getattr(need, "employer_id", None) == member.employer_id


def _representative(user) -> models.EmployerRepresentative | None:
    if not _active(user):
        return None
    return models.EmployerRepresentative.objects.filter(user=user).first()


def representative_employer_id(user) -> int | None:
    """The employer ``user`` acts for as an employer representative, or None."""
    rep = _representative(user)
    return rep.employer_id if rep is not None else None


@rules.predicate
def is_employer(user) -> bool:
    return _representative(user) is not None


@rules.predicate
def acts_for_employer_of(user, obj) -> bool:
    """An employer representative, on an object of their employer (an offer, an invitation's offer); None: any."""
    rep = _representative(user)
    if rep is None:
        return False
    if obj is None:
        return True
    employer_id = getattr(obj, "employer_id", None)
    if employer_id is None and hasattr(obj, "offer"):
        employer_id = obj.offer.employer_id
    return employer_id == rep.employer_id


@rules.predicate
def is_invited_learner(user, invitation) -> bool:
    """The learner an invitation is for (None: any signed-in user, who sees only their own)."""
    if not _active(user):
        return False
    return invitation is None or getattr(invitation, "user_id", None) == user.pk


@rules.predicate
def coordinates_school_of(user, obj) -> bool:
    schools = cert_api.managed_school_ids(user) if _active(user) else set()
    if not schools:
        return False
    return obj is None or getattr(obj, "school_id", None) in schools


@rules.predicate
def mentors(user, project) -> bool:
    if not _active(user):
        return False
    if project is None:
        return models.Project.objects.filter(mentor=user).exists()
    return getattr(project, "mentor_id", None) == user.pk


SEE_DASHBOARD = "kafaat.see_partnership_dashboard"
SEE_NEEDS = "kafaat.see_needs"
CHANGE_NEEDS = "kafaat.change_needs"
SEE_SKILLS = "kafaat.see_skills"
CHANGE_SKILLS = "kafaat.change_skills"
SEE_PLACEMENTS = "kafaat.see_placements"  # individual placements: people, never for the committee
CHANGE_PLACEMENTS = "kafaat.change_placements"  # record one: coordinators (their schools), employers (consenting)
SEE_COMMITTEE = "kafaat.see_committee"
CHANGE_COMMITTEE = "kafaat.change_committee"
SEE_OFFERS = "kafaat.see_offers"
CHANGE_OFFERS = "kafaat.change_offers"
SEE_TALENT_POOL = "kafaat.see_talent_pool"  # people: the employer's consenting learners
CHANGE_SHORTLIST = "kafaat.change_shortlist"
SEE_INVITATIONS = "kafaat.see_invitations"  # a learner's own
ANSWER_INVITATIONS = "kafaat.answer_invitations"
SEE_PROJECTS = "kafaat.see_projects"
CHANGE_PROJECTS = "kafaat.change_projects"
SIGN_OFF_PROJECTS = "kafaat.sign_off_projects"
SEE_REPORTS = "kafaat.see_committee_reports"
CHANGE_REPORTS = "kafaat.change_committee_reports"  # ask for one

RULES = {
    SEE_DASHBOARD: is_platform_staff | is_committee_member | is_coordinator,
    SEE_NEEDS: is_platform_staff | is_committee_member | is_coordinator,
    CHANGE_NEEDS: is_platform_staff | speaks_for_employer_of,
    SEE_SKILLS: is_platform_staff | is_committee_member | is_coordinator,
    CHANGE_SKILLS: is_platform_staff,
    SEE_PLACEMENTS: is_platform_staff | coordinates_school_of | acts_for_employer_of,
    CHANGE_PLACEMENTS: is_platform_staff | coordinates_school_of | is_employer,
    SEE_COMMITTEE: is_platform_staff,
    CHANGE_COMMITTEE: is_platform_staff,
    # offers name no person: the committee and coordinators see them (and their counts)
    SEE_OFFERS: is_platform_staff | is_committee_member | is_coordinator | acts_for_employer_of,
    CHANGE_OFFERS: acts_for_employer_of,
    SEE_TALENT_POOL: acts_for_employer_of,
    CHANGE_SHORTLIST: acts_for_employer_of,
    SEE_INVITATIONS: is_invited_learner,
    ANSWER_INVITATIONS: is_invited_learner,
    SEE_PROJECTS: is_platform_staff | coordinates_school_of | mentors,
    CHANGE_PROJECTS: is_platform_staff | coordinates_school_of,
    SIGN_OFF_PROJECTS: mentors,
    # the report is the committee's: aggregates with small counts suppressed, for its members only
    SEE_REPORTS: is_committee_member,
    CHANGE_REPORTS: is_committee_member,
}
for _name, _predicate in RULES.items():
    rules.set_perm(_name, _predicate)


def allowed(user, permission: str, obj=None) -> bool:
    """Whether ``user`` holds ``permission`` (one of the names above) on ``obj`` (None: on anything)."""
    if permission not in RULES:
        raise KeyError(f"unknown permission {permission!r}")
    return bool(rules.has_perm(permission, user, obj))


def require(user, permission: str, obj=None) -> None:
    if not allowed(user, permission, obj):
        raise PermissionDenied(f"{permission} refused")


def dashboard_scope(user) -> tuple[set[int] | None, int]:
    """The schools whose figures ``user`` sees (None: all) and the count below which figures are suppressed.

    A committee member sees every school, suppressed; a coordinator sees their schools (they see those
    learners by name anyway); platform staff see all. Anyone else: PermissionDenied.
    """
    require(user, SEE_DASHBOARD)
    if _member(user) is not None:
        return None, int(partnership_settings.PARTNERSHIP_SMALL_COUNT)
    return cert_api.visible_school_ids(user), 0


def employer_ids_changeable(user) -> set[int] | None:
    """Employers whose needs ``user`` may record: None for all, else a set (possibly empty)."""
    if is_platform_staff(user):
        return None
    member = _member(user)
    return {member.employer_id} if member is not None and member.employer_id is not None else set()
