"""Tables of the certification app; only ``api`` (and admin) touch them, everything else reads ``data``."""

from __future__ import annotations

import enum

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models

from xblocks.core.i18n import gettext_lazy as _


class CohortMode(enum.StrEnum):
    INITIAL = "initial"
    CONTINUING = "continuing"
    WORK_STUDY = "work_study"


class EnrollmentStatus(enum.StrEnum):
    ACTIVE = "active"
    WITHDRAWN = "withdrawn"


class RequirementKind(enum.StrEnum):
    ALL = "all"  # AND group
    ANY = "any"  # OR group (``threshold`` = how many children must be met, default 1)
    LAB_PASSED = "lab_passed"  # key: lab id (url_name)
    BLOCK_SCORE = "block_score"  # key: lab id or usage key; threshold: fraction 0..1
    COURSE_GRADE = "course_grade"  # key: course key; threshold: fraction 0..1
    COMPLETION = "completion"  # key: course or block key
    HOURS = "hours"  # threshold: hours; category and/or source filter
    ATTESTATION = "attestation"  # key: competency slug
    SCHOOL_SHARE = "school_share"  # threshold: minimum fraction of hours at school
    PROJECT = "project"  # key: project requirement key; met when the project's mentor signed the learner off


class RequirementPurpose(enum.StrEnum):
    INITIAL = "initial"
    RENEWAL = "renewal"


class HoursSource(enum.StrEnum):
    SCHOOL = "school"
    COMPANY = "company"
    ELEARNING = "elearning"


class EvidenceKind(enum.StrEnum):
    LAB = "lab"
    BLOCK_SCORE = "block_score"
    COURSE_GRADE = "course_grade"
    COMPLETION = "completion"
    PROJECT = "project"  # a mentor's sign-off of an R&D or capstone project (key: the project's requirement key)


class CertificateStatus(enum.StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"
    EXPIRED = "expired"


class ValidityMode(enum.StrEnum):
    NONE = "none"  # never expires
    AFTER_COMPLETION = "after_completion"  # completion + validity_months
    ANNIVERSARY = "anniversary"  # first: completion + period; renewals: previous expiry + period
    FIXED = "fixed"  # fixed_until, then every validity_months after it: the first date in the future


class RenewalMode(enum.StrEnum):
    REQUIREMENTS = "requirements"  # the version's renewal requirement set, evidence from the window
    ROLLING_HOURS = "rolling_hours"  # renewal_hours within the last renewal_window_months


def _choices(enum_cls) -> list[tuple[str, str]]:
    return [(member.value, member.value.replace("_", " ")) for member in enum_cls]


class School(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=255)
    url = models.URLField(blank=True)
    email = models.EmailField(blank=True)
    country = models.CharField(max_length=2, blank=True, help_text=_("ISO 3166-1 alpha-2"))
    logo_url = models.URLField(blank=True)
    branding = models.JSONField(
        default=dict,
        blank=True,
        help_text=_(
            'Certificate logo and signatures: {"logo": "data:image/png;base64,...", '
            '"signatures": [{"name": "...", "role": "...", "image": "data:..."}]} (PNG, JPEG or SVG)'
        ),
    )

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        from xblocks.certification import branding  # pylint: disable=import-outside-toplevel

        try:
            self.branding = branding.clean(self.branding, name="branding")
        except ValueError as error:
            raise ValidationError({"branding": str(error)}) from None


class Employer(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    name = models.CharField(max_length=255)

    def __str__(self) -> str:
        return self.name


class SchoolCoordinator(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_coordinations")
    school = models.ForeignKey(School, on_delete=models.CASCADE, related_name="coordinators")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "school"], name="kafaat_coordinator_unique")]

    def __str__(self) -> str:
        return f"{self.user} @ {self.school}"


class Track(models.Model):
    slug = models.SlugField(max_length=64, unique=True)
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    # The track file's "certificate" (logo, signatures), cleaned by ``branding.clean``; not versioned:
    # a new signatory changes the look of the PDF, not what the certificate proves.
    branding = models.JSONField(default=dict, blank=True)

    def __str__(self) -> str:
        return self.title

    def current_version(self) -> TrackVersion | None:
        return self.versions.filter(published=True).order_by("-version").first()


class TrackVersion(models.Model):
    """Frozen once published: a learner keeps the version they enrolled under."""

    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="versions")
    version = models.PositiveIntegerField()
    title = models.CharField(max_length=255)
    description = models.TextField(blank=True)
    criteria = models.TextField(blank=True, help_text=_("Markdown narrative of the requirements"))
    skills = models.JSONField(default=list, blank=True)
    proves = models.JSONField(
        default=list, blank=True, help_text=_("ids of catalogue skills a certificate of this version proves")
    )
    published = models.BooleanField(default=False)
    published_at = models.DateTimeField(null=True, blank=True)
    content_hash = models.CharField(max_length=64, blank=True, help_text=_("hash of the definition file"))
    validity_mode = models.CharField(max_length=20, choices=_choices(ValidityMode), default=ValidityMode.NONE)
    validity_months = models.PositiveIntegerField(default=0)
    fixed_until = models.DateField(null=True, blank=True)
    window_days = models.PositiveIntegerField(default=60, help_text=_("renewal opens this many days before expiry"))
    renewal_mode = models.CharField(max_length=20, choices=_choices(RenewalMode), default=RenewalMode.REQUIREMENTS)
    renewal_hours = models.FloatField(default=0)
    renewal_window_months = models.PositiveIntegerField(default=24)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["track", "version"], name="kafaat_track_version_unique")]
        ordering = ["track", "version"]

    def __str__(self) -> str:
        return f"{self.track.slug} v{self.version}"

    def save(self, *args, **kwargs):
        if self.pk:  # publishing itself goes through QuerySet.update in api.publish_version
            before = TrackVersion.objects.filter(pk=self.pk).values("published").first()
            if before and before["published"]:
                raise ValidationError(_("A published track version is frozen; load a new version instead."))
        super().save(*args, **kwargs)


class Requirement(models.Model):
    """One node of a version's requirement tree: a group (all/any) or a leaf."""

    version = models.ForeignKey(TrackVersion, on_delete=models.CASCADE, related_name="requirements")
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.CASCADE, related_name="children")
    purpose = models.CharField(max_length=10, choices=_choices(RequirementPurpose), default=RequirementPurpose.INITIAL)
    position = models.PositiveIntegerField(default=0)
    kind = models.CharField(max_length=20, choices=_choices(RequirementKind))
    title = models.CharField(max_length=255, blank=True)
    key = models.CharField(max_length=255, blank=True, help_text=_("lab id, usage key, course key or competency"))
    category = models.CharField(max_length=64, blank=True)
    source = models.CharField(max_length=16, blank=True, choices=[("", "any"), *_choices(HoursSource)])
    threshold = models.FloatField(default=0)
    due_date = models.DateField(null=True, blank=True)

    class Meta:
        ordering = ["version", "purpose", "parent_id", "position", "id"]

    def __str__(self) -> str:
        return self.title or f"{self.kind} {self.key}"

    def save(self, *args, **kwargs):
        self._check_frozen()
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        self._check_frozen()
        return super().delete(*args, **kwargs)

    def _check_frozen(self) -> None:
        if TrackVersion.objects.filter(pk=self.version_id, published=True).exists():
            raise ValidationError(_("A published track version is frozen; load a new version instead."))


class Cohort(models.Model):
    school = models.ForeignKey(School, on_delete=models.PROTECT, related_name="cohorts")
    track = models.ForeignKey(Track, on_delete=models.PROTECT, related_name="cohorts")
    slug = models.SlugField(max_length=64)
    name = models.CharField(max_length=255)
    mode = models.CharField(max_length=20, choices=_choices(CohortMode), default=CohortMode.INITIAL)
    starts_on = models.DateField(null=True, blank=True)
    ends_on = models.DateField(null=True, blank=True)
    course_keys = models.JSONField(default=list, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["school", "slug"], name="kafaat_cohort_slug_unique")]

    def __str__(self) -> str:
        return self.name


class Enrollment(models.Model):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_enrollments")
    cohort = models.ForeignKey(Cohort, on_delete=models.CASCADE, related_name="enrollments")
    track_version = models.ForeignKey(TrackVersion, on_delete=models.PROTECT, related_name="enrollments")
    employee_id = models.CharField(max_length=64, blank=True)
    status = models.CharField(max_length=16, choices=_choices(EnrollmentStatus), default=EnrollmentStatus.ACTIVE)
    enrolled_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "cohort"], name="kafaat_enrollment_unique")]

    def __str__(self) -> str:
        return f"{self.user} in {self.cohort}"


class Consent(models.Model):
    """Whether a learner shares their records with an employer; withdrawal is kept, not deleted."""

    enrollment = models.ForeignKey(Enrollment, on_delete=models.CASCADE, related_name="consents")
    employer = models.ForeignKey(Employer, on_delete=models.CASCADE, related_name="consents")
    granted_at = models.DateTimeField()
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    contact_for_offers = models.BooleanField(
        default=False, help_text=_("the learner also agrees that this employer contacts them about offers")
    )
    contact_changed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["enrollment", "employer"], name="kafaat_consent_unique")]

    def __str__(self) -> str:
        return f"{self.enrollment} → {self.employer}"


class AppendOnly(models.Model):
    """Ledger rows: corrections are new rows, never edits."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.pk is not None and type(self).objects.filter(pk=self.pk).exists():
            raise ValidationError(_("Ledger rows are never edited; record a correction instead."))
        super().save(*args, **kwargs)


class CohortLedger(AppendOnly):
    """Ledger rows that belong to one cohort and count toward it only (hours, sign-offs).

    ``cohort`` stays nullable in the database for rows the 0002 migration could not give a cohort
    (see the CHANGELOG), but no new row is ever saved without one.
    """

    class Meta:
        abstract = True

    def save(self, *args, **kwargs):
        if self.cohort_id is None:
            raise ValidationError(_("Hours and sign-offs always belong to a cohort."))
        super().save(*args, **kwargs)


class HoursEntry(CohortLedger):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_hours")
    cohort = models.ForeignKey(Cohort, null=True, on_delete=models.PROTECT, related_name="hours")
    source = models.CharField(max_length=16, choices=_choices(HoursSource))
    category = models.CharField(max_length=64, blank=True)
    minutes = models.IntegerField(help_text=_("negative only in corrections"))
    date = models.DateField()
    work_process = models.CharField(max_length=128, blank=True)
    attester = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    attested_at = models.DateTimeField(null=True, blank=True)
    note = models.TextField(blank=True)
    corrects = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="corrections")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    import_batch = models.CharField(max_length=64, blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "date"])]
        verbose_name_plural = "hours entries"

    def __str__(self) -> str:
        return f"{self.user} {self.minutes} min {self.source} {self.date}"


class Attestation(CohortLedger):
    """A staff member (e.g. the company tutor) signs off a competency for a learner of a cohort."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_attestations")
    cohort = models.ForeignKey(Cohort, null=True, on_delete=models.PROTECT, related_name="attestations")
    competency = models.CharField(max_length=128)
    attester = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+")
    attested_at = models.DateTimeField()
    note = models.TextField(blank=True)

    class Meta:
        indexes = [models.Index(fields=["user", "competency"])]

    def __str__(self) -> str:
        return f"{self.user}: {self.competency}"


class Evidence(models.Model):
    """The latest value of one piece of evidence per learner and key (lab, block score, grade, completion)."""

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="kafaat_evidence")
    kind = models.CharField(max_length=16, choices=_choices(EvidenceKind))
    key = models.CharField(max_length=255)
    value = models.FloatField(default=0)  # fraction 0..1
    passed = models.BooleanField(default=False)
    occurred_at = models.DateTimeField()
    course_key = models.CharField(max_length=255, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "kind", "key"], name="kafaat_evidence_unique")]
        verbose_name_plural = "evidence"

    def __str__(self) -> str:
        return f"{self.user} {self.kind} {self.key}"


class CertificateSequence(models.Model):
    """Per-year counter for certificate numbers, incremented under a row lock."""

    year = models.PositiveIntegerField(unique=True)
    last = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.year}: {self.last}"


class Certificate(models.Model):
    number = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="kafaat_certificates")
    track_version = models.ForeignKey(TrackVersion, on_delete=models.PROTECT, related_name="certificates")
    enrollment = models.ForeignKey(Enrollment, null=True, on_delete=models.SET_NULL, related_name="certificates")
    cohort = models.ForeignKey(Cohort, null=True, on_delete=models.PROTECT, related_name="certificates")
    period = models.PositiveIntegerField(default=1, help_text=_("1 for the first award, 2 for the first renewal, ..."))
    renewed_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="renewals")
    status = models.CharField(max_length=16, choices=_choices(CertificateStatus), default=CertificateStatus.ACTIVE)
    issued_at = models.DateTimeField()
    valid_from = models.DateField()
    valid_until = models.DateField(null=True, blank=True)
    hours_total = models.FloatField(default=0)
    hours_by_category = models.JSONField(default=dict)
    hours_by_source = models.JSONField(default=dict)
    results = models.JSONField(default=list)
    evidence = models.JSONField(default=dict)
    last_event_hash = models.CharField(max_length=64, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["user", "track_version", "period"], name="kafaat_certificate_once_per_period"
            )
        ]
        indexes = [models.Index(fields=["status", "valid_until"])]

    def __str__(self) -> str:
        return self.number


class CertificateEvent(AppendOnly):
    """Append-only audit chain per certificate: each hash covers the row and the previous hash."""

    certificate = models.ForeignKey(Certificate, on_delete=models.PROTECT, related_name="events")
    seq = models.PositiveIntegerField()
    kind = models.CharField(max_length=32)
    status = models.CharField(max_length=16)
    reason = models.TextField(blank=True)
    actor = models.CharField(max_length=150, blank=True)
    at = models.DateTimeField()
    previous_hash = models.CharField(max_length=64, blank=True)
    hash = models.CharField(max_length=64)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["certificate", "seq"], name="kafaat_event_seq_unique")]
        ordering = ["certificate_id", "seq"]

    def __str__(self) -> str:
        return f"{self.certificate_id} #{self.seq} {self.kind}"


class ExpiryReminder(models.Model):
    """One row per reminder sent, so each reminder goes out once even with two workers."""

    certificate = models.ForeignKey(Certificate, on_delete=models.CASCADE, related_name="reminders")
    days_before = models.IntegerField()
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["certificate", "days_before"], name="kafaat_reminder_once")]

    def __str__(self) -> str:
        return f"{self.certificate_id} −{self.days_before} d"
