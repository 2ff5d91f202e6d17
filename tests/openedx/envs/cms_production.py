"""The Studio production settings in the release's order: Ulmo derives first and then adds the
PRODUCTION plugin settings, Teak added them while derived settings were still placeholders."""

from edx_django_utils.plugins import add_plugins

from tests.openedx.envs.cms_common import *  # noqa: F401,F403
from tests.openedx.platform import RELEASE, ProjectType, SettingsType, derive_settings

SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True

if RELEASE == "ulmo":
    derive_settings(__name__)
    add_plugins(__name__, ProjectType.CMS, SettingsType.PRODUCTION)
else:
    add_plugins(__name__, ProjectType.CMS, SettingsType.PRODUCTION)
    derive_settings(__name__)
