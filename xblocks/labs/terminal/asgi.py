"""The gateway and the service proxy as one ASGI service on a lab host (``xblocks.labs.terminal.asgi:application``).

It needs the Django settings of the LMS (for the database holding tokens and transcripts) but serves
no HTTP pages: browsers reach it only with a token minted by the LMS.
"""

import os

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "lms.envs.production")
django.setup()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402

from xblocks.labs.terminal.proxy import routed  # noqa: E402
from xblocks.labs.terminal.routing import websocket_urlpatterns  # noqa: E402


async def _no_http(scope, receive, send):
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            pass
        return
    await send({"type": "http.response.start", "status": 404, "headers": [(b"content-type", b"text/plain")]})
    await send({"type": "http.response.body", "body": b"terminal gateway: websockets only\n"})


# Requests whose Host is a service origin (SERVICE_ORIGIN) go to the service proxy; the rest is the gateway.
application = routed(ProtocolTypeRouter({"http": _no_http, "websocket": URLRouter(websocket_urlpatterns)}))
