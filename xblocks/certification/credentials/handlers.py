"""Handlers of the certification app's signals: a new certificate gets signed, a status change flips a status list bit.

Both signals come through the outbox, in a worker, after the certificate's transaction committed. The
work is done here rather than queued: signing twice returns the same credential and setting a bit
twice changes nothing, and an error (a missing key, a locked database) raises, so the outbox tries
the message again later instead of a queued task being lost.
"""

from __future__ import annotations

import logging

from xblocks.certification import signals
from xblocks.certification.credentials import api

log = logging.getLogger(__name__)


def on_certificate_issued(sender, certificate_id: int, number: str = "", **kwargs) -> None:
    log.info("signing the credential of certificate %s", number or certificate_id)
    api.issue_credential(int(certificate_id))


def on_certificate_status_changed(
    sender, certificate_id: int, number: str = "", status: str = "", previous: str = "", reason: str = "", **kwargs
) -> None:
    log.info("certificate %s: %s -> %s; updating its status list bits", number or certificate_id, previous, status)
    api.apply_status(int(certificate_id), str(status))


def connect() -> None:
    """Connect every handler of this app (``CredentialsConfig.ready``)."""
    signals.certificate_issued.connect(on_certificate_issued, dispatch_uid="kafaat_credentials.issued")
    signals.certificate_status_changed.connect(
        on_certificate_status_changed, dispatch_uid="kafaat_credentials.status_changed"
    )
