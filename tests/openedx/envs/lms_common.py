"""The LMS's common settings, to the point where edx-platform loads its plugin apps and their COMMON settings."""

from edx_django_utils.plugins import add_plugins, get_plugin_apps

from tests.openedx.envs.shared import *  # noqa: F401,F403
from tests.openedx.envs.shared import INSTALLED_APPS
from tests.openedx.platform import ProjectType, SettingsType

ROOT_URLCONF = "tests.openedx.urls.lms"
SERVICE_VARIANT = "lms"

INSTALLED_APPS.extend(get_plugin_apps(ProjectType.LMS))

# What COMMON plugin settings changed, for the tests: names added or rebound while the platform's
# derived settings were placeholders.
_BEFORE_PLUGINS = dict(globals())
add_plugins(__name__, ProjectType.LMS, SettingsType.COMMON)
PLUGIN_COMMON_CHANGES = sorted(
    name
    for name, value in globals().items()
    if not name.startswith("_") and (name not in _BEFORE_PLUGINS or _BEFORE_PLUGINS[name] is not value)
)
del _BEFORE_PLUGINS
