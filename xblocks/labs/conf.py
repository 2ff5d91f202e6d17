"""Defaults of every labs setting, overridable through ``settings.KAFAAT``."""
import socket

from xblocks.core.conf import AppSettings

labs_settings = AppSettings(
    {
        # Sandbox engine
        "SANDBOX_BACKEND": "local",
        "SANDBOX_ROOT": "/var/lib/kafaat/sandboxes",
        "IMAGE_CACHE": "/var/cache/kafaat/images",
        "IMAGE_RECIPE_DIRS": [],  # extra recipe folders; the package's and course_content's are always searched
        "LAB_HOST": socket.gethostname(),
    }
)
