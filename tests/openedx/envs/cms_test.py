"""The Studio test settings: as ``cms/envs/test.py``, TEST plugin settings, then derived settings."""

from edx_django_utils.plugins import add_plugins

from tests.openedx.envs.cms_common import *  # noqa: F401,F403
from tests.openedx.platform import ProjectType, SettingsType, derive_settings

CELERY_TASK_ALWAYS_EAGER = True
CELERY_TASK_EAGER_PROPAGATES = True
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
# An operator's overrides, as a YAML config or a Tutor patch sets them.
KAFAAT = {**KAFAAT, "CREDENTIAL_KEY_DIR": str(VAR_DIR / "credential-keys")}  # noqa: F405

add_plugins(__name__, ProjectType.CMS, SettingsType.TEST)
derive_settings(__name__)
