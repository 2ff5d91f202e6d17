"""URLs of this app, mounted by Open edX's plugin framework (and by demo/urls.py) under ``kafaat/labs/``."""

from django.urls import path

from xblocks.labs import views

urlpatterns = [
    path("catalogue/", views.catalogue_page, name="catalogue"),
]
