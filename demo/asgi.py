"""ASGI entry point for the demo: Django HTTP (the workbench) and the terminal gateway's websockets."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "demo.settings")

django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402  (after Django is set up)

from xblocks.labs.terminal.proxy import routed  # noqa: E402
from xblocks.labs.terminal.routing import websocket_urlpatterns  # noqa: E402

# No cookie-based auth on websockets: the gateway trusts only the single-use token of the first message.
# Requests on a service origin (SERVICE_ORIGIN, http://<session>-<service>.svc.localhost:<port>) go to
# the service proxy; the LMS's own host never reaches it.
application = routed(ProtocolTypeRouter({"http": django_asgi_app, "websocket": URLRouter(websocket_urlpatterns)}))
