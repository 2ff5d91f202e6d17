"""Staff export URLs (page, start, progress, download), mounted at ``/kafaat/exports/``."""

from django.urls import path

from xblocks.certification.exports import views

app_name = "kafaat_exports"

urlpatterns = [
    path("", views.staff_page, name="staff"),
    path("start", views.start, name="start"),
    path("<str:public_id>/status", views.status, name="status"),
    path("<str:public_id>/download", views.download, name="download"),
]
