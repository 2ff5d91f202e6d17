"""The demo's Celery app; inside Open edX the LMS Celery app runs the same tasks.

Each app's tasks module may define ``BEAT_SCHEDULE`` (a Celery beat schedule dict); the demo merges
them. Inside Open edX, operators add the same entries to ``CELERYBEAT_SCHEDULE``.
"""

import importlib
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

TASK_MODULES = [
    "xblocks.labs.tasks",
    "xblocks.labs.terminal.tasks",
    "xblocks.certification.tasks",
    "xblocks.certification.credentials.tasks",
    "xblocks.certification.exports.tasks",
]

app = Celery("kafaat_demo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks([name.rsplit(".", 1)[0] for name in TASK_MODULES])


@app.on_after_finalize.connect
def _merge_beat_schedules(sender, **kwargs):  # pylint: disable=unused-argument
    for name in TASK_MODULES:
        try:
            module = importlib.import_module(name)
        except ModuleNotFoundError as error:
            if error.name != name:
                raise
            continue
        sender.conf.beat_schedule.update(getattr(module, "BEAT_SCHEDULE", {}))
