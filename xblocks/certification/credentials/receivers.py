"""Listens to the certification app: a new certificate gets signed, a status change flips a status list bit.

Both signals are sent after the certificate's transaction committed, so the tasks see the row.
"""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def on_certificate_issued(sender, certificate_id: int, number: str = "", **kwargs) -> None:  # pylint: disable=unused-argument
    from . import tasks  # pylint: disable=import-outside-toplevel

    log.info("queueing the credential of certificate %s", number or certificate_id)
    tasks.sign_credential.delay(int(certificate_id))


def on_certificate_status_changed(  # pylint: disable=unused-argument
    sender, certificate_id: int, number: str = "", status: str = "", previous: str = "", reason: str = "", **kwargs
) -> None:
    from . import tasks  # pylint: disable=import-outside-toplevel

    log.info("certificate %s: %s -> %s; updating its status list bits", number or certificate_id, previous, status)
    tasks.apply_status.delay(int(certificate_id), str(status))


def connect() -> None:
    from xblocks.certification import signals  # pylint: disable=import-outside-toplevel

    signals.certificate_issued.connect(on_certificate_issued, dispatch_uid="kafaat_credentials.issued")
    signals.certificate_status_changed.connect(
        on_certificate_status_changed, dispatch_uid="kafaat_credentials.status_changed"
    )
