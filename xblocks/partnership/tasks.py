"""Celery tasks of the partnership app: thin, idempotent, JSON arguments, one api call each.

``refresh_projections`` is a periodic job (``xblocks.core.periodic``).
"""

from __future__ import annotations

from celery import shared_task

from xblocks.partnership import api


@shared_task(acks_late=True)
def refresh_projections() -> int:
    """Store every pipeline learner's projected completion; see api.refresh_projections."""
    return api.refresh_projections()


@shared_task(acks_late=True)
def write_report(report_id: int) -> str:
    """Write a committee report's PDF and XLSX; see api.write_report."""
    return api.write_report(int(report_id)).status
