"""R&D and capstone projects: a school's, mentored by someone at the employer, counted by the committee.

Coordinators (their schools) and platform staff create projects and add learners of the project's school.
The mentor signs a learner off; the sign-off reaches certification as evidence of kind ``project``
(``cert_api.record_project_signoff``) under the project's ``requirement_key``, which a track's
``project`` requirement names. Certification never imports this app (the layers contract): the
evidence is all it knows of a project.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.db.models import Count, Q
from django.utils import timezone
from django.utils.text import slugify

from xblocks.certification import api as cert_api
from xblocks.partnership import models, permissions
from xblocks.partnership.data import Domain, ProjectData

Status = models.Project.Status


def _data(project: models.Project, schools: dict, employers: dict, learners: dict) -> ProjectData:
    mentor = project.mentor
    return ProjectData(
        id=project.pk,
        title=project.title,
        kind=project.kind,
        school_id=project.school_id,
        school_name=schools.get(project.school_id, ""),
        employer_id=project.employer_id,
        employer_name=employers.get(project.employer_id, "") if project.employer_id else "",
        mentor=(mentor.get_full_name() or mentor.get_username()) if mentor else "",
        domain=project.domain,
        requirement_key=project.requirement_key,
        status=project.status,
        starts_on=project.starts_on,
        ends_on=project.ends_on,
        members=tuple(
            (member.enrollment_id, learners.get(member.enrollment_id, ""), member.signed_off_at is not None)
            for member in project.members.all()
        ),
        mentor_id=project.mentor_id,
    )


def list_projects(viewer) -> list[ProjectData]:
    """The projects ``viewer`` may see: staff all, a coordinator their schools', a mentor the ones they mentor."""
    permissions.require(viewer, permissions.SEE_PROJECTS)
    queryset = models.Project.objects.select_related("mentor").prefetch_related("members")
    if not permissions.is_platform_staff(viewer):
        schools = cert_api.managed_school_ids(viewer) or set()
        queryset = queryset.filter(Q(school_id__in=list(schools)) | Q(mentor_id=viewer.pk))
    projects = list(queryset.order_by("school_id", "pk"))
    ids = [member.enrollment_id for project in projects for member in project.members.all()]
    learners = {p.enrollment_id: p.name for p in cert_api.learner_profiles(None, enrollment_ids=ids)} if ids else {}
    schools = {school.id: school.name for school in cert_api.list_schools()}
    employers = {employer.id: employer.name for employer in cert_api.list_employers()}
    return [_data(project, schools, employers, learners) for project in projects]


def create_project(
    actor,
    *,
    title: str,
    school_id: int,
    domain: str,
    kind: str = "capstone",
    mentor_username: str = "",
    employer_slug: str = "",
    requirement_key: str = "",
    status: str = "active",
    starts_on: datetime.date | None = None,
    ends_on: datetime.date | None = None,
    enrollment_ids: Iterable[int] = (),
) -> ProjectData:
    """Create a project of ``school_id`` (the actor must manage it) with its learners (of that school)."""
    project = models.Project(school_id=int(school_id))
    if not permissions.allowed(actor, permissions.CHANGE_PROJECTS, project):
        raise PermissionDenied("may not create projects for this school")
    title = str(title).strip()
    if not title or len(title) > 255:
        raise ValidationError("a title of 1 to 255 characters is required")
    if project.school_id not in {school.id for school in cert_api.list_schools()}:
        raise ValidationError("unknown school")
    mentor = None
    if mentor_username:
        mentor = get_user_model().objects.filter(username=mentor_username, is_active=True).first()
        if mentor is None:
            raise ValidationError("unknown mentor")
    employer = None
    if employer_slug:
        employer = next((e for e in cert_api.list_employers() if e.slug == employer_slug), None)
        if employer is None:
            raise ValidationError("unknown employer")
    key = slugify(requirement_key)
    if requirement_key and key != requirement_key:
        raise ValidationError("a requirement key is a slug (letters, digits, - and _)")
    ids = sorted({int(value) for value in enrollment_ids})
    school_learners = {p.enrollment_id for p in cert_api.learner_profiles([project.school_id], enrollment_ids=ids)}
    if set(ids) - school_learners:
        raise ValidationError("every learner must be enrolled at the project's school")
    project.title, project.kind, project.domain = title, models.Project.Kind(kind), Domain(domain)
    project.mentor, project.employer_id, project.requirement_key = mentor, employer.id if employer else None, key
    project.status, project.starts_on, project.ends_on = Status(status), starts_on, ends_on
    with transaction.atomic():
        project.save()
        models.ProjectMember.objects.bulk_create(
            [models.ProjectMember(project=project, enrollment_id=value) for value in ids]
        )
    return next(p for p in list_projects(actor) if p.id == project.pk)


def set_project_status(actor, project_id, status: str) -> None:
    """A coordinator of the project's school (or platform staff) moves it on: proposed, under way, completed,
    cancelled."""
    try:
        project = models.Project.objects.get(pk=int(project_id))
    except (TypeError, ValueError, models.Project.DoesNotExist):
        raise PermissionDenied("no such project") from None
    if not permissions.allowed(actor, permissions.CHANGE_PROJECTS, project):
        raise PermissionDenied("may not change this project")
    try:
        status = Status(status)
    except ValueError:
        raise ValidationError("unknown status") from None
    models.Project.objects.filter(pk=project.pk).update(status=status)


def sign_off(actor, project_id, enrollment_id, signed_off: bool = True) -> None:
    """The project's mentor signs a learner of the project off (or withdraws it); the evidence goes to certification."""
    try:
        project = models.Project.objects.get(pk=int(project_id))
        member = models.ProjectMember.objects.get(project=project, enrollment_id=int(enrollment_id))
    except (TypeError, ValueError, models.Project.DoesNotExist, models.ProjectMember.DoesNotExist):
        raise PermissionDenied("no such project member") from None
    if not permissions.allowed(actor, permissions.SIGN_OFF_PROJECTS, project):
        raise PermissionDenied("only the project's mentor signs off")
    now = timezone.now()
    with transaction.atomic():
        member.signed_off_at, member.signed_off_by = (now, actor) if signed_off else (None, None)
        member.save(update_fields=["signed_off_at", "signed_off_by"])
        if project.requirement_key:
            cert_api.record_project_signoff(member.enrollment_id, project.requirement_key, signed_off, occurred_at=now)


def project_counts(school_ids: Iterable[int] | None = None) -> dict[str, dict[str, int]]:
    """Projects by status and by domain, and learners signed off (the dashboard's and the report's counts)."""
    queryset = models.Project.objects.all()
    members = models.ProjectMember.objects.all()
    if school_ids is not None:
        queryset = queryset.filter(school_id__in=list(school_ids))
        members = members.filter(project__school_id__in=list(school_ids))
    by_status = dict(queryset.values_list("status").annotate(n=Count("pk")).values_list("status", "n"))
    by_domain = dict(queryset.values_list("domain").annotate(n=Count("pk")).values_list("domain", "n"))
    return {
        "status": {str(status): by_status.get(str(status), 0) for status in Status},
        "domain": {str(domain): by_domain.get(str(domain), 0) for domain in Domain},
        "learners": {
            "members": members.count(),
            "signed_off": members.filter(signed_off_at__isnull=False).count(),
        },
    }
