"""As ``cms/urls.py`` ends: the plugin apps' URL patterns are appended to the project's own."""

from django.contrib import admin
from django.urls import path
from edx_django_utils.plugins import get_plugin_url_patterns

from tests.openedx.platform import ProjectType

urlpatterns = [path("admin/", admin.site.urls)]
urlpatterns.extend(get_plugin_url_patterns(ProjectType.CMS))
