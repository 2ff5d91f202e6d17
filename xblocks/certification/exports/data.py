"""Frozen values the exports api hands out: presets, exports, endpoints, deliveries and receipts."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import asdict, dataclass
from dataclasses import field as dc_field
from typing import Any


class ExportFormat(enum.StrEnum):
    CSV = "csv"  # for an HR system's import: UTF-8, comma, CRLF, identifiers as they are
    CSV_EXCEL = "csv-excel"  # for people opening it in Excel or LibreOffice: BOM, their delimiter
    XLSX = "xlsx"
    JSONL = "jsonl"
    OB_BUNDLE = "ob-bundle"
    XAPI = "xapi"


class ExportStatus(enum.StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class EndpointKind(enum.StrEnum):
    HTTPS = "https"
    FILE_DROP = "file-drop"


class Payload(enum.StrEnum):
    """What one delivered record carries."""

    RECORD = "record"  # the preset's columns as a JSON object
    XAPI = "xapi"  # one xAPI statement per certificate event
    CREDENTIAL = "credential"  # the Open Badges 3.0 credential


class Schedule(enum.StrEnum):
    MANUAL = "manual"
    HOURLY = "hourly"
    DAILY = "daily"


class ReceiptStatus(enum.StrEnum):
    PENDING = "pending"
    DELIVERED = "delivered"
    FAILED = "failed"  # gave up after DELIVERY_GIVE_UP_AFTER; re-send on demand
    WITHHELD = "withheld"  # consent or scope no longer holds: never sent


class DeliveryTrigger(enum.StrEnum):
    MANUAL = "manual"
    SCHEDULE = "schedule"
    EVENT = "event"
    RESEND = "resend"


@dataclass(frozen=True)
class ColumnData:
    """One output column: where its value comes from and how it is written."""

    header: str
    field: str = ""  # a records.FIELDS name; "" with a template or a constant
    format: str = "raw"  # presets.VALUE_FORMATS
    value_map: dict[str, str] = dc_field(default_factory=dict)
    template: str = ""  # "{credential_id} {verification_url}"
    constant: str = ""

    def as_json(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in ("", {}, "raw") or k == "header"}


@dataclass(frozen=True)
class PresetData:
    slug: str
    name: str
    target: str  # the HR system and import it is shaped for
    description: str
    columns: tuple[ColumnData, ...]
    key: tuple[str, ...] = ()  # headers that identify a record in the target (its de-duplication key)
    builtin: bool = True
    base: str = ""  # for a coordinator's preset, the built-in it adjusts
    id: int | None = None

    @property
    def headers(self) -> list[str]:
        return [column.header for column in self.columns]


@dataclass(frozen=True)
class ValidationProblem:
    certificate_number: str
    header: str
    reason: str


@dataclass(frozen=True)
class ValidationReport:
    """A dry run: how many records an export would hold and which key cells the target would reject."""

    preset: str
    rows: int
    problems: tuple[ValidationProblem, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.problems


@dataclass(frozen=True)
class ExportSummary:
    """What a finished (or streamed) export wrote."""

    format: str
    preset: str
    rows: int
    bytes: int
    content_type: str
    filename: str


@dataclass(frozen=True)
class ExportData:
    id: int
    public_id: str
    requester_id: int
    format: str
    preset: str
    employer: str
    cohort_ids: tuple[int, ...]
    status: str
    rows_done: int
    rows_total: int
    size: int
    filename: str
    error: str
    created_at: dt.datetime
    finished_at: dt.datetime | None

    @property
    def percent(self) -> int:
        if self.status == ExportStatus.DONE:
            return 100
        return int(100 * self.rows_done / self.rows_total) if self.rows_total else 0

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.public_id,
            "format": self.format,
            "preset": self.preset,
            "employer": self.employer,
            "status": self.status,
            "rows_done": self.rows_done,
            "rows_total": self.rows_total,
            "percent": self.percent,
            "size": self.size,
            "filename": self.filename,
            "created_at": self.created_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }


@dataclass(frozen=True)
class EndpointData:
    id: int
    name: str
    kind: str
    url: str
    employer: str
    payload: str
    preset: str
    schedule: str
    enabled: bool
    owner_id: int
    cohort_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class ReceiptData:
    id: int
    endpoint_id: int
    idempotency_key: str
    certificate_id: int
    certificate_number: str
    event_id: int | None
    status: str
    attempts: int
    next_attempt_at: dt.datetime | None
    delivered_at: dt.datetime | None
    response_status: int | None
    response_detail: str


@dataclass(frozen=True)
class DeliveryData:
    id: int
    endpoint_id: int
    trigger: str
    queued: int  # new receipts this run created
    sent: int
    delivered: int
    failed: int
    withheld: int
    created_at: dt.datetime
