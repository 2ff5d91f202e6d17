"""Tables of the partnership app; only its ``api`` (and admin) touch them, everything else reads ``data``.

Employers, schools and cohorts belong to certification: rows here hold their ids, checked through
``xblocks.certification.api`` when written, never a foreign key into another app's tables.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models

from xblocks.core.i18n import gettext_lazy as _
from xblocks.partnership.data import Domain, RoleKind


def _choices(enum_cls) -> list[tuple[str, str]]:
    return [(member.value, member.value.replace("_", " ")) for member in enum_cls]


class Skill(models.Model):
    """One skill of the catalogue (``course_content/skills/<domain>.json``), kept in step by ``kafaat_load_skills``."""

    id = models.CharField(primary_key=True, max_length=128)
    domain = models.CharField(max_length=32, choices=_choices(Domain))
    name_en = models.CharField(max_length=255)
    name_fr = models.CharField(max_length=255, blank=True)
    name_ar = models.CharField(max_length=255, blank=True)
    framework = models.CharField(max_length=16, blank=True, help_text=_("e-CF or ESCO"))
    code = models.CharField(max_length=255, blank=True, help_text=_("the skill's code or URI in that framework"))
    retired = models.BooleanField(default=False, help_text=_("no longer in the catalogue files; needs keep it"))

    class Meta:
        ordering = ["domain", "id"]

    def __str__(self) -> str:
        return f"{self.id} ({self.name_en})"


class Need(models.Model):
    """How many people with these skills an employer needs, by when, for which kind of role."""

    employer_id = models.PositiveBigIntegerField(db_index=True, help_text=_("a certification employer's id"))
    skills = models.ManyToManyField(Skill, related_name="needs")
    count = models.PositiveIntegerField()
    by_date = models.DateField()
    role_kind = models.CharField(max_length=16, choices=_choices(RoleKind))
    note = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    import_batch = models.CharField(max_length=64, blank=True)

    class Meta:
        ordering = ["by_date", "pk"]

    def __str__(self) -> str:
        return f"{self.count} × {self.role_kind} by {self.by_date}"


class CommitteeMember(models.Model):
    """A member of the monitoring committee; one who represents an employer may record that employer's needs."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_committee")
    employer_id = models.PositiveBigIntegerField(
        null=True, blank=True, help_text=_("the certification employer this member speaks for, if any")
    )

    def __str__(self) -> str:
        return str(self.user)


class Projection(models.Model):
    """A pipeline enrolment's projected completion as certification's rules computed it on ``computed_on``.

    Refreshed every night (``tasks.refresh_projections``) so that the dashboard reads one table instead of
    evaluating tens of thousands of learners per page; an enrolment without a row is evaluated live.
    """

    enrollment_id = models.PositiveBigIntegerField(unique=True)
    projected_on = models.DateField(null=True, blank=True)
    computed_on = models.DateField()

    def __str__(self) -> str:
        return f"{self.enrollment_id}: {self.projected_on}"


class Placement(models.Model):
    """An outcome: an internship, a work-study contract or a hire of a learner, recorded with their consent."""

    enrollment_id = models.PositiveBigIntegerField(db_index=True, help_text=_("the certification enrolment"))
    school_id = models.PositiveBigIntegerField(db_index=True, help_text=_("the enrolment's school, for scoping"))
    employer_id = models.PositiveBigIntegerField(null=True, blank=True, help_text=_("a certification employer, if any"))
    employer_name = models.CharField(max_length=255, blank=True, help_text=_("another employer's name"))
    kind = models.CharField(max_length=16, choices=_choices(RoleKind))
    contract_type = models.CharField(max_length=64, blank=True)
    started_on = models.DateField()
    ended_on = models.DateField(null=True, blank=True)
    consent_recorded_at = models.DateTimeField(help_text=_("when the learner agreed to this record"))
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["started_on", "pk"]

    def __str__(self) -> str:
        return f"{self.kind} from {self.started_on} (enrolment {self.enrollment_id})"


class EmployerRepresentative(models.Model):
    """A user who acts for an employer partner: publishes its offers, reads its talent pool, records its hires.

    Not a committee member: the committee sees aggregates only, a representative sees the learners who
    consented to share with (and be contacted by) their employer.
    """

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_employer_rep")
    employer_id = models.PositiveBigIntegerField(help_text=_("the certification employer this user acts for"))

    def __str__(self) -> str:
        return f"{self.user} for employer {self.employer_id}"


class Offer(models.Model):
    """An internship, a work-study place or a job an employer offers, targeted at schools and cohort kinds."""

    employer_id = models.PositiveBigIntegerField(db_index=True, help_text=_("a certification employer's id"))
    kind = models.CharField(max_length=16, choices=_choices(RoleKind))
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    skills = models.ManyToManyField(Skill, related_name="offers", blank=True)
    school_ids = models.JSONField(default=list, blank=True, help_text=_("schools targeted; empty: every school"))
    cohort_kinds = models.JSONField(default=list, blank=True, help_text=_("cohort kinds targeted; empty: every kind"))
    cohort_ids = models.JSONField(default=list, blank=True, help_text=_("cohorts targeted; empty: every cohort"))
    starts_on = models.DateField()
    ends_on = models.DateField(null=True, blank=True)
    apply_by = models.DateField()
    places = models.PositiveIntegerField(default=1)
    closed = models.BooleanField(default=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["apply_by", "pk"]

    def __str__(self) -> str:
        return self.title


class Invitation(models.Model):
    """A learner of an offer's talent pool: shortlisted by the employer, then invited, then answering."""

    class Status(models.TextChoices):
        SHORTLISTED = "shortlisted", _("shortlisted")
        INVITED = "invited", _("invited")
        ACCEPTED = "accepted", _("accepted")
        DECLINED = "declined", _("declined")

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="invitations")
    enrollment_id = models.PositiveBigIntegerField(db_index=True)
    user_id = models.PositiveBigIntegerField(db_index=True, help_text=_("the learner, who alone answers"))
    school_id = models.PositiveBigIntegerField(db_index=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.SHORTLISTED)
    shortlisted_at = models.DateTimeField(auto_now_add=True)
    invited_at = models.DateTimeField(null=True, blank=True)
    answered_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["offer", "enrollment_id"], name="kafaat_invitation_once_per_offer")
        ]
        ordering = ["offer", "pk"]

    def __str__(self) -> str:
        return f"{self.offer}: enrolment {self.enrollment_id} ({self.status})"


class Project(models.Model):
    """An R&D or capstone project of a school, mentored by someone at the employer; tracks may require it."""

    class Status(models.TextChoices):
        PROPOSED = "proposed", _("proposed")
        ACTIVE = "active", _("active")
        COMPLETED = "completed", _("completed")
        CANCELLED = "cancelled", _("cancelled")

    class Kind(models.TextChoices):
        CAPSTONE = "capstone", _("capstone")
        RESEARCH = "research", _("R&D")

    title = models.CharField(max_length=255)
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.CAPSTONE)
    school_id = models.PositiveBigIntegerField(db_index=True)
    employer_id = models.PositiveBigIntegerField(null=True, blank=True)
    mentor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="kafaat_mentored"
    )
    domain = models.CharField(max_length=32, choices=_choices(Domain))
    requirement_key = models.SlugField(
        max_length=128, blank=True, help_text=_("the key a track's project requirement names; empty: none")
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PROPOSED)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["school_id", "pk"]

    def __str__(self) -> str:
        return self.title


class ProjectMember(models.Model):
    project = models.ForeignKey(Project, on_delete=models.CASCADE, related_name="members")
    enrollment_id = models.PositiveBigIntegerField(db_index=True)
    signed_off_at = models.DateTimeField(null=True, blank=True)
    signed_off_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [models.UniqueConstraint(fields=["project", "enrollment_id"], name="kafaat_project_member_once")]

    def __str__(self) -> str:
        return f"{self.project}: enrolment {self.enrollment_id}"


class Report(models.Model):
    """A committee report for a period, written in the background (PDF and XLSX), kept for its requester."""

    class Status(models.TextChoices):
        PENDING = "pending", _("waiting")
        RUNNING = "running", _("being written")
        DONE = "done", _("ready")
        FAILED = "failed", _("failed")

    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    start = models.DateField()
    end = models.DateField()
    language = models.CharField(max_length=8, default="en")
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    progress = models.PositiveSmallIntegerField(default=0, help_text=_("percent"))
    pdf = models.BinaryField(blank=True, default=b"")
    xlsx = models.BinaryField(blank=True, default=b"")
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-pk"]

    def __str__(self) -> str:
        return f"report {self.start}–{self.end} ({self.status})"
