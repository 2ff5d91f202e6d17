"""The Celery app of the imitation projects, configured from Django settings as ``lms/celery.py`` does."""

from celery import Celery

APP = Celery("proj")
APP.config_from_object("django.conf:settings", namespace="CELERY")
APP.autodiscover_tasks()
APP.set_default()
