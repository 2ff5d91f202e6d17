"""Suspend, reinstate and revoke in the Django admin: a confirmation page with a required reason first."""

from __future__ import annotations

import pytest
from django.test import Client

from xblocks.certification import api, models

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]

CHANGELIST = "/admin/kafaat_certification/certificate/"


def _client(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def cert(certified):
    return models.Certificate.objects.get(user=certified.learner("amina_a"))


def _action(client, action, cert, **extra):
    return client.post(CHANGELIST, {"action": action, "_selected_action": [cert.pk], **extra})


def test_choosing_revoke_shows_a_confirmation_page_and_changes_nothing_yet(certified, cert):
    response = _action(_client(certified.staff), "revoke", cert)
    assert response.status_code == 200
    page = response.content.decode()
    assert cert.number in page and 'name="reason"' in page and "A revocation is final" in page
    assert api.get_certificate(cert.number).status == "active"
    assert len(api.certificate_events(cert.pk)) == 1


@pytest.mark.parametrize("reason", ["", "   "])
def test_confirming_without_a_reason_shows_the_page_again(certified, cert, reason):
    response = _action(_client(certified.staff), "revoke", cert, confirm="yes", reason=reason)
    assert response.status_code == 200
    assert "give the reason" in response.content.decode()
    assert api.get_certificate(cert.number).status == "active"


def test_confirming_with_a_reason_changes_the_status_and_records_the_reason_and_who(certified, cert):
    client = _client(certified.staff)
    response = _action(client, "suspend", cert, confirm="yes", reason="fees unpaid")
    assert response.status_code == 302
    response = _action(client, "reinstate", cert, confirm="yes", reason="fees paid")
    response = _action(client, "revoke", cert, confirm="yes", reason="exam fraud")
    assert response.status_code == 302
    events = api.certificate_events(cert.pk)
    assert [(e.kind, e.reason, e.actor) for e in events[1:]] == [
        ("suspended", "fees unpaid", certified.staff.username),
        ("reinstated", "fees paid", certified.staff.username),
        ("revoked", "exam fraud", certified.staff.username),
    ]
    assert api.get_certificate(cert.number).status == "revoked"


def test_another_schools_coordinator_cannot_confirm_a_change(certified, cert):
    certified.coordinator_b.is_staff = True
    certified.coordinator_b.save()
    _action(_client(certified.coordinator_b), "revoke", cert, confirm="yes", reason="forged")
    assert api.get_certificate(cert.number).status == "active"
