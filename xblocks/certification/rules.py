"""The pure rules engine: a requirement tree and a learner's evidence in, an Evaluation out (no database).

``api`` loads requirements and evidence in bulk and calls ``evaluate``; the golden cases in
``tests/certification/golden/`` pin its behaviour. Everything here is deterministic given ``today``.
"""

from __future__ import annotations

import datetime
import math
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from functools import lru_cache
from typing import Any

from django.utils import dateformat, translation

from xblocks.core.i18n import gettext as _
from xblocks.core.i18n import ngettext

GROUP_KINDS = {"all", "any"}
LEAF_KINDS = {
    "lab_passed",
    "block_score",
    "course_grade",
    "completion",
    "hours",
    "attestation",
    "school_share",
    "project",
}

_LMS_BLOCK = re.compile(r"(?:^|\+)block@(?P<id>[^+@/]+)$")
_WORKBENCH = re.compile(r"^[^.]+\.(?P<type>[A-Za-z0-9_-]+)\.(?P<id>[^.]+)\.d\d+(?:\.u\d+)?$")


def stable_block_id(key: str) -> str:
    """The stable id of a block: its ``url_name``, the same in the LMS and the workbench.

    ``block-v1:Org+C+R+type@kafaat_lab+block@linux_basics`` and the workbench's
    ``scenario.kafaat_lab.linux_basics.d0.u0`` both give ``linux_basics``; any other key is kept as is.
    """
    key = (key or "").strip()
    match = _LMS_BLOCK.search(key)
    if match:
        return match.group("id")
    match = _WORKBENCH.match(key)
    if match:
        return match.group("id")
    return key


def ceu_from_minutes(minutes: int) -> Decimal:
    """IACET CEUs: one per 10 contact hours, rounded half up to a tenth, never below 0.1."""
    raw = (Decimal(int(minutes)) / Decimal(600)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)
    return max(Decimal("0.1"), raw)


@dataclass(frozen=True)
class RequirementSpec:
    """One requirement, as stored in a track version (``kind`` is a RequirementKind value)."""

    id: str
    kind: str
    title: str = ""
    key: str = ""
    category: str = ""
    source: str = ""
    threshold: float = 0.0
    due_date: datetime.date | None = None
    children: tuple[RequirementSpec, ...] = ()

    @classmethod
    def from_json(cls, data: Mapping[str, Any], path: str = "r") -> RequirementSpec:
        kind = str(data.get("kind", "")).strip()
        if kind not in GROUP_KINDS | LEAF_KINDS:
            raise ValueError(f"{path}: unknown requirement kind {kind!r}")
        due = data.get("due_date")
        children = tuple(
            cls.from_json(child, f"{path}.{index}") for index, child in enumerate(data.get("children") or ())
        )
        if kind in GROUP_KINDS and not children:
            raise ValueError(f"{path}: a {kind!r} group needs children")
        threshold = float(data.get("threshold", data.get("hours", data.get("min_score", 0))) or 0)
        if threshold < 0:
            raise ValueError(f"{path}: threshold must not be negative")
        return cls(
            id=str(data.get("id") or path),
            kind=kind,
            title=str(data.get("title", "")),
            key=str(data.get("key", "")),
            category=str(data.get("category", "")),
            source=str(data.get("source", "")),
            threshold=threshold,
            due_date=datetime.date.fromisoformat(due) if isinstance(due, str) and due else None,
            children=children,
        )

    def as_json(self) -> dict:
        data: dict[str, Any] = {"id": self.id, "kind": self.kind}
        for name in ("title", "key", "category", "source"):
            if getattr(self, name):
                data[name] = getattr(self, name)
        if self.threshold:
            data["threshold"] = self.threshold
        if self.due_date:
            data["due_date"] = self.due_date.isoformat()
        if self.children:
            data["children"] = [child.as_json() for child in self.children]
        return data

    def leaves(self) -> Iterator[RequirementSpec]:
        if self.kind in GROUP_KINDS:
            for child in self.children:
                yield from child.leaves()
        else:
            yield self

    def hours_required(self) -> float:
        """The fewest hours a learner logs to meet the tree's hours requirements.

        An hours requirement without a category or source counts every hour, so the ones with a filter
        (e.g. 4 h of security) are part of it, not added to it: 20 h of which 4 h of security is 20 h.
        """
        floor, parts = self._hours_floor_and_parts()
        return max(floor, parts)

    def _hours_floor_and_parts(self) -> tuple[float, float]:
        """(hours every hour counts toward, hours that only some hours count toward) under this node."""
        if self.kind == "hours":
            return (0.0, self.threshold) if (self.category or self.source) else (self.threshold, 0.0)
        if self.kind in GROUP_KINDS:
            pairs = [child._hours_floor_and_parts() for child in self.children]
            if self.kind == "any":  # the cheapest options
                need = max(1, int(self.threshold or 1))
                pairs = sorted(pairs, key=lambda pair: max(pair))[:need]
            return max((floor for floor, _ in pairs), default=0.0), sum(parts for _, parts in pairs)
        return 0.0, 0.0


@dataclass(frozen=True)
class Fact:
    """The latest value of one piece of evidence: ``value`` is a fraction 0..1."""

    value: float = 0.0
    passed: bool = False
    at: datetime.date | None = None


@dataclass(frozen=True)
class HoursRecord:
    source: str
    category: str
    minutes: int
    date: datetime.date


@dataclass(frozen=True)
class EvidenceSet:
    """A learner's evidence: facts keyed by ``(kind, key)``, the hours ledger and attested competencies.

    Keys of labs and block scores are stable block ids (see ``stable_block_id``).
    """

    facts: Mapping[tuple[str, str], Fact] = field(default_factory=dict)
    hours: tuple[HoursRecord, ...] = ()
    attestations: Mapping[str, datetime.date] = field(default_factory=dict)

    def since(self, start: datetime.date) -> EvidenceSet:
        """Only what happened on or after ``start`` (renewal windows)."""
        return EvidenceSet(
            facts={k: f for k, f in self.facts.items() if f.at is None or f.at >= start},
            hours=tuple(h for h in self.hours if h.date >= start),
            attestations={k: d for k, d in self.attestations.items() if d >= start},
        )


@dataclass(frozen=True)
class RequirementResult:
    id: str
    kind: str
    title: str
    current: float
    required: float
    met: bool
    progress: float  # 0..1
    missing: str  # "" when met
    current_display: str
    required_display: str
    children: tuple[RequirementResult, ...] = ()

    def as_json(self) -> dict:
        data = {
            "id": self.id,
            "kind": self.kind,
            "title": self.title,
            "current": self.current,
            "required": self.required,
            "met": self.met,
            "progress": round(self.progress, 4),
            "missing": self.missing,
            "current_display": self.current_display,
            "required_display": self.required_display,
        }
        if self.children:
            data["children"] = [child.as_json() for child in self.children]
        return data


@dataclass(frozen=True)
class Evaluation:
    met: bool
    root: RequirementResult
    progress: float
    projected_completion: datetime.date | None
    hours_total: float
    hours_by_category: dict[str, float]
    hours_by_source: dict[str, float]

    def flat(self) -> list[RequirementResult]:
        """The leaves in order (what a progress list shows)."""
        return [result for _depth, result in self.walk() if not result.children]

    def walk(self) -> Iterator[tuple[int, RequirementResult]]:
        def visit(node: RequirementResult, depth: int):
            yield depth, node
            for child in node.children:
                yield from visit(child, depth + 1)

        if self.root.kind in GROUP_KINDS and self.root.id == "root":
            for child in self.root.children:
                yield from visit(child, 0)
        else:
            yield from visit(self.root, 0)

    def as_json(self) -> dict:
        return {
            "met": self.met,
            "progress": round(self.progress, 4),
            "projected_completion": self.projected_completion.isoformat() if self.projected_completion else None,
            "hours_total": self.hours_total,
            "hours_by_category": self.hours_by_category,
            "hours_by_source": self.hours_by_source,
            "requirements": [r.as_json() for r in (self.root.children if self.root.id == "root" else (self.root,))],
        }


def _hours(minutes: float) -> float:
    return round(minutes / 60.0, 2)


@lru_cache(maxsize=16)
def _labels(language: str) -> dict[str, str]:
    """Fixed strings translated once per language: evaluating thousands of learners calls these per leaf."""
    del language  # the cache key; gettext reads the active language itself
    return {
        "hours": _("%(hours)s h"),
        "percent": _("%(percent)s%%"),
        "done": _("done"),
        "not_yet": _("not yet"),
        "passed": _("passed"),
        "signed_off": _("signed off"),
        "pass_lab": _("Pass the lab “%(title)s”"),
        "reach": _("Reach %(required)s on “%(title)s” (now %(current)s)"),
        "complete": _("Complete “%(title)s”"),
        "sign_off": _("A tutor has to sign off “%(title)s”"),
        "project": _("The project's mentor has to sign off “%(title)s”"),
        "hours_category_date": _("%(hours)s of %(category)s before %(date)s"),
        "hours_date": _("%(hours)s more before %(date)s"),
        "hours_category": _("%(hours)s of %(category)s"),
        "hours_more": _("%(hours)s more"),
        "school_share": _("At least %(required)s of hours at school (now %(current)s)"),
    }


def _fmt_hours(hours: float, labels: Mapping[str, str]) -> str:
    text = f"{hours:.2f}".rstrip("0").rstrip(".")
    return labels["hours"] % {"hours": text}


def _fmt_percent(fraction: float, labels: Mapping[str, str]) -> str:
    return labels["percent"] % {"percent": f"{fraction * 100:.0f}"}


def _fmt_date(day: datetime.date) -> str:
    return dateformat.format(day, "j F Y")


def _label(spec: RequirementSpec) -> str:
    return spec.title or spec.key or spec.category or spec.kind


def _matching_minutes(spec: RequirementSpec, hours: tuple[HoursRecord, ...]) -> int:
    total = 0
    for record in hours:
        if spec.category and record.category != spec.category:
            continue
        if spec.source and record.source != spec.source:
            continue
        if spec.due_date and record.date > spec.due_date:
            continue  # hours after the deadline do not count toward it
        total += record.minutes
    return total


def _yes_no(
    spec: RequirementSpec, label: str, met: bool, missing: str, met_text: str, not_met_text: str
) -> RequirementResult:
    """A requirement that is either met or not (a lab passed, a completion, a sign-off)."""
    value = 1.0 if met else 0.0
    return RequirementResult(
        spec.id,
        spec.kind,
        label,
        value,
        1.0,
        met,
        value,
        "" if met else missing % {"title": label},
        met_text if met else not_met_text,
        met_text,
    )


def _leaf(spec: RequirementSpec, evidence: EvidenceSet, labels: Mapping[str, str]) -> RequirementResult:
    label = _label(spec)
    done, not_done = labels["done"], labels["not_yet"]
    if spec.kind == "lab_passed":
        fact = evidence.facts.get(("lab", stable_block_id(spec.key)))
        met = bool(fact and fact.passed)
        return _yes_no(spec, label, met, labels["pass_lab"], labels["passed"], not_done)
    if spec.kind in ("block_score", "course_grade"):
        if spec.kind == "block_score":
            key = stable_block_id(spec.key)
            candidates = [evidence.facts.get(("block_score", key)), evidence.facts.get(("lab", key))]
        else:
            candidates = [evidence.facts.get(("course_grade", spec.key))]
        current = max((f.value for f in candidates if f is not None), default=0.0)
        required = spec.threshold
        met = current + 1e-9 >= required
        progress = 1.0 if met else (current / required if required else 0.0)
        missing = (
            ""
            if met
            else labels["reach"]
            % {"required": _fmt_percent(required, labels), "title": label, "current": _fmt_percent(current, labels)}
        )
        return RequirementResult(
            spec.id,
            spec.kind,
            label,
            round(current, 4),
            required,
            met,
            progress,
            missing,
            _fmt_percent(current, labels),
            _fmt_percent(required, labels),
        )
    if spec.kind == "completion":
        fact = evidence.facts.get(("completion", spec.key)) or evidence.facts.get(
            ("completion", stable_block_id(spec.key))
        )
        met = bool(fact and (fact.passed or fact.value >= 1.0))
        return _yes_no(spec, label, met, labels["complete"], done, not_done)
    if spec.kind == "attestation":
        met = spec.key in evidence.attestations
        return _yes_no(spec, label, met, labels["sign_off"], labels["signed_off"], not_done)
    if spec.kind == "project":
        # an R&D or capstone project: met when its mentor signed the learner off (evidence of kind
        # "project" under the project's requirement key; a withdrawn sign-off arrives as not passed)
        fact = evidence.facts.get(("project", spec.key))
        met = bool(fact and fact.passed)
        return _yes_no(spec, label, met, labels["project"], labels["signed_off"], not_done)
    if spec.kind == "hours":
        current = _hours(_matching_minutes(spec, evidence.hours))
        required = spec.threshold
        met = current + 1e-9 >= required
        progress = 1.0 if met or not required else max(0.0, current / required)
        missing = ""
        if not met:
            params = {"hours": _fmt_hours(round(required - current, 2), labels), "category": spec.category or label}
            if spec.due_date:
                params["date"] = _fmt_date(spec.due_date)
                missing = (labels["hours_category_date"] if spec.category else labels["hours_date"]) % params
            else:
                missing = (labels["hours_category"] if spec.category else labels["hours_more"]) % params
        return RequirementResult(
            spec.id,
            spec.kind,
            label,
            current,
            required,
            met,
            progress,
            missing,
            _fmt_hours(current, labels),
            _fmt_hours(required, labels),
        )
    if spec.kind == "school_share":
        total = sum(record.minutes for record in evidence.hours)
        school = sum(record.minutes for record in evidence.hours if record.source == "school")
        current = round(school / total, 4) if total > 0 else 0.0
        required = spec.threshold
        met = total > 0 and current + 1e-9 >= required
        progress = 1.0 if met else (min(1.0, current / required) if required else 0.0)
        missing = (
            ""
            if met
            else labels["school_share"]
            % {"required": _fmt_percent(required, labels), "current": _fmt_percent(current, labels)}
        )
        return RequirementResult(
            spec.id,
            spec.kind,
            label,
            current,
            required,
            met,
            progress,
            missing,
            _fmt_percent(current, labels),
            _fmt_percent(required, labels),
        )
    raise ValueError(f"unknown requirement kind {spec.kind!r}")


def _node(spec: RequirementSpec, evidence: EvidenceSet, labels: Mapping[str, str]) -> RequirementResult:
    if spec.kind not in GROUP_KINDS:
        return _leaf(spec, evidence, labels)
    children = tuple(_node(child, evidence, labels) for child in spec.children)
    met_count = sum(1 for child in children if child.met)
    if spec.kind == "all":
        need = len(children)
        progress = sum(child.progress for child in children) / need
    else:
        need = min(len(children), max(1, int(spec.threshold or 1)))
        progress = sum(sorted((child.progress for child in children), reverse=True)[:need]) / need
    met = met_count >= need
    left = need - met_count
    if met:
        missing = ""
    elif spec.kind == "all":
        missing = ngettext("%(count)d requirement left", "%(count)d requirements left", left) % {"count": left}
    else:
        missing = ngettext("Meet %(count)d more of these options", "Meet %(count)d more of these options", left) % {
            "count": left
        }
    label = spec.title or (_("All of") if spec.kind == "all" else _("Any of"))
    return RequirementResult(
        spec.id,
        spec.kind,
        label,
        float(met_count),
        float(need),
        met,
        1.0 if met else progress,
        missing,
        str(met_count),
        str(need),
        children,
    )


def evaluate(
    requirements: RequirementSpec | list[RequirementSpec] | tuple[RequirementSpec, ...],
    evidence: EvidenceSet,
    *,
    today: datetime.date,
    started_on: datetime.date | None = None,
) -> Evaluation:
    """Evaluate ``requirements`` (a tree, or a list read as AND) against ``evidence`` on ``today``.

    The projected completion extrapolates the learner's pace since ``started_on``: with progress
    ``p`` after ``d`` days, the rest takes ``d * (1 - p) / p`` more days. None when met, not started
    or without progress.
    """
    if isinstance(requirements, RequirementSpec):
        root_spec = requirements
    else:
        root_spec = RequirementSpec(id="root", kind="all", title=_("All of"), children=tuple(requirements))
    if root_spec.kind == "all" and not root_spec.children:
        root = RequirementResult("root", "all", _("All of"), 0.0, 0.0, True, 1.0, "", "0", "0")
    else:
        root = _node(root_spec, evidence, _labels(translation.get_language() or ""))
    projected = None
    if not root.met and started_on and 0 < root.progress < 1:
        elapsed = (today - started_on).days
        if elapsed > 0:
            projected = today + datetime.timedelta(days=math.ceil(elapsed * (1 - root.progress) / root.progress))
    by_category: dict[str, float] = {}
    by_source: dict[str, float] = {}
    total_minutes = 0
    for record in evidence.hours:
        total_minutes += record.minutes
        by_category[record.category or ""] = by_category.get(record.category or "", 0) + record.minutes
        by_source[record.source] = by_source.get(record.source, 0) + record.minutes
    return Evaluation(
        met=root.met,
        root=root,
        progress=root.progress,
        projected_completion=projected,
        hours_total=_hours(total_minutes),
        hours_by_category={k: _hours(v) for k, v in sorted(by_category.items())},
        hours_by_source={k: _hours(v) for k, v in sorted(by_source.items())},
    )
