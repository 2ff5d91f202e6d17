"""How every Kafaat app declares itself to Open edX's plugin framework (``edx_django_utils.plugins``).

The LMS and Studio import each app's ``apps`` module through the ``lms.djangoapp`` and ``cms.djangoapp``
entry points, read the ``plugin_app`` dict built here, add the app to ``INSTALLED_APPS``, call the app's
settings modules (``settings/<type>.py``: ``plugin_settings(settings)``) for each settings type and
mount its URLs. Every app is a plugin of both projects, so that no model ever attaches to an app that
Studio did not install.
"""

from __future__ import annotations

import importlib.util

LMS = "lms.djangoapp"
CMS = "cms.djangoapp"
PROJECTS = (LMS, CMS)
# edx-platform's SettingsType values, in the order the platform applies them.
SETTINGS_TYPES = ("common", "production", "test", "devstack")


def plugin_config(
    package: str,
    *,
    url_namespace: str = "",
    url_prefix: str = "",
    url_projects: tuple[str, ...] = (),
) -> dict:
    """The ``plugin_app`` attribute of the AppConfig of ``package``.

    Settings: each ``<package>.settings.<type>`` module that exists is registered for both projects, so
    adding ``settings/production.py`` to an app is all it takes to have the platform call it. URLs:
    ``<package>.urls`` under ``^<url_prefix>`` for the projects in ``url_projects``.
    """
    config: dict = {}
    if url_projects:
        config["url_config"] = {
            project: {"namespace": url_namespace, "regex": rf"^{url_prefix}", "relative_path": "urls"}
            for project in url_projects
        }
    types = [kind for kind in SETTINGS_TYPES if _exists(f"{package}.settings.{kind}")]
    if types:
        config["settings_config"] = {
            project: {kind: {"relative_path": f"settings.{kind}"} for kind in types} for project in PROJECTS
        }
    return config


def _exists(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except ModuleNotFoundError:
        return False


def common_settings(settings) -> None:
    """What every app's COMMON plugin settings do: give operators the one ``KAFAAT`` dict to override.

    The platform calls this while its derived settings (``LOCALE_PATHS``, ``STATICFILES_DIRS``…) are
    still placeholders that only ``derive_settings`` turns into values, so plugin settings write their
    own names and never read, copy or iterate another project's settings. Translations need no setting:
    Django finds each app's ``locale/`` folder on its own.
    """
    if "KAFAAT" not in vars(settings):
        settings.KAFAAT = {}
