"""What both imitation projects set before their plugins load, as edx-platform's ``*/envs/common.py`` do.

Derived settings are placeholders here (``platform.derived_setting``): only the terminal settings
module (test, production, devstack) turns them into values, after COMMON plugin settings ran.
"""

import os
import pathlib
import tempfile

from tests.openedx.platform import derived_setting

VAR_DIR = pathlib.Path(os.environ.setdefault("KAFAAT_VAR_DIR", tempfile.mkdtemp(prefix="kafaat-openedx-")))
REPO_ROOT = VAR_DIR / "edx-platform"  # the platform's checkout: its own catalogs and static files
for _folder in ("conf/locale", "common/static", "templates"):
    (REPO_ROOT / _folder).mkdir(parents=True, exist_ok=True)

SECRET_KEY = "conformance-tier-not-secret-" + "x" * 24
DEBUG = False
USE_TZ = True
TIME_ZONE = "UTC"
USE_I18N = True
LANGUAGE_CODE = "en"
LANGUAGES = [("en", "English"), ("fr", "Français"), ("ar", "العربية")]
DEFAULT_AUTO_FIELD = "django.db.models.AutoField"

PREPEND_LOCALE_PATHS: list = []
ENABLE_COMPREHENSIVE_THEMING = False


def _make_locale_paths(settings):
    paths = list(settings.PREPEND_LOCALE_PATHS)
    paths.append(str(settings.REPO_ROOT / "conf" / "locale"))
    return paths


LOCALE_PATHS = derived_setting("LOCALE_PATHS", _make_locale_paths)

STATIC_URL = "/static/"
STATIC_ROOT = str(VAR_DIR / "staticfiles")
STATICFILES_DIRS = derived_setting("STATICFILES_DIRS", lambda settings: [str(settings.REPO_ROOT / "common/static")])

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": derived_setting(
            "TEMPLATES", lambda settings: [str(settings.REPO_ROOT / "templates")], entry=(0, "DIRS")
        ),
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.sites",
    "waffle",
    "openedx_events",
    "eventtracking.django.apps.EventTrackingConfig",
]
# event-tracking (edx-completion emits a tracking event per completion), logged as the LMS does.
EVENT_TRACKING_ENABLED = True
EVENT_TRACKING_BACKENDS = {
    "tracking_logs": {"ENGINE": "eventtracking.backends.logger.LoggerBackend", "OPTIONS": {"name": "tracking"}}
}
MIDDLEWARE = [
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "waffle.middleware.WaffleMiddleware",
]
SITE_ID = 1

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(VAR_DIR / "edxapp.db"),
        "TEST": {"NAME": str(VAR_DIR / "test-edxapp.db")},
        "OPTIONS": {"timeout": 30},
    }
}
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

LMS_BASE = "localhost:18000"
LMS_ROOT_URL = f"http://{LMS_BASE}"
CMS_BASE = "localhost:18010"
ALLOWED_HOSTS = ["localhost", "127.0.0.1", "testserver"]

CELERY_BROKER_URL = "memory://"
# As lms/envs/common.py defines them: plugins add beat entries, the router reads explicit routes.
CELERYBEAT_SCHEDULE = {}
EXPLICIT_QUEUES = {"lms.djangoapps.grades.tasks.compute_all_grades_for_course": {"queue": "edx.lms.core.high"}}

# The platform's key patterns, which plugins' URL confs (edx-when's) build their routes from.
COURSE_KEY_PATTERN = r"(?P<course_key_string>[^/+]+(/|\+)[^/+]+(/|\+)[^/?]+)"
COURSE_ID_PATTERN = COURSE_KEY_PATTERN.replace("course_key_string", "course_id")
COURSE_KEY_REGEX = COURSE_KEY_PATTERN.replace("P<course_key_string>", ":")
USAGE_KEY_PATTERN = r"(?P<usage_key_string>(?:i4x://?[^/]+/[^/]+/[^/]+/[^@]+(?:@[^/]+)?)|(?:[^/]+))"
USAGE_ID_PATTERN = r"(?P<usage_id>(?:i4x://?[^/]+/[^/]+/[^/]+/[^@]+(?:@[^/]+)?)|(?:[^/]+))"
