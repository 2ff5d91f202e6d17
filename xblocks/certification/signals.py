"""Signals the certification app sends; the credentials and exports apps listen.

``certificate_issued``: ``certificate_id`` (int), ``number`` (str).
``certificate_status_changed``: ``certificate_id`` (int), ``number`` (str), ``status`` (str: active,
suspended, revoked, expired), ``previous`` (str), ``reason`` (str).

Both travel through the outbox (``xblocks.core.outbox``): written in the transaction that issues or
changes the certificate, delivered afterwards by a worker, and again after a receiver raised (one
message per issue and per status change). A receiver must therefore be idempotent, may see a later
change before an earlier one that had to be retried, and raises to have the message tried again.
"""

from django.dispatch import Signal

from xblocks.core import outbox

CERTIFICATE_ISSUED_TOPIC = "certification.certificate_issued"
CERTIFICATE_STATUS_TOPIC = "certification.certificate_status_changed"

certificate_issued = outbox.topic(CERTIFICATE_ISSUED_TOPIC, Signal())
certificate_status_changed = outbox.topic(CERTIFICATE_STATUS_TOPIC, Signal())
