"""Local demo project: the xblock-sdk workbench with the Kafaat apps (not installed with the package)."""

from demo.celery import app as celery_app

__all__ = ["celery_app"]
