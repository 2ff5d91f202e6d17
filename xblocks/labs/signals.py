"""Signals the labs app sends; the certification app listens (so labs never imports certification).

``lab_result_recorded`` is sent once per graded check or flag run, by the process that records it (the
Celery worker that ran the checks; the web request for a flag), with keyword arguments:
``user`` (Django user), ``course_key`` (str, '' outside a course), ``usage_key`` (str), ``lab_key``
(str: the lab's stable key from its OLX, '' when it has none and the usage key's block id stands in),
``score`` (float, points earned), ``max_score`` (float), ``passed`` (bool: every step passed),
``completed_at`` (aware datetime or None).
"""

from django.dispatch import Signal

lab_result_recorded = Signal()
