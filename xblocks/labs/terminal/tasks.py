"""Celery tasks of the terminal: retention of transcripts and used tokens (one api call each).

``purge_transcripts`` is a periodic job: ``xblocks.core.periodic`` schedules it.
"""

from celery import shared_task

from xblocks.labs.terminal import api


@shared_task(acks_late=True)
def purge_transcripts() -> dict:
    """Delete transcripts past ``TERMINAL_TRANSCRIPT_RETENTION_DAYS`` and dead tokens; safe to rerun."""
    return api.purge_expired()
