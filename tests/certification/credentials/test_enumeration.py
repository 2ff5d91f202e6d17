"""Enumeration: numbers that say nothing of their neighbours, one limit on every public lookup, every lookup logged.

Runs on real certificates issued by the certification app (not the store the other credential tests use),
so the numbers are the ones a stranger would try to walk.
"""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django.test import Client

from xblocks.certification import models, numbers
from xblocks.certification.credentials import api

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]

PAGE, API = "/kafaat/credentials/verify/{}/", "/kafaat/credentials/api/v1/certificates/{}/"
PDF, JSON, JWT = "/kafaat/credentials/pdf/{}/", PAGE + "credential.json", PAGE + "credential.jwt"
BULK = "/kafaat/credentials/api/v1/bulk-verify/"


@pytest.fixture(autouse=True)
def _fresh_limits():
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def issued(certified, keys_dir):
    amina = models.Certificate.objects.get(user=certified.learner("amina_a"))
    lina = models.Certificate.objects.get(user=certified.learner("lina_b"))
    return amina, lina


def _neighbours(number: str) -> list[str]:
    """What a stranger tries next: the sequential numbers, and the code with one character moved."""
    prefix, code = number[:-11], number[-11:]
    year = prefix.split("-")[1]
    tries = [f"KAF-{year}-{n:06d}" for n in range(1, 4)]
    for index in (0, 4, 6, 10):
        if code[index] == "-":
            continue
        char = numbers.ALPHABET[(numbers.ALPHABET.index(code[index]) + 1) % 32]
        tries.append(prefix + code[:index] + char + code[index + 1 :])
    return tries


def test_guessing_a_neighbours_number_finds_nobody(issued):
    amina, lina = issued
    client = Client(REMOTE_ADDR="198.51.100.7")
    assert amina.number[:-11] == lina.number[:-11]  # same prefix and year...
    assert amina.number[-11:] != lina.number[-11:]  # ...and nothing else in common
    for guess in _neighbours(amina.number):
        assert guess not in (amina.number, lina.number)
        assert client.get(PAGE.format(guess)).status_code == 404, guess
        assert client.get(API.format(guess)).json()["found"] is False
        assert client.get(JSON.format(guess)).status_code == 404
    # one changed character never passes the check character: a typo is caught before any lookup
    for guess in _neighbours(amina.number)[3:]:
        assert not numbers.code_is_well_formed(guess[-11:])


def test_a_number_typed_in_lower_case_or_with_o_for_zero_is_still_found(issued):
    amina, _lina = issued
    code = amina.number[-11:]
    typed = amina.number[:-11].lower() + code.lower().replace("0", "o").replace("1", "l")
    response = Client(REMOTE_ADDR="198.51.100.8").get(API.format(typed))
    assert response.json()["found"] is True and response.json()["number"] == amina.number


def _employer_token():
    raw, _data = api.create_employer_token("HR", "Sahara Assurance")
    return raw


def _get(client, url, token):
    return client.get(url)


def _bulk(client, number, token):
    return client.post(BULK, data=f"{number}\n", content_type="text/csv", HTTP_AUTHORIZATION=f"Bearer {token}")


ENDPOINTS = {
    "page": (PAGE, _get, False),
    "api": (API, _get, True),
    "pdf": (PDF, _get, False),
    "credential.json": (JSON, _get, True),
    "credential.jwt": (JWT, _get, True),
    "bulk": (None, _bulk, True),
}


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_the_lookup_after_the_limit_is_refused_on_every_endpoint(issued, settings, endpoint):
    amina, _lina = issued
    settings.KAFAAT = {**settings.KAFAAT, "VERIFY_RATE_LIMIT": 3, "VERIFY_RATE_WINDOW": 120}
    url, call, as_json = ENDPOINTS[endpoint]
    target = url.format(amina.number) if url else amina.number
    token = _employer_token()
    client = Client(REMOTE_ADDR="198.51.100.9")
    for _n in range(3):
        assert call(client, target, token).status_code == 200
    refused = call(client, target + "?lang=fr" if url else target, token)
    assert refused.status_code == 429
    assert refused["Retry-After"] == "120"
    if as_json:
        body = refused.json()
        assert body["error"] == "rate_limited" and body["retry_after"] == 120
    else:
        page = refused.content.decode()
        assert '<html lang="fr" dir="ltr">' in page
        assert "Trop de" in page  # the visitor's language
    # another visitor is not affected
    assert call(Client(REMOTE_ADDR="198.51.100.10"), target, token).status_code == 200


def test_the_429_page_is_in_arabic_right_to_left(issued, settings):
    amina, _lina = issued
    settings.KAFAAT = {**settings.KAFAAT, "VERIFY_RATE_LIMIT": 1}
    client = Client(REMOTE_ADDR="198.51.100.11")
    client.get(PAGE.format(amina.number))
    page = client.get(PAGE.format(amina.number) + "?lang=ar").content.decode()
    assert '<html lang="ar" dir="rtl">' in page


def test_bulk_rows_spend_the_callers_budget_and_a_refused_file_verifies_nothing(issued, settings):
    amina, lina = issued
    settings.KAFAAT = {**settings.KAFAAT, "BULK_RATE_LIMIT": 3}
    token = _employer_token()
    client = Client(REMOTE_ADDR="198.51.100.12")
    ok = client.post(
        BULK, data=f"{amina.number}\n{lina.number}\n", content_type="text/csv", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert ok.status_code == 200
    before = api.verifications_for(amina.user)
    refused = client.post(
        BULK, data=f"{amina.number}\n{lina.number}\n", content_type="text/csv", HTTP_AUTHORIZATION=f"Bearer {token}"
    )
    assert refused.status_code == 429 and refused.json()["error"] == "rate_limited"
    assert len(api.verifications_for(amina.user)) == len(before)


def test_every_lookup_is_in_the_holders_verification_log(issued):
    amina, lina = issued
    token = _employer_token()
    client = Client(REMOTE_ADDR="198.51.100.13")
    for name in sorted(ENDPOINTS):
        url, call, _as_json = ENDPOINTS[name]
        assert call(client, url.format(amina.number) if url else amina.number, token).status_code == 200
    records = api.verifications_for(amina.user)
    assert sorted(r.channel for r in records) == sorted(["page", "api", "pdf", "json", "jwt", "bulk"])
    assert all(r.number == amina.number for r in records)
    assert [r.verifier for r in records if r.channel == "bulk"] == ["Sahara Assurance"]
    assert api.verifications_for(lina.user) == []  # nobody looked lina up
