"""Uploads over the size limit (hours CSV, bulk verification) are refused from the announced size, before reading."""

from __future__ import annotations

import json

import pytest
from django.test import Client


@pytest.fixture
def coordinator(cert_world):
    client = Client()
    client.force_login(cert_world.coordinator_a)
    return client


@pytest.mark.django_db
def test_an_oversized_hours_upload_is_refused_before_the_body_is_read(coordinator, settings):
    from xblocks.certification import models

    settings.KAFAAT = {**settings.KAFAAT, "CERT_MAX_IMPORT_BYTES": 1000}
    body = "username,cohort,source,minutes,date\n" + "amina_a,cloud-a,school,1,2026-02-01\n" * 5000
    response = coordinator.post("/kafaat/certification/api/hours/import/?commit=1", body, content_type="text/csv")
    assert response.status_code == 413 and "1000 bytes" in response.json()["error"]
    # a client that announces a small body and sends a larger one is cut at the limit, not read to the end
    response = coordinator.generic(
        "POST",
        "/kafaat/certification/api/hours/import/?commit=1",
        body.encode(),
        content_type="text/csv",
        CONTENT_LENGTH="900",
    )
    assert response.status_code in (200, 400)
    page = coordinator.post("/kafaat/certification/hours/", {"action": "import", "import-file": ("x" * 200_000)})
    assert page.status_code == 413
    assert not models.HoursEntry.objects.exists()


@pytest.mark.django_db
def test_an_oversized_bulk_verification_upload_is_refused_before_it_is_read(settings):
    from xblocks.certification.credentials import api
    from xblocks.certification.credentials.views import MAX_BULK_BYTES

    raw, _token = api.create_employer_token("HR", "Sahara Assurance")
    body = "KAF-2026-000001\n" * (MAX_BULK_BYTES // 16 + 10)
    response = Client().post(
        "/kafaat/credentials/api/v1/bulk-verify/", body, content_type="text/csv", HTTP_AUTHORIZATION=f"Bearer {raw}"
    )
    assert response.status_code == 413 and response.json()["error"] == "too_large"
    assert json.loads(response.content)["message"]
