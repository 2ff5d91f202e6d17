"""Celery tasks of the terminal: retention of transcripts and used tokens (one api call each)."""

from celery import shared_task
from celery.schedules import crontab

from xblocks.labs.terminal import api


@shared_task(acks_late=True)
def purge_transcripts() -> dict:
    """Delete transcripts past ``TERMINAL_TRANSCRIPT_RETENTION_DAYS`` and dead tokens; safe to rerun."""
    return api.purge_expired()


BEAT_SCHEDULE = {
    "kafaat-terminal-purge-transcripts": {
        "task": "xblocks.labs.terminal.tasks.purge_transcripts",
        "schedule": crontab(minute=17, hour=3),
    },
}
