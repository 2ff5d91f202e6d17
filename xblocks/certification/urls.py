"""URLs of this app, mounted by Open edX's plugin framework (and by demo/urls.py) under ``kafaat/certification/``."""

from django.urls import path

from xblocks.certification import views

urlpatterns = [
    path("api/hours/", views.hours_api, name="hours_api"),
    path("api/hours/import/", views.hours_import_api, name="hours_import_api"),
    path("api/attestations/", views.attestations_api, name="attestations_api"),
    path("roster/<int:cohort_id>.csv", views.roster_csv, name="roster_csv"),
    path("hours/", views.hours_page, name="hours_page"),
]
