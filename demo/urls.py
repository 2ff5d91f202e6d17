"""Workbench URLs plus the Kafaat apps' URLs under the same prefixes Open edX plugin apps use."""

from django.contrib.auth import views as auth_views
from django.urls import include, path, re_path
from workbench.urls import urlpatterns as workbench_urlpatterns

from demo import resources

urlpatterns = [
    # Before the workbench's own route of the same name and path: block resources with caching headers.
    re_path(r"^resource/(?P<block_type>[^/]+)/(?P<resource>.*)$", resources.package_resource, name="package_resource"),
    # Sign-in for people who are not staff (the committee, coordinators): Django's default LOGIN_URL, as the
    # LMS's /login is inside Open edX. The admin's own sign-in admits staff accounts only.
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(template_name="admin/login.html", extra_context={"site_header": "Kafaat demo"}),
        name="login",
    ),
    path("kafaat/labs/", include(("xblocks.labs.urls", "kafaat_labs"), namespace="kafaat_labs")),
    path(
        "kafaat/certification/",
        include(("xblocks.certification.urls", "kafaat_certification"), namespace="kafaat_certification"),
    ),
    path(
        "kafaat/credentials/",
        include(("xblocks.certification.credentials.urls", "kafaat_credentials"), namespace="kafaat_credentials"),
    ),
    path(
        "kafaat/exports/", include(("xblocks.certification.exports.urls", "kafaat_exports"), namespace="kafaat_exports")
    ),
    path(
        "kafaat/partnership/",
        include(("xblocks.partnership.urls", "kafaat_partnership"), namespace="kafaat_partnership"),
    ),
    *workbench_urlpatterns,
]
