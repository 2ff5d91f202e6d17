"""Staff export URLs (download, progress)."""

urlpatterns: list = []
