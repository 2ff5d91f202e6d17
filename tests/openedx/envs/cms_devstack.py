"""The Studio devstack settings: production's, then derived settings, then DEVSTACK plugin settings."""

from edx_django_utils.plugins import add_plugins

from tests.openedx.envs.cms_production import *  # noqa: F401,F403
from tests.openedx.platform import ProjectType, SettingsType, derive_settings

DEBUG = True

derive_settings(__name__)
add_plugins(__name__, ProjectType.CMS, SettingsType.DEVSTACK)
