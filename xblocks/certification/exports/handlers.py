"""Handlers of the certification app's signals: a certificate issued or changed queues a delivery to the endpoints
that want events."""

from __future__ import annotations

from xblocks.certification import signals
from xblocks.certification.exports import api, tasks


def queue_event_deliveries(sender, certificate_id: int, **kwargs) -> None:
    """Queue a delivery to each endpoint that wants events (it collects what the endpoint lacks, so twice is harmless).

    The signal comes through the outbox, after commit: a broker that refuses the task raises, and the
    outbox tries the message again later (before, the error was logged and the event waited for a
    scheduled run that event-only endpoints never get).
    """
    for endpoint_id in api.endpoints_for_event(certificate_id):
        tasks.deliver_endpoint.delay(endpoint_id, "event")


def connect() -> None:
    """Connect every handler of this app (``ExportsConfig.ready``)."""
    signals.certificate_issued.connect(queue_event_deliveries, dispatch_uid="kafaat_exports_issued")
    signals.certificate_status_changed.connect(queue_event_deliveries, dispatch_uid="kafaat_exports_status")
