"""Settings for ``make demo``: the xblock-sdk workbench plus the Kafaat apps, all on embedded defaults.

SQLite, a Celery broker in a folder (kombu's filesystem transport), the local sandbox backend and the
terminal gateway on the same ASGI server, all under ``var/`` of the checkout.
"""

import os
import pathlib

os.environ.setdefault("EXCLUDE_SAMPLE_XBLOCKS", "yes")

from workbench.settings import *  # noqa: E402,F401,F403  pylint: disable=wildcard-import,unused-wildcard-import
from workbench.settings import INSTALLED_APPS, MIDDLEWARE  # noqa: E402

BASE_DIR = pathlib.Path(__file__).resolve().parent.parent
VAR_DIR = pathlib.Path(os.environ.get("KAFAAT_VAR_DIR", BASE_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("KAFAAT_DEMO_SECRET_KEY") or "kafaat-demo-not-secret-" + "x" * 24

if "WORKBENCH_DATABASES" not in os.environ:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(VAR_DIR / "workbench.db"),
            "OPTIONS": {"timeout": 20},
        }
    }

INSTALLED_APPS = [
    "daphne",
    *INSTALLED_APPS,
    "channels",
    "xblocks.labs.apps.LabsConfig",
    "xblocks.labs.terminal.apps.TerminalConfig",
    "xblocks.certification.apps.CertificationConfig",
    "xblocks.certification.credentials.apps.CredentialsConfig",
    "xblocks.certification.exports.apps.ExportsConfig",
]
MIDDLEWARE = [
    MIDDLEWARE[0],
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    *[m for m in MIDDLEWARE[1:] if m != "django.contrib.sessions.middleware.SessionMiddleware"],
]

ROOT_URLCONF = "demo.urls"
ASGI_APPLICATION = "demo.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TIME_ZONE = "UTC"

LANGUAGES = [("en", "English"), ("fr", "Français"), ("ar", "العربية")]
LANGUAGE_CODE = "en"
LOCALE_PATHS = [str(BASE_DIR / "xblocks" / "conf" / "locale")]

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(VAR_DIR / "mail")

CELERY_BROKER_URL = os.environ.get("KAFAAT_BROKER_URL", "filesystem://")
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "data_folder_in": str(VAR_DIR / "broker"),
    "data_folder_out": str(VAR_DIR / "broker"),
    "processed_folder": str(VAR_DIR / "broker-processed"),
    "control_folder": str(VAR_DIR / "broker-control"),
    "store_processed": False,
    "polling_interval": 0.05,
}
for _folder in ("broker", "broker-processed", "broker-control"):
    (VAR_DIR / _folder).mkdir(exist_ok=True)
CELERY_RESULT_BACKEND = os.environ.get("KAFAAT_RESULT_BACKEND", f"file://{VAR_DIR / 'celery-results'}")
(VAR_DIR / "celery-results").mkdir(exist_ok=True)
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = os.environ.get("KAFAAT_CELERY_EAGER") == "1"
CELERY_BEAT_SCHEDULE = {}  # filled by demo.celery from xblocks.core.periodic

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

KAFAAT = {
    "DEMO_STAFF_IDS": ["staff"],
    # HR deliveries: the demo's endpoints live on this machine (production requires https).
    "DELIVERY_ALLOW_HTTP_LOOPBACK": True,
    "DELIVERY_FILE_DROP_ROOT": str(VAR_DIR / "hr-drop"),
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "file": {"class": "logging.FileHandler", "filename": str(VAR_DIR / "kafaat.log"), "formatter": "plain"},
    },
    "loggers": {
        "xblocks": {"handlers": ["console", "file"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console", "file"], "level": "WARNING"},
    },
}
