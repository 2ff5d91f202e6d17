"""The demo's Celery app; inside Open edX the LMS Celery app runs the same tasks."""
import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

app = Celery("kafaat_demo")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks(["xblocks.labs", "xblocks.certification"])
