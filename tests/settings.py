"""Test settings: the demo settings with a test database chosen by ``KAFAAT_TEST_DATABASE``.

``sqlite`` (default) for speed; ``mariadb`` runs the same tests on MariaDB as in production
(127.0.0.1:3306, the ``kafaat_test`` account that ``scripts/services.sh`` creates with rights on the
``test_kafaat_*`` databases only, unless ``KAFAAT_MARIADB_*`` say otherwise).
"""

import os
import tempfile

os.environ.setdefault("KAFAAT_VAR_DIR", tempfile.mkdtemp(prefix="kafaat-test-var-"))

from demo.settings import *  # noqa: E402,F401,F403

# The demo keeps a warm pool; tests start without one (what a Start does must not depend on the
# keeper's timing), and the pool's own tests turn it on (KAFAAT_WARM_POOL_SIZE).
KAFAAT = {**KAFAAT, "WARM_POOL_SIZE": 0}  # noqa: F405
from xblocks.core.sqlite import sqlite_options  # noqa: E402

_db = os.environ.get("KAFAAT_TEST_DATABASE", "sqlite")
if _db == "mariadb":
    import pymysql

    pymysql.install_as_MySQLdb()
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.mysql",
            "NAME": os.environ.get("KAFAAT_MARIADB_NAME", "kafaat"),
            "USER": os.environ.get("KAFAAT_MARIADB_USER", "kafaat_test"),
            "PASSWORD": os.environ.get("KAFAAT_MARIADB_PASSWORD", "kafaat_test"),
            "HOST": os.environ.get("KAFAAT_MARIADB_HOST", "127.0.0.1"),
            "PORT": os.environ.get("KAFAAT_MARIADB_PORT", "3306"),
            "OPTIONS": {"charset": "utf8mb4"},
            # one test database per run, so that parallel runs on one server never share tables
            "TEST": {
                "NAME": os.environ.get("KAFAAT_MARIADB_TEST_NAME", f"test_kafaat_{os.getpid()}"),
                "CHARSET": "utf8mb4",
            },
        }
    }
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.path.join(VAR_DIR, "test.db"),  # noqa: F405
            "TEST": {"NAME": os.path.join(VAR_DIR, "test.db")},  # noqa: F405
            "OPTIONS": sqlite_options(timeout=30),
        }
    }

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CELERY_TASK_ALWAYS_EAGER = os.environ.get("KAFAAT_CELERY_EAGER", "1") == "1"
CELERY_TASK_EAGER_PROPAGATES = True
REDIS_URL = os.environ.get("KAFAAT_REDIS_URL", "redis://127.0.0.1:6379/15")

# Tests run at a fixed address whatever port a demo on this machine uses.
LMS_ROOT_URL = "http://127.0.0.1:8000"

# Tests see production defaults: the demo's relaxations (HR deliveries over http to loopback, a
# file-drop folder) are opted into by the tests that need them.
KAFAAT = {key: value for key, value in KAFAAT.items() if not key.startswith("DELIVERY_")}  # noqa: F405
KAFAAT["TERMINAL_ALLOWED_ORIGINS"] = ["http://localhost:8000"]
# Celery runs eagerly in the test process, which is therefore its own lab host; tests of other roles
# start real workers with KAFAAT_LAB_HOST_ROLE set otherwise.
KAFAAT["LAB_HOST_ROLE"] = True
