"""Fixtures for the labs app tests: lab blocks in the workbench runtime, handler calls, learners, sandboxes."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11; pytest.ini turns
    # warnings into errors, so import it once here with that one warning silenced.
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

from tests.labs.helpers import (  # noqa: F401
    OLX_DIR,
    Lab,
    assert_inert,
    olx,
    solve_in_sandbox,
)


@pytest.fixture
def lab_factory(db):
    """``lab_factory("files_and_flags", student="alice")`` or with raw OLX text."""

    def make(name_or_text: str, student: str = "alice") -> Lab:
        text = name_or_text if name_or_text.lstrip().startswith("<") else olx(name_or_text)
        return Lab(text, student)

    return make


@pytest.fixture
def user_factory(db):
    from django.contrib.auth import get_user_model  # pylint: disable=import-outside-toplevel

    def make(username: str, **extra):
        user, _ = get_user_model().objects.get_or_create(
            username=username, defaults={"email": f"{username}@example.com", **extra}
        )
        return user

    return make


@pytest.fixture
def definition_of():
    from xblocks.labs.definition import parse_lab  # pylint: disable=import-outside-toplevel

    return lambda name: parse_lab(olx(name))


@pytest.fixture
def backend():
    """The real configured sandbox backend (local bubblewrap sandboxes on this machine)."""
    from xblocks.labs.sandbox.base import get_backend  # pylint: disable=import-outside-toplevel

    return get_backend()


@pytest.fixture
def memory_backend(monkeypatch):
    """The in-memory sandbox backend, configured for this test: for labs api tests that are not about
    isolation (they then need no root and no sandbox start); emptied afterwards."""
    from xblocks.labs.sandbox.memory import MemoryBackend  # pylint: disable=import-outside-toplevel

    monkeypatch.setenv("KAFAAT_SANDBOX_BACKEND", "memory")
    backend = MemoryBackend.instance()
    yield backend
    backend.reset()


@pytest.fixture
def no_dispatch(monkeypatch):
    """Record the tasks the api queues instead of running them (for tests about the database alone)."""
    from xblocks.labs import tasks  # pylint: disable=import-outside-toplevel

    queued: list[tuple[str, int]] = []
    monkeypatch.setattr(
        tasks, "enqueue", lambda task, session_id, queue=None: queued.append((task.name.rsplit(".", 1)[-1], session_id))
    )
    return queued
