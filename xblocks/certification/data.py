"""Frozen values the certification api hands out; the credentials and exports apps code against these."""

from __future__ import annotations

import datetime
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True)
class SchoolData:
    id: int
    slug: str
    name: str
    url: str
    email: str
    country: str
    logo_url: str
    # the certificate's logo and signatures (``branding.clean``'s form), compared by identity only
    branding: dict = field(default_factory=dict, compare=False, hash=False)


@dataclass(frozen=True)
class EmployerData:
    id: int
    slug: str
    name: str


@dataclass(frozen=True)
class LearnerData:
    user_id: int
    username: str
    email: str
    full_name: str
    legal_name: str  # verified name inside Open edX, "" when none
    language: str  # "en", "fr" or "ar"


@dataclass(frozen=True)
class TrackData:
    id: int  # the track version's track id
    slug: str
    title: str
    description: str
    version: int
    version_id: int
    criteria: str  # Markdown narrative of the requirements
    total_hours_required: float
    skills: tuple[str, ...] = ()
    proves: tuple[str, ...] = ()  # catalogue skill ids (``domain.skill``) a certificate of this version proves
    branding: dict = field(default_factory=dict, compare=False, hash=False)  # the track's logo and signatures


@dataclass(frozen=True)
class CertificateData:
    id: int
    number: str
    status: str  # active | suspended | revoked | expired
    issued_at: datetime.datetime
    valid_from: datetime.date
    valid_until: datetime.date | None
    learner: LearnerData
    track: TrackData
    school: SchoolData
    cohort_id: int | None
    cohort_name: str
    cohort_slug: str
    hours_total: float
    hours_by_category: dict[str, float]
    hours_by_source: dict[str, float]
    results: tuple[tuple[str, Any, Any], ...]  # (requirement title, value, required)
    employee_id: str
    evidence: dict
    period: int = 1
    renewed_from_id: int | None = None
    # when the learner enrolled in the cohort the certificate came from (the training's start)
    started_at: datetime.datetime | None = None
    # when the certificate last changed (its latest event: issued, suspended, reinstated, revoked, expired)
    last_modified: datetime.datetime | None = None


@dataclass(frozen=True)
class CertificateEventData:
    id: int
    certificate_id: int
    kind: str
    status: str
    reason: str
    actor: str
    at: datetime.datetime
    hash: str
    previous_hash: str


@dataclass(frozen=True)
class CohortData:
    id: int
    slug: str
    name: str
    school_id: int
    school_name: str
    track_slug: str
    track_title: str
    mode: str
    starts_on: datetime.date | None
    ends_on: datetime.date | None
    course_keys: tuple[str, ...] = ()


@dataclass(frozen=True)
class HoursEntryData:
    id: int
    user_id: int
    cohort_id: int | None
    source: str
    category: str
    minutes: int
    date: datetime.date
    attester: str
    note: str
    corrects_id: int | None = None


@dataclass(frozen=True)
class ChainProblem:
    event_id: int
    certificate_id: int
    reason: str


@dataclass(frozen=True)
class ChainReport:
    checked: int
    problems: tuple[ChainProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class LearnerProgress:
    """One enrolment evaluated: what the learner page, the roster and ``kafaat cert evaluate`` show."""

    enrollment_id: int
    user_id: int
    username: str
    full_name: str
    cohort_id: int
    cohort_name: str
    track_slug: str
    track_title: str
    track_version: int
    evaluation: Any  # rules.Evaluation
    certificate_number: str = ""
    certificate_status: str = ""
    certificate_valid_until: datetime.date | None = None
    employee_id: str = ""

    def as_json(self) -> dict:
        data = {k: v for k, v in asdict(self).items() if k != "evaluation"}
        data["evaluation"] = self.evaluation.as_json()
        for key in ("certificate_valid_until",):
            if data[key]:
                data[key] = data[key].isoformat()
        return data


@dataclass(frozen=True)
class ImportProblem:
    row: int  # 1-based line number in the file (the header is line 1)
    column: str
    reason: str


@dataclass(frozen=True)
class ImportReport:
    total_rows: int
    imported: int
    dry_run: bool
    problems: tuple[ImportProblem, ...] = field(default_factory=tuple)
    created_ids: tuple[int, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict:
        return {
            "total_rows": self.total_rows,
            "imported": self.imported,
            "dry_run": self.dry_run,
            "problems": [asdict(p) for p in self.problems],
        }


@dataclass(frozen=True)
class LearnerProfile:
    """An enrolment as an employer (with the learner's consent) or a coordinator sees it: who, where, and
    the valid certificates with the skills they prove; never progress, hours or lab results."""

    enrollment_id: int
    user_id: int
    name: str
    school_id: int
    cohort_name: str
    cohort_mode: str
    track_title: str
    certificates: tuple[tuple[str, str, datetime.date | None], ...] = ()  # (number, track title, valid until)
    skills: tuple[str, ...] = ()  # catalogue skill ids proven by those certificates
    cohort_id: int = 0


@dataclass(frozen=True)
class EnrolmentFact:
    """One enrolment reduced to what aggregate reporting needs (no name, no e-mail): see ``api.enrolment_facts``."""

    enrollment_id: int
    user_id: int
    cohort_id: int
    school_id: int
    cohort_mode: str  # initial | continuing | work_study
    track_slug: str
    track_version_id: int
    proves: tuple[str, ...]  # catalogue skill ids the enrolment's track version proves
    started_on: datetime.date  # the cohort's start, or the enrolment day when the cohort has none
    active: bool  # the enrolment is not withdrawn
    certified_on: datetime.date | None = None  # first certificate of this enrolment's track version in this cohort
    certificate_status: str = ""  # the latest such certificate's status, "" without one
    certificate_valid_until: datetime.date | None = None
    last_activity_on: datetime.date | None = None  # latest evidence or hours entry
    labs_attempted: int = 0
    labs_passed: int = 0
    school_minutes: int = 0  # hours entries of this cohort at school (corrections included)
    company_minutes: int = 0  # at the company (work-study)
    renewed_on: tuple[datetime.date, ...] = ()  # issue days of this enrolment's renewals (period 2 and later)
