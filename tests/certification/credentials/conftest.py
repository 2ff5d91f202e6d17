"""Fixtures for the credentials tests: certificates as the certification app's dataclasses, keys in a temp dir."""

import warnings

import pytest

# WebOb (imported by the workbench URLs) imports the stdlib ``cgi`` module, deprecated in 3.11; pytest.ini
# turns warnings into errors and does not list webob. Import it once here with that warning silenced.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

from tests.certification.credentials.helpers import CertificateStore, make_certificate  # noqa: F401


@pytest.fixture
def keys_dir(tmp_path, settings):
    settings.KAFAAT = {**getattr(settings, "KAFAAT", {}), "CREDENTIAL_KEY_DIR": str(tmp_path / "keys")}
    return tmp_path / "keys"


@pytest.fixture
def certificates(monkeypatch, keys_dir, db):
    store = CertificateStore()
    monkeypatch.setattr("xblocks.certification.credentials.api.signing._certificate", store.get)
    return store
