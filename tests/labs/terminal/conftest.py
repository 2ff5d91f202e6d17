"""Fixtures of the terminal tests: users, lab sessions on a real sandbox, the gateway under daphne,
and a websocket client that speaks the gateway's protocol (auth, acks) like kafaat-terminal.js."""

from __future__ import annotations

import uuid

import pytest
from django.db import connection

from tests.labs.terminal.helpers import start_gateway, stop_gateway


@pytest.fixture
def make_user(django_user_model):
    def make(name: str, **extra):
        return django_user_model.objects.create_user(username=name, email=f"{name}@example.com", **extra)

    return make


@pytest.fixture(scope="session")
def sandbox():
    """One real sandbox of the configured backend, shared by the module's lab sessions (one shell each)."""
    from xblocks.labs.sandbox.base import SandboxSpec, get_backend

    backend = get_backend()
    handle = backend.create(SandboxSpec(label=f"kafaat-terminal-test-{uuid.uuid4().hex[:8]}"))
    try:
        yield handle
    finally:
        backend.destroy(handle)


@pytest.fixture
def lab_session(request):
    """A ready LabSession row of ``user`` whose environment is ``handle`` or else the shared sandbox."""
    from xblocks.labs.models import LabSession

    def make(user, *, handle=None, state="ready", course_key="course-v1:Kafaat+T1+2026"):
        handle = handle or request.getfixturevalue("sandbox")
        return LabSession.objects.create(
            user=user,
            course_key=course_key,
            usage_key=f"block-v1:Kafaat+T1+2026+type@kafaat_lab+block@{uuid.uuid4().hex[:8]}",
            live_key=uuid.uuid4().hex,
            definition="<kafaat_lab/>",
            definition_hash="0" * 64,
            seed="1" * 64,
            state=state,
            handle=handle.as_json(),
            host=handle.host,
        )

    return make


@pytest.fixture(scope="session")
def gateway(django_db_setup, django_db_blocker):
    """The demo ASGI app under uvicorn (how the gateway runs as its own service), on the test database."""
    with django_db_blocker.unblock():
        server = start_gateway("uvicorn", str(connection.settings_dict["NAME"]))
    yield server
    stop_gateway(server)


@pytest.fixture(scope="session")
def daphne_gateway(django_db_setup, django_db_blocker):
    """The same app under daphne, as ``make demo`` serves it through runserver."""
    with django_db_blocker.unblock():
        server = start_gateway("daphne", str(connection.settings_dict["NAME"]))
    yield server
    stop_gateway(server)
