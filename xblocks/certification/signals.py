"""Signals the certification app sends; the credentials and exports apps listen.

``certificate_issued``: ``certificate_id`` (int), ``number`` (str).
``certificate_status_changed``: ``certificate_id`` (int), ``number`` (str), ``status`` (str: active,
suspended, revoked, expired), ``previous`` (str), ``reason`` (str).
Both are sent with ``transaction.on_commit`` so a receiver always sees the committed row.
"""

from django.dispatch import Signal

certificate_issued = Signal()
certificate_status_changed = Signal()
