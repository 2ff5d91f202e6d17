"""Signal receivers: a certificate issued or changed queues a delivery to the endpoints that want events."""

from __future__ import annotations

import logging

log = logging.getLogger(__name__)


def queue_event_deliveries(sender, certificate_id: int, **kwargs) -> None:  # pylint: disable=unused-argument
    """The certification app sends its signals on commit, so the task sees the committed certificate."""
    from . import api, tasks  # pylint: disable=import-outside-toplevel

    for endpoint_id in api.endpoints_for_event(certificate_id):
        try:
            tasks.deliver_endpoint.delay(endpoint_id, "event")
        except Exception:  # pylint: disable=broad-except
            # a broker outage must not break issuing; the scheduled run catches up
            log.exception("could not queue delivery to endpoint %s for certificate %s", endpoint_id, certificate_id)
