"""URLs of this app, mounted by Open edX's plugin framework (and by demo/urls.py) under ``kafaat/partnership/``."""

from django.urls import path

from xblocks.partnership import views

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("needs/", views.needs_page, name="needs"),
]
