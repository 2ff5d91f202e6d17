"""Public verification URLs (pages, JSON API, status lists)."""

urlpatterns: list = []
