"""Celery tasks of the credentials app: thin, idempotent, JSON arguments, one api call each."""

from celery import shared_task

from xblocks.certification.credentials import api


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def sign_credential(self, certificate_id: int) -> str:
    """Sign and store a certificate's OpenBadgeCredential; running it twice returns the same credential."""
    return api.issue_credential(certificate_id)["id"]


@shared_task(bind=True, acks_late=True, autoretry_for=(OSError,), retry_backoff=True, max_retries=5)
def apply_status(self, certificate_id: int, status: str) -> bool:
    """Mirror a certificate's status in the status lists (setting a bit twice changes nothing)."""
    return api.apply_status(certificate_id, status)
