"""Frozen values the partnership api hands out: skills, needs, import reports, coverage and dashboard figures."""

from __future__ import annotations

import datetime
import enum
from dataclasses import asdict, dataclass, field


class Domain(enum.StrEnum):
    CYBERSECURITY = "cybersecurity"
    DATA = "data"
    AI = "ai"
    CLOUD = "cloud"
    DEVOPS = "devops"
    SOFTWARE_TESTING = "software-testing"


class RoleKind(enum.StrEnum):
    INTERNSHIP = "internship"
    WORK_STUDY = "work_study"
    HIRE = "hire"


@dataclass(frozen=True)
class SkillData:
    id: str  # ``domain.skill``
    domain: str
    name_en: str
    name_fr: str
    name_ar: str
    framework: str = ""  # "e-CF", "ESCO" or ""
    code: str = ""

    def name(self, language: str) -> str:
        return {"fr": self.name_fr, "ar": self.name_ar}.get(language) or self.name_en


@dataclass(frozen=True)
class NeedData:
    id: int
    employer_id: int
    employer_name: str
    skills: tuple[str, ...]
    count: int
    by_date: datetime.date
    role_kind: str
    note: str = ""


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
    rows: tuple[tuple[int, str], ...] = ()  # (line, "ok" or the first problem) for every data row

    @property
    def ok(self) -> bool:
        return not self.problems

    def as_json(self) -> dict:
        return {
            "total_rows": self.total_rows,
            "imported": self.imported,
            "dry_run": self.dry_run,
            "problems": [asdict(problem) for problem in self.problems],
        }


@dataclass(frozen=True)
class SkillCoverage:
    skill_id: str
    domain: str
    supply: int  # holders of a valid certificate proving it
    pipeline: int  # on a track proving it, not certified yet
    demand: int  # sum of the needs naming it


@dataclass(frozen=True)
class NeedCoverage:
    need: NeedData
    supply: int  # holders of a valid certificate proving every skill of the need
    pipeline: int  # learners projected to prove them all by the need's date
    gap: int  # what is still missing by that date (0 when covered)


@dataclass(frozen=True)
class PlacementData:
    id: int
    enrollment_id: int
    kind: str
    employer: str
    contract_type: str
    started_on: datetime.date
    ended_on: datetime.date | None = None
    learner: str = ""  # the learner's name, for those who may see it (coordinators, the employer)


@dataclass(frozen=True)
class Figure:
    """One count as shown: ``value`` is None when suppressed, ``shown`` is what the page prints."""

    value: int | float | None
    shown: str


@dataclass(frozen=True)
class IndicatorRow:
    key: str  # the group: a school id, cohort kind, domain, track slug or period
    label: str
    enrolled: Figure
    active: Figure
    certified: Figure
    certification_rate: Figure  # percent
    median_days_to_certificate: Figure
    lab_pass_rate: Figure  # percent
    placed: Figure = Figure(None, "—")  # certified, then hired or on a work-study contract within 6 months
    integration_rate: Figure = Figure(None, "—")  # placed / certified, percent
    school_hours: Figure = Figure(None, "—")  # hours at school, all learners of the group
    school_hours_median: Figure = Figure(None, "—")  # per learner with hours at school
    company_hours: Figure = Figure(None, "—")  # hours at the company (work-study)
    company_hours_median: Figure = Figure(None, "—")
    expiring: Figure = Figure(None, "—")  # certificates expiring within EXPIRY_WINDOW days
    expired: Figure = Figure(None, "—")  # certificates past their validity (or marked expired)
    renewed: Figure = Figure(None, "—")  # certified enrolments renewed at least once


@dataclass(frozen=True)
class CoverageRow:
    """A skill, a domain or a need with its coverage as shown to one viewer (suppression applied)."""

    key: str
    label: str
    domain: str
    demand: Figure
    supply: Figure
    pipeline: Figure
    gap: Figure
    by_date: datetime.date | None = None
    role_kind: str = ""


@dataclass(frozen=True)
class CountRow:
    """A labelled row of counts as shown to one viewer (offers, projects on the dashboard and the report)."""

    key: str
    label: str
    figures: tuple[Figure, ...]
    by_date: datetime.date | None = None  # a need's date (coverage history)


@dataclass(frozen=True)
class Dashboard:
    group_by: str
    rows: tuple[IndicatorRow, ...]
    totals: IndicatorRow
    domains: tuple[CoverageRow, ...]
    skills: tuple[CoverageRow, ...]
    needs: tuple[CoverageRow, ...]
    suppressed_below: int  # 0 when nothing is suppressed for this viewer
    school_ids: tuple[int, ...] | None  # the schools the figures cover (None: every school)
    offers: tuple[CountRow, ...] = ()  # offers, places, invitations sent and accepted
    outcomes_by_school: tuple[CountRow, ...] = ()  # offers, places, placements (all, hires, work-study, internships)
    outcomes_by_domain: tuple[CountRow, ...] = ()
    funnel: tuple[CountRow, ...] = ()  # enrolled, active, certified, placed: (count, percent of enrolled)
    coverage_months: tuple[datetime.date, ...] = ()  # first day of each month of the coverage history
    coverage_history: tuple[CountRow, ...] = ()  # one row per need: verified supply at each month's end
    projects: tuple[CountRow, ...] = ()  # projects by status and domain, learners signed off


@dataclass(frozen=True)
class OfferData:
    id: int
    employer_id: int
    employer_name: str
    kind: str  # a RoleKind value
    title: str
    description: str
    skills: tuple[str, ...]
    school_ids: tuple[int, ...]  # empty: every school
    cohort_kinds: tuple[str, ...]  # empty: every kind
    starts_on: datetime.date
    ends_on: datetime.date | None
    apply_by: datetime.date
    places: int
    closed: bool = False
    invited: int = 0  # invitations sent (answered or not)
    accepted: int = 0
    cohort_ids: tuple[int, ...] = ()  # empty: every cohort (of the targeted schools)


@dataclass(frozen=True)
class Candidate:
    """A learner of an offer's talent pool as the employer sees them: consented, shown by certificates only."""

    enrollment_id: int
    name: str
    school_name: str
    cohort_name: str
    certificates: tuple[tuple[str, str, datetime.date | None], ...]  # (number, track, valid until)
    skills: tuple[str, ...]  # proven by those certificates
    matched: tuple[str, ...]  # the offer's skills among them
    status: str = ""  # "", shortlisted, invited, accepted, declined


@dataclass(frozen=True)
class InvitationData:
    id: int
    offer: OfferData
    enrollment_id: int
    status: str
    invited_at: datetime.datetime | None
    answered_at: datetime.datetime | None


@dataclass(frozen=True)
class ProjectData:
    id: int
    title: str
    kind: str
    school_id: int
    school_name: str
    employer_id: int | None
    employer_name: str
    mentor: str
    domain: str
    requirement_key: str
    status: str
    starts_on: datetime.date | None
    ends_on: datetime.date | None
    members: tuple[tuple[int, str, bool], ...] = ()  # (enrolment, learner's name, signed off)
    mentor_id: int | None = None


@dataclass(frozen=True)
class ReportData:
    id: int
    start: datetime.date
    end: datetime.date
    language: str
    status: str
    progress: int
    created_at: datetime.datetime
    ready: bool
    error: str = ""
