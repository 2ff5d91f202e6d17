"""The learner's verification log counts verifications, not reloads (decision 0058)."""

from __future__ import annotations

import datetime as dt

import pytest
from django.core.cache import cache
from django.test import Client

from xblocks.certification import api as cert_api
from xblocks.certification import models
from xblocks.certification.credentials import api
from xblocks.certification.credentials.models import Verification

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]

PAGE = "/kafaat/credentials/verify/{}/"


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def amina(certified, keys_dir):
    return models.Certificate.objects.get(user=certified.learner("amina_a"))


def _log(cert):
    return api.verifications_for(cert.user)


def test_reloading_the_verification_page_is_one_verification(amina):
    visitor = Client(REMOTE_ADDR="198.51.100.20")
    for _ in range(5):
        assert visitor.get(PAGE.format(amina.number)).status_code == 200
    assert len(_log(amina)) == 1


def test_another_verifier_is_another_verification(amina, certified):
    Client(REMOTE_ADDR="198.51.100.21").get(PAGE.format(amina.number))
    Client(REMOTE_ADDR="198.51.100.22").get(PAGE.format(amina.number))
    signed_in = Client(REMOTE_ADDR="198.51.100.21")
    signed_in.force_login(certified.staff)
    signed_in.get(PAGE.format(amina.number))
    signed_in.get(PAGE.format(amina.number))
    assert len(_log(amina)) == 3


def test_a_new_outcome_is_a_new_verification(amina, certified):
    visitor = Client(REMOTE_ADDR="198.51.100.23")
    visitor.get(PAGE.format(amina.number))
    cert_api.set_certificate_status(amina.pk, "revoked", reason="fraud", actor=certified.staff)
    visitor.get(PAGE.format(amina.number))
    visitor.get(PAGE.format(amina.number))
    statuses = sorted(r.status for r in _log(amina))
    assert len(statuses) == 2 and "revoked" in statuses


def test_the_same_verifier_after_the_window_is_a_new_verification(amina, settings):
    settings.KAFAAT = {**settings.KAFAAT, "VERIFICATION_LOG_WINDOW": 600}
    visitor = Client(REMOTE_ADDR="198.51.100.24")
    visitor.get(PAGE.format(amina.number))
    Verification.objects.update(at=Verification.objects.get().at - dt.timedelta(seconds=601))
    visitor.get(PAGE.format(amina.number))
    assert len(_log(amina)) == 2


def test_a_window_of_zero_records_every_lookup(amina, settings):
    settings.KAFAAT = {**settings.KAFAAT, "VERIFICATION_LOG_WINDOW": 0}
    visitor = Client(REMOTE_ADDR="198.51.100.25")
    for _ in range(3):
        visitor.get(PAGE.format(amina.number))
    assert len(_log(amina)) == 3
