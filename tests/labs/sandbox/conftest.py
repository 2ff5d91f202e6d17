"""Fixtures for the sandbox engine tests: the local backend, the base image, self-cleaning sandboxes."""

from __future__ import annotations

import os
import shutil

import pytest

from xblocks.labs.sandbox.base import Limits, SandboxSpec

NEEDS = "the local sandbox backend needs root, bubblewrap, nsenter and unshare on the host"


def _host_can_sandbox() -> bool:
    return os.geteuid() == 0 and all(shutil.which(tool) for tool in ("bwrap", "nsenter", "unshare", "debootstrap"))


@pytest.fixture(scope="session")
def local_backend():
    """The per-process LocalBackend, with the base image built (through the builder and its lock) if missing."""
    if not _host_can_sandbox():
        pytest.skip(NEEDS)
    from xblocks.labs.sandbox import images  # pylint: disable=import-outside-toplevel
    from xblocks.labs.sandbox.local import LocalBackend  # pylint: disable=import-outside-toplevel

    images.ensure("base")
    return LocalBackend.instance()


@pytest.fixture
def make_sandbox(local_backend):
    """``make_sandbox(memory_bytes=..., learner_sudo=True, ...)``: a live sandbox destroyed after the test."""
    made = []

    def make(*, image: str = "base", learner_sudo: bool = False, env=None, label: str = "test", **limits):
        spec = SandboxSpec(image=image, limits=Limits(**limits), learner_sudo=learner_sudo, env=env or {}, label=label)
        handle = local_backend.create(spec)
        made.append(handle)
        return handle

    yield make
    for handle in made:
        local_backend.destroy(handle)


@pytest.fixture
def sandbox(make_sandbox):
    return make_sandbox()
