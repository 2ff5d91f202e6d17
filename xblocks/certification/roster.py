"""The cohort roster as rows and as CSV that spreadsheets open as literal text (no formula injection)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable

from xblocks.certification.data import LearnerProgress
from xblocks.core.cells import neutralise_cell
from xblocks.core.i18n import gettext as _


def neutralise(value) -> str | float | int:
    """Numbers stay numbers; text a spreadsheet could run gets a leading apostrophe (``core.cells``)."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    return neutralise_cell(value)


def row_json(progress: LearnerProgress) -> dict:
    """One roster row for the staff view's JSON handler."""
    evaluation = progress.evaluation
    return {
        "username": progress.username,
        "full_name": progress.full_name,
        "employee_id": progress.employee_id,
        "progress": round(evaluation.progress * 100),
        "met": evaluation.met,
        "projected": evaluation.projected_completion.isoformat() if evaluation.projected_completion else "",
        "certificate": progress.certificate_number,
        "status": progress.certificate_status,
        "requirements": [
            {
                "title": r.title,
                "met": r.met,
                "current": r.current_display,
                "required": r.required_display,
                "progress": round(r.progress * 100),
                "missing": r.missing,
            }
            for r in evaluation.flat()
        ],
    }


def csv_text(rows: Iterable[LearnerProgress]) -> str:
    rows = list(rows)
    titles = [r.title for r in rows[0].evaluation.flat()] if rows else []
    out = io.StringIO()
    writer = csv.writer(out, quoting=csv.QUOTE_ALL, lineterminator="\r\n")
    writer.writerow(
        [
            neutralise(h)
            for h in [
                _("Username"),
                _("Full name"),
                _("Employee ID"),
                _("Cohort"),
                _("Progress (%)"),
                _("Met"),
                _("Projected completion"),
                _("Certificate"),
                _("Status"),
                _("Valid until"),
                *titles,
            ]
        ]
    )
    for row in rows:
        evaluation = row.evaluation
        writer.writerow(
            [
                neutralise(v)
                for v in [
                    row.username,
                    row.full_name,
                    row.employee_id,
                    row.cohort_name,
                    round(evaluation.progress * 100),
                    evaluation.met,
                    evaluation.projected_completion.isoformat() if evaluation.projected_completion else "",
                    row.certificate_number,
                    row.certificate_status,
                    row.certificate_valid_until.isoformat() if row.certificate_valid_until else "",
                    *[f"{r.current_display} / {r.required_display}" for r in evaluation.flat()],
                ]
            ]
        )
    return out.getvalue()
