"""``Server-Timing`` on the demo's responses when ``KAFAAT_DEMO_SERVER_TIMING=1`` (``python -m benchmarks browser``
sets it): how long the request spent in Django and how much CPU its thread used, so a page-side figure
can be split into server work and the rest (the ASGI server's hand-off to its thread, the network, the page).
"""

from __future__ import annotations

import os
import time


class ServerTiming:
    def __init__(self, get_response):
        self.get_response = get_response
        self.enabled = os.environ.get("KAFAAT_DEMO_SERVER_TIMING") == "1"

    def __call__(self, request):
        if not self.enabled:
            return self.get_response(request)
        began, cpu = time.perf_counter(), time.thread_time()
        response = self.get_response(request)
        wall, used = (time.perf_counter() - began) * 1000, (time.thread_time() - cpu) * 1000
        response["Server-Timing"] = f"app;dur={wall:.1f}, cpu;dur={used:.1f}"
        return response
