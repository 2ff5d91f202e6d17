"""The demo's Celery app; inside Open edX the LMS Celery app runs the same tasks.

The periodic jobs come from ``xblocks.core.periodic`` (the plugin settings register the same entries
inside Open edX); the demo runs them in its lab host's loop, so beat is needed only if started by hand.
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
]

app = Celery("kafaat_demo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks([name.rsplit(".", 1)[0] for name in TASK_MODULES])


@app.on_after_finalize.connect
def _periodic_jobs(sender, **kwargs):
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    from xblocks.core import periodic  # pylint: disable=import-outside-toplevel

    sender.conf.beat_schedule.update(periodic.beat_schedule(getattr(settings, "KAFAAT", None)))
