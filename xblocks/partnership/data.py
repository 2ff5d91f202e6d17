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
class Dashboard:
    group_by: str
    rows: tuple[IndicatorRow, ...]
    totals: IndicatorRow
    domains: tuple[CoverageRow, ...]
    skills: tuple[CoverageRow, ...]
    needs: tuple[CoverageRow, ...]
    suppressed_below: int  # 0 when nothing is suppressed for this viewer
    school_ids: tuple[int, ...] | None  # the schools the figures cover (None: every school)
