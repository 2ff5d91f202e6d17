"""The demo's Server-Timing header: only when a benchmark asks for it, with Django's wall and CPU."""

from __future__ import annotations

import re

from django.http import HttpResponse
from django.test import RequestFactory

from demo.timing import ServerTiming


def test_the_header_is_off_unless_asked(monkeypatch):
    monkeypatch.delenv("KAFAAT_DEMO_SERVER_TIMING", raising=False)
    response = ServerTiming(lambda request: HttpResponse("ok"))(RequestFactory().get("/"))
    assert "Server-Timing" not in response


def test_asked_it_gives_the_request_wall_and_cpu(monkeypatch):
    monkeypatch.setenv("KAFAAT_DEMO_SERVER_TIMING", "1")

    def view(request):
        sum(range(200_000))  # some CPU for the thread clock to see
        return HttpResponse("ok")

    header = ServerTiming(view)(RequestFactory().get("/"))["Server-Timing"]
    match = re.fullmatch(r"app;dur=([0-9.]+), cpu;dur=([0-9.]+)", header)
    assert match and float(match.group(1)) > 0 and float(match.group(2)) > 0
