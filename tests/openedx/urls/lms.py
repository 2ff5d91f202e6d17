"""As ``lms/urls.py`` ends: the plugin apps' URL patterns are appended to the project's own."""

import sys
import types

from django.contrib import admin
from django.urls import path
from edx_django_utils.plugins import get_plugin_url_patterns

from tests.openedx.platform import ProjectType

# edx-completion's REST API module imports edx-platform itself (enrolments, course blocks, its bearer
# authentication), so no imitation of the LMS can import it: it is mounted empty. Every other plugin's
# patterns, Kafaat's included, are get_plugin_url_patterns' own.
_completion_api = types.ModuleType("completion.api.urls")
_completion_api.urlpatterns = []
sys.modules.setdefault("completion.api.urls", _completion_api)

urlpatterns = [path("admin/", admin.site.urls)]
urlpatterns.extend(get_plugin_url_patterns(ProjectType.LMS))
