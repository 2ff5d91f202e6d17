"""Offers and the talent pool: internships, work-study places and jobs, and the learners an employer may invite.

An employer representative publishes offers for their employer. An offer's talent pool holds only the
learners who, right now, share their records with that employer *and* agreed to be contacted by it about
offers (certification's per-employer consent, ``contact_for_offers``), on an enrolment of a targeted
school and cohort kind. The employer sees them by their valid certificates and the skills those prove,
nothing else; shortlists, then invites; the learner alone answers. Consent is checked again on every
step, so a learner who withdraws it leaves every pool and can no longer be invited.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone

from xblocks.certification import api as cert_api
from xblocks.partnership import models, permissions
from xblocks.partnership.data import Candidate, InvitationData, OfferData, RoleKind

COHORT_KINDS = ("initial", "work_study", "continuing")
Status = models.Invitation.Status


def _employers() -> dict[int, str]:
    return {employer.id: employer.name for employer in cert_api.list_employers()}


def _offer_data(offer: models.Offer, names: dict[int, str], counts: dict[int, tuple[int, int]]) -> OfferData:
    invited, accepted = counts.get(offer.pk, (0, 0))
    return OfferData(
        id=offer.pk,
        employer_id=offer.employer_id,
        employer_name=names.get(offer.employer_id, "?"),
        kind=offer.kind,
        title=offer.title,
        description=offer.description,
        skills=tuple(sorted(skill.pk for skill in offer.skills.all())),
        school_ids=tuple(offer.school_ids or ()),
        cohort_kinds=tuple(offer.cohort_kinds or ()),
        cohort_ids=tuple(offer.cohort_ids or ()),
        starts_on=offer.starts_on,
        ends_on=offer.ends_on,
        apply_by=offer.apply_by,
        places=offer.places,
        closed=offer.closed,
        invited=invited,
        accepted=accepted,
    )


def _counts(offer_ids: Iterable[int]) -> dict[int, tuple[int, int]]:
    rows = (
        models.Invitation.objects.filter(offer_id__in=list(offer_ids))
        .values("offer_id")
        .annotate(
            invited=Count("pk", filter=Q(status__in=[Status.INVITED, Status.ACCEPTED, Status.DECLINED])),
            accepted=Count("pk", filter=Q(status=Status.ACCEPTED)),
        )
    )
    return {row["offer_id"]: (row["invited"], row["accepted"]) for row in rows}


def list_offers(viewer) -> list[OfferData]:
    """The offers ``viewer`` may see: an employer representative their employer's, others every offer."""
    permissions.require(viewer, permissions.SEE_OFFERS)
    queryset = models.Offer.objects.prefetch_related("skills").order_by("closed", "apply_by", "pk")
    employer_id = permissions.representative_employer_id(viewer)
    if employer_id is not None:
        queryset = queryset.filter(employer_id=employer_id)
    offers = list(queryset)
    counts = _counts(offer.pk for offer in offers)
    names = _employers()
    return [_offer_data(offer, names, counts) for offer in offers]


def get_offer(viewer, offer_id) -> OfferData:
    offer = _offer(offer_id)
    if not permissions.allowed(viewer, permissions.SEE_OFFERS, offer):
        raise PermissionDenied("may not see this offer")
    return _offer_data(offer, _employers(), _counts([offer.pk]))


def _offer(offer_id) -> models.Offer:
    try:
        return models.Offer.objects.prefetch_related("skills").get(pk=int(offer_id))
    except (TypeError, ValueError, models.Offer.DoesNotExist):
        raise PermissionDenied("no such offer") from None


def create_offer(
    actor,
    *,
    title: str,
    kind: str,
    skills: Iterable[str],
    starts_on: datetime.date,
    apply_by: datetime.date,
    places: int = 1,
    ends_on: datetime.date | None = None,
    school_ids: Iterable[int] = (),
    cohort_kinds: Iterable[str] = (),
    cohort_ids: Iterable[int] = (),
    description: str = "",
) -> OfferData:
    """Publish an offer for the employer ``actor`` represents; ValidationError on a bad field."""
    employer_id = permissions.representative_employer_id(actor)
    offer = models.Offer(employer_id=employer_id or 0)
    if employer_id is None or not permissions.allowed(actor, permissions.CHANGE_OFFERS, offer):
        raise PermissionDenied("may not publish offers")
    title = str(title).strip()
    if not title or len(title) > 255:
        raise ValidationError("a title of 1 to 255 characters is required")
    skill_ids = sorted(set(skills))
    if models.Skill.objects.filter(pk__in=skill_ids, retired=False).count() != len(skill_ids):
        raise ValidationError("every skill must come from the catalogue")
    known_schools = {school.id for school in cert_api.list_schools()}
    school_ids = sorted({int(school) for school in school_ids})
    if set(school_ids) - known_schools:
        raise ValidationError("unknown school")
    cohort_ids = sorted({int(cohort) for cohort in cohort_ids})
    if set(cohort_ids) - {cohort.id for cohort in cert_api.cohorts_of_schools()}:
        raise ValidationError("unknown cohort")
    cohort_kinds = sorted(set(cohort_kinds))
    if set(cohort_kinds) - set(COHORT_KINDS):
        raise ValidationError("unknown cohort kind")
    if int(places) < 1:
        raise ValidationError("at least one place")
    if ends_on is not None and ends_on < starts_on:
        raise ValidationError("an offer cannot end before it starts")
    offer.kind, offer.title, offer.description = RoleKind(kind), title, str(description).strip()
    offer.school_ids, offer.cohort_kinds, offer.cohort_ids = school_ids, cohort_kinds, cohort_ids
    offer.starts_on, offer.ends_on, offer.apply_by, offer.places = starts_on, ends_on, apply_by, int(places)
    offer.created_by = actor
    with transaction.atomic():
        offer.save()
        offer.skills.set(skill_ids)
    return get_offer(actor, offer.pk)


def close_offer(actor, offer_id) -> OfferData:
    """The offer's employer closes it: no more shortlisting, and answers are frozen as they are."""
    offer = _offer(offer_id)
    if not permissions.allowed(actor, permissions.CHANGE_OFFERS, offer):
        raise PermissionDenied("may not change this offer")
    models.Offer.objects.filter(pk=offer.pk).update(closed=True)
    return get_offer(actor, offer.pk)


def _pool(offer: models.Offer, enrollment_ids: Iterable[int] | None = None):
    """Consenting, contactable learners of the offer's targeted schools, cohorts and cohort kinds."""
    profiles = cert_api.learner_profiles(
        offer.school_ids or None, employer_id=offer.employer_id, contact_only=True, enrollment_ids=enrollment_ids
    )
    return [
        p
        for p in profiles
        if (not offer.cohort_kinds or p.cohort_mode in offer.cohort_kinds)
        and (not offer.cohort_ids or p.cohort_id in offer.cohort_ids)
    ]


def talent_pool(actor, offer_id) -> list[Candidate]:
    """The offer's talent pool, best skill match first (then the most certificates); PermissionDenied unless
    ``actor`` represents the offer's employer."""
    offer = _offer(offer_id)
    if not permissions.allowed(actor, permissions.SEE_TALENT_POOL, offer):
        raise PermissionDenied("may not see this talent pool")
    wanted = {skill.pk for skill in offer.skills.all()}
    statuses = dict(models.Invitation.objects.filter(offer=offer).values_list("enrollment_id", "status"))
    schools = {school.id: school.name for school in cert_api.list_schools()}
    candidates = [
        Candidate(
            enrollment_id=profile.enrollment_id,
            name=profile.name,
            school_name=schools.get(profile.school_id, ""),
            cohort_name=profile.cohort_name,
            certificates=profile.certificates,
            skills=profile.skills,
            matched=tuple(sorted(wanted & set(profile.skills))),
            status=statuses.get(profile.enrollment_id, ""),
        )
        for profile in _pool(offer)
    ]
    candidates.sort(key=lambda c: (-len(c.matched), -len(c.certificates), c.name.lower(), c.enrollment_id))
    return candidates


def _pool_member(actor, offer_id, enrollment_id):
    offer = _offer(offer_id)
    if not permissions.allowed(actor, permissions.CHANGE_SHORTLIST, offer):
        raise PermissionDenied("may not change this shortlist")
    try:
        enrollment_id = int(enrollment_id)
    except (TypeError, ValueError):
        raise PermissionDenied("no such learner in the pool") from None
    profiles = _pool(offer, [enrollment_id])
    if not profiles:  # never consented, withdrew, or not targeted: the same answer
        raise PermissionDenied("no such learner in the pool")
    return offer, profiles[0]


def shortlist(actor, offer_id, enrollment_id) -> str:
    """Put a learner of the pool on the offer's shortlist (idempotent); returns the invitation's status."""
    offer, profile = _pool_member(actor, offer_id, enrollment_id)
    if offer.closed:
        raise ValidationError("the offer is closed")
    invitation, _created = models.Invitation.objects.get_or_create(
        offer=offer,
        enrollment_id=profile.enrollment_id,
        defaults={"user_id": profile.user_id, "school_id": profile.school_id},
    )
    return invitation.status


def invite(actor, offer_id, enrollment_id) -> str:
    """Invite a learner of the pool (shortlisting them first if need be); the learner sees it and answers."""
    shortlist(actor, offer_id, enrollment_id)
    models.Invitation.objects.filter(
        offer_id=int(offer_id), enrollment_id=int(enrollment_id), status=Status.SHORTLISTED
    ).update(status=Status.INVITED, invited_at=timezone.now())
    return models.Invitation.objects.get(offer_id=int(offer_id), enrollment_id=int(enrollment_id)).status


def drop(actor, offer_id, enrollment_id) -> None:
    """Take a learner off the shortlist; an invitation already sent stays (the learner saw it)."""
    offer = _offer(offer_id)
    if not permissions.allowed(actor, permissions.CHANGE_SHORTLIST, offer):
        raise PermissionDenied("may not change this shortlist")
    try:
        enrollment_id = int(enrollment_id)
    except (TypeError, ValueError):
        raise PermissionDenied("no such learner in the pool") from None
    models.Invitation.objects.filter(offer=offer, enrollment_id=enrollment_id, status=Status.SHORTLISTED).delete()


def learner_invitations(user) -> list[InvitationData]:
    """The invitations sent to ``user`` (never the shortlist, which is the employer's working list)."""
    permissions.require(user, permissions.SEE_INVITATIONS)
    rows = list(
        models.Invitation.objects.filter(user_id=user.pk)
        .exclude(status=Status.SHORTLISTED)
        .select_related("offer")
        .prefetch_related("offer__skills")
        .order_by("-invited_at", "-pk")
    )
    names = _employers()
    return [
        InvitationData(
            row.pk,
            _offer_data(row.offer, names, {}),
            row.enrollment_id,
            row.status,
            row.invited_at,
            row.answered_at,
        )
        for row in rows
    ]


def answer_invitation(user, invitation_id, accept: bool) -> str:
    """The invited learner accepts or declines (and may change their mind until the offer closes)."""
    try:
        invitation = models.Invitation.objects.select_related("offer").get(pk=int(invitation_id))
    except (TypeError, ValueError, models.Invitation.DoesNotExist):
        raise PermissionDenied("no such invitation") from None
    if not permissions.allowed(user, permissions.ANSWER_INVITATIONS, invitation):
        raise PermissionDenied("no such invitation")
    if invitation.status == Status.SHORTLISTED:
        raise PermissionDenied("no such invitation")
    if invitation.offer.closed:
        raise ValidationError("the offer is closed")
    invitation.status = Status.ACCEPTED if accept else Status.DECLINED
    invitation.answered_at = timezone.now()
    invitation.save(update_fields=["status", "answered_at"])
    return invitation.status


def set_contact_consent(user, enrollment_id, employer_slug: str, contactable: bool) -> None:
    """The learner's own "may be contacted for offers" for one enrolment and employer (certification keeps it)."""
    cert_api.set_own_contact_consent(user, enrollment_id, employer_slug, contactable)


def offer_counts(school_ids: Iterable[int] | None = None) -> dict[str, int]:
    """Offers, places, invitations sent and accepted (the dashboard's and the report's counts; no person).

    With ``school_ids``, offers targeting one of them (or every school) and invitations of their learners.
    """
    offers = models.Offer.objects.all()
    invitations = models.Invitation.objects.exclude(status=Status.SHORTLISTED)
    if school_ids is not None:
        schools = list(school_ids)
        offers = [o for o in offers if not o.school_ids or set(o.school_ids) & set(schools)]
        invitations = invitations.filter(school_id__in=schools)
    else:
        offers = list(offers)
    totals = invitations.aggregate(invited=Count("pk"), accepted=Count("pk", filter=Q(status=Status.ACCEPTED)))
    return {
        "offers": len(offers),
        "open": sum(1 for o in offers if not o.closed),
        "places": sum(o.places for o in offers),
        "invited": totals["invited"] or 0,
        "accepted": totals["accepted"] or 0,
    }


def offer_targets(school_ids: Iterable[int] | None = None) -> list[tuple[tuple[int, ...], frozenset[str], int]]:
    """Each offer in scope as ``(targeted schools (empty: every school), domains of its skills, places)``, for the
    breakdown by school and domain (two queries whatever the count; offers name nobody)."""
    domains: dict[int, set[str]] = {}
    for offer_id, domain in models.Offer.skills.through.objects.values_list("offer_id", "skill__domain"):
        domains.setdefault(offer_id, set()).add(domain)
    wanted = None if school_ids is None else set(school_ids)
    return [
        (tuple(offer.school_ids or ()), frozenset(domains.get(offer.pk, ())), offer.places)
        for offer in models.Offer.objects.only("pk", "school_ids", "places")
        if wanted is None or not offer.school_ids or set(offer.school_ids) & wanted
    ]
