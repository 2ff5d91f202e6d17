"""Browser tests start real labs: whatever a test leaves running, pass or fail, is destroyed after it."""

import pytest


@pytest.fixture(autouse=True)
def destroy_lab_sandboxes_after_each_test():
    yield
    from xblocks.labs.models import label_prefix  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.base import get_backend  # pylint: disable=import-outside-toplevel

    backend = get_backend()
    for handle in backend.inventory():
        if handle.label.startswith(label_prefix()):
            backend.destroy(handle)


@pytest.fixture
def terminal_gateway(live_server, settings):
    """The gateway beside the live LMS stand-in: its own process and port, allowing the page's origin."""
    import json

    from django.db import connection

    from tests.labs.terminal.helpers import start_gateway, stop_gateway

    gateway = start_gateway(
        "uvicorn",
        str(connection.settings_dict["NAME"]),
        KAFAAT_TERMINAL_ALLOWED_ORIGINS=json.dumps([live_server.url]),
    )
    settings.KAFAAT = {**(settings.KAFAAT or {}), "TERMINAL_GATEWAY_URL": f"ws://127.0.0.1:{gateway.port}"}
    yield gateway
    stop_gateway(gateway)
