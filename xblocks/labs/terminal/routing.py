"""Websocket routes of the terminal gateway, for a Channels ``URLRouter`` (the demo's and the service's)."""

from django.urls import re_path

from xblocks.labs.terminal.gateway import application

websocket_urlpatterns = [
    re_path(r"^kafaat/terminal/ws/(?P<session_id>[0-9]{1,18})/$", application),
]
