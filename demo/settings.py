"""Settings for ``make demo``: the xblock-sdk workbench plus the Kafaat apps, all on embedded defaults.

SQLite (WAL, a busy timeout, immediate write transactions: ``xblocks.core.sqlite``), a Celery broker
in a folder (kombu's filesystem transport), the local sandbox backend and the terminal gateway on the
same ASGI server, all under ``var/`` of the checkout.
"""

import os
import pathlib

os.environ.setdefault("EXCLUDE_SAMPLE_XBLOCKS", "yes")

from workbench.settings import *  # noqa: E402,F401,F403
from workbench.settings import INSTALLED_APPS, MIDDLEWARE  # noqa: E402

from demo.private import private_dir, private_file, secret_key  # noqa: E402
from xblocks.core import periodic as _periodic  # noqa: E402
from xblocks.core import routing as _routing  # noqa: E402
from xblocks.core.sqlite import sqlite_options  # noqa: E402

BASE_DIR = pathlib.Path(__file__).resolve().parent.parent

# The demo's address (``make demo`` listens there): every URL Kafaat signs or accepts derives from it,
# as LMS_ROOT_URL does inside Open edX. A demo on another port keeps its own data (credentials are
# signed with links to the address they were issued at).
DEMO_HOST = os.environ.get("KAFAAT_DEMO_HOST", "127.0.0.1")
DEMO_PORT = int(os.environ.get("KAFAAT_DEMO_PORT", "8000"))
_public_host = "127.0.0.1" if DEMO_HOST in ("0.0.0.0", "::", "") else DEMO_HOST  # noqa: S104  (a name to link to)
LMS_ROOT_URL = f"http://{_public_host}:{DEMO_PORT}"
# Only the account running the demo may enter var/: it holds the database (every learner's lab
# parameters), the secret key, signing keys, queued tasks, mail and exports.
VAR_DIR = private_dir(
    pathlib.Path(
        os.environ.get("KAFAAT_VAR_DIR")
        or (BASE_DIR / "var" if DEMO_PORT == 8000 else BASE_DIR / "var" / f"port-{DEMO_PORT}")
    )
)

# Per install: made on the first start in var/secret-key (0600) and reused; never a published value,
# since lab flags and parameters are derived from it.
SECRET_KEY = os.environ.get("KAFAAT_DEMO_SECRET_KEY") or secret_key(VAR_DIR)

if "WORKBENCH_DATABASES" in os.environ and "mysql" in os.environ["WORKBENCH_DATABASES"]:
    # MariaDB or MySQL beyond the embedded default: mysqlclient when installed, else PyMySQL in its place
    try:
        import MySQLdb  # noqa: F401
    except ImportError:
        import pymysql

        pymysql.install_as_MySQLdb()
if "WORKBENCH_DATABASES" not in os.environ:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(private_file(VAR_DIR / "workbench.db")),
            "OPTIONS": sqlite_options(timeout=20),
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
    "xblocks.partnership.apps.PartnershipConfig",
]
MIDDLEWARE = [
    "demo.timing.ServerTiming",  # off unless KAFAAT_DEMO_SERVER_TIMING=1 (benchmarks)
    MIDDLEWARE[0],
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    *[m for m in MIDDLEWARE[1:] if m != "django.contrib.sessions.middleware.SessionMiddleware"],
]

# django-rules answers ``user.has_perm("kafaat.…", obj)`` as in the LMS (edx-platform installs the same backend).
AUTHENTICATION_BACKENDS = ["rules.permissions.ObjectPermissionBackend", "django.contrib.auth.backends.ModelBackend"]

ROOT_URLCONF = "demo.urls"
ASGI_APPLICATION = "demo.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
TIME_ZONE = "UTC"

LANGUAGES = [("en", "English"), ("fr", "Français"), ("ar", "العربية")]
LANGUAGE_CODE = "en"
# No LOCALE_PATHS: each Kafaat app ships its catalogs in its own locale/ folder, as in Open edX.

EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
EMAIL_FILE_PATH = str(private_dir(VAR_DIR / "mail"))

# The broker: a folder under var/ by default (no server to run), through demo.broker's transport, which
# writes each message whole (temporary file, then rename) and sets an unreadable one aside instead of
# exiting. KAFAAT_BROKER_URL (e.g. redis://…) leaves the folder for a real broker.
CELERY_BROKER_URL = os.environ.get("KAFAAT_BROKER_URL", "filesystem://")
if CELERY_BROKER_URL == "filesystem://":
    CELERY_BROKER_TRANSPORT = "demo.broker:Transport"
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "data_folder_in": str(VAR_DIR / "broker"),
    "data_folder_out": str(VAR_DIR / "broker"),
    "processed_folder": str(VAR_DIR / "broker-processed"),
    "control_folder": str(VAR_DIR / "broker-control"),
    "bad_folder": str(VAR_DIR / "broker-unreadable"),
    "store_processed": False,
    "polling_interval": 0.05,
}
for _folder in (
    "broker",
    "broker-processed",
    "broker-control",
    "broker-unreadable",
    "celery-results",
    "credential-keys",
    "exports",
    "run",
):
    private_dir(VAR_DIR / _folder)
CELERY_RESULT_BACKEND = os.environ.get("KAFAAT_RESULT_BACKEND", f"file://{VAR_DIR / 'celery-results'}")
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_ALWAYS_EAGER = os.environ.get("KAFAAT_CELERY_EAGER") == "1"
# Beat's own state (last run of each entry) and the lock that keeps beat to one process (demo.beat).
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "run" / "celerybeat-schedule")

CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

KAFAAT = {
    "DEMO_STAFF_IDS": ["staff"],
    # The same demo opened as localhost rather than 127.0.0.1 (the site's own origin is always accepted).
    "TERMINAL_ALLOWED_ORIGINS": [f"http://localhost:{DEMO_PORT}"] if _public_host == "127.0.0.1" else [],
    # HR deliveries: the demo's endpoints live on this machine (production requires https).
    "DELIVERY_ALLOW_HTTP_LOOPBACK": True,
    # Service tabs (a lab's web apps and notebooks) on their own origins: browsers resolve *.localhost
    # to this machine, and demo.asgi hands requests for these hosts to the service proxy.
    "SERVICE_ORIGIN": f"http://{{id}}.svc.localhost:{DEMO_PORT}",
    "DELIVERY_FILE_DROP_ROOT": str(VAR_DIR / "hr-drop"),
    # The warm pool (docs/decisions/0090): a few sandboxes of each lab learners start here, made
    # ahead, so that Start answers with a ready lab (KAFAAT_WARM_POOL_SIZE=0 turns it off).
    "WARM_POOL_SIZE": 3,
    "WARM_POOL_MAX_TOTAL": 6,
}

# Queues: lab work on the lab queues (the lab host's worker), everything else, HR deliveries included,
# on Celery's default queue, which another worker with its own pool serves (demo.run): a hanging HR
# endpoint never delays a lab start. Lab tasks sent without a queue still reach a lab host.
CELERY_TASK_DEFAULT_QUEUE = "celery"
CELERY_TASK_ROUTES = {task: {"queue": _routing.lab_queue(KAFAAT)} for task in _routing.LAB_TASKS}
# Beat's entries, set here rather than merged in when the Celery app finalizes, so that beat and the
# workers read the same complete schedule whatever order the task modules import in.
CELERY_BEAT_SCHEDULE = _periodic.beat_schedule(KAFAAT)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": "plain"},
        "file": {
            "class": "logging.FileHandler",
            "filename": str(private_file(VAR_DIR / "kafaat.log")),
            "formatter": "plain",
        },
    },
    "loggers": {
        "xblocks": {"handlers": ["console", "file"], "level": "INFO", "propagate": False},
        "django.request": {"handlers": ["console", "file"], "level": "WARNING"},
    },
}
