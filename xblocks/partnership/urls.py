"""URLs of this app, mounted by Open edX's plugin framework (and by demo/urls.py) under ``kafaat/partnership/``."""

urlpatterns: list = []
