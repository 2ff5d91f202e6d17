"""Handlers of the certification app's signals: a certificate issued or changed queues a delivery to the endpoints
that want events."""

from __future__ import annotations

import logging

from xblocks.certification import signals
from xblocks.certification.exports import api, tasks

log = logging.getLogger(__name__)


def queue_event_deliveries(sender, certificate_id: int, **kwargs) -> None:
    """The certification app sends its signals on commit, so the task sees the committed certificate."""
    for endpoint_id in api.endpoints_for_event(certificate_id):
        try:
            tasks.deliver_endpoint.delay(endpoint_id, "event")
        except Exception:
            # a broker outage must not break issuing; the scheduled run catches up
            log.exception("could not queue delivery to endpoint %s for certificate %s", endpoint_id, certificate_id)


def connect() -> None:
    """Connect every handler of this app (``ExportsConfig.ready``)."""
    signals.certificate_issued.connect(queue_event_deliveries, dispatch_uid="kafaat_exports_issued")
    signals.certificate_status_changed.connect(queue_event_deliveries, dispatch_uid="kafaat_exports_status")
