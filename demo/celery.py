"""The demo's Celery app; inside Open edX the LMS Celery app runs the same tasks.

Its beat schedule is ``CELERY_BEAT_SCHEDULE`` of ``demo.settings``, built there from
``xblocks.core.periodic`` (the plugin settings register the same entries inside Open edX): complete
before any task module is imported, so that beat and every worker read the same entries.
``demo.beat`` runs beat (one at a time); ``demo.run`` supervises it.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

TASK_MODULES = [
    "xblocks.labs.tasks",
    "xblocks.labs.terminal.tasks",
    "xblocks.certification.tasks",
    "xblocks.certification.credentials.tasks",
    "xblocks.certification.exports.tasks",
    "xblocks.partnership.tasks",
]

app = Celery("kafaat_demo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks([name.rsplit(".", 1)[0] for name in TASK_MODULES])
