"""URLs of this app, mounted by Open edX's plugin framework (and by demo/urls.py) under ``kafaat/partnership/``."""

from django.urls import path

from xblocks.partnership import views

urlpatterns = [
    path("dashboard/", views.dashboard_page, name="dashboard"),
    path("needs/", views.needs_page, name="needs"),
    path("offers/", views.offers_page, name="offers"),
    path("offers/<int:offer_id>/pool/", views.pool_page, name="pool"),
    path("invitations/", views.invitations_page, name="invitations"),
    path("placements/", views.placements_page, name="placements"),
    path("projects/", views.projects_page, name="projects"),
    path("reports/", views.reports_page, name="reports"),
    path("reports/<int:report_id>/status/", views.report_status, name="report-status"),
    path("reports/<int:report_id>/<str:fmt>/", views.report_download, name="report-file"),
]
