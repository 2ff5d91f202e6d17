"""A new certificate reaches its credential, and a status change its status list, whatever fails on the way."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.certification.helpers import complete_cloud_track
from xblocks.certification import models
from xblocks.certification.credentials import api as credentials_api
from xblocks.certification.credentials.models import SignedCredential
from xblocks.certification.signals import CERTIFICATE_ISSUED_TOPIC, CERTIFICATE_STATUS_TOPIC
from xblocks.labs import api as labs_api
from xblocks.labs.models import OutboxMessage


def _due_again(topic: str) -> None:
    OutboxMessage.objects.filter(topic=topic, pending=True).update(
        next_attempt_at=timezone.now() - timedelta(seconds=1)
    )


@pytest.mark.mariadb
@pytest.mark.django_db(transaction=True)
def test_a_certificate_whose_signing_failed_is_signed_on_a_later_delivery(cert_world, keys_dir, monkeypatch):
    real = credentials_api.issue_credential
    failures = []

    def unavailable(certificate_id):
        failures.append(certificate_id)
        raise OSError("the key store is not mounted yet")

    monkeypatch.setattr(credentials_api, "issue_credential", unavailable)
    complete_cloud_track(cert_world, "amina_a")
    cert = models.Certificate.objects.get(user=cert_world.learner("amina_a"))
    message = OutboxMessage.objects.get(topic=CERTIFICATE_ISSUED_TOPIC)
    assert failures == [cert.pk] and message.pending and "key store is not mounted" in message.last_error
    assert not SignedCredential.objects.exists()  # before: logged, and the credential never signed

    monkeypatch.setattr(credentials_api, "issue_credential", real)
    _due_again(CERTIFICATE_ISSUED_TOPIC)
    assert labs_api.deliver_due_messages() == 1
    assert SignedCredential.objects.filter(certificate_id=cert.pk).count() == 1
    OutboxMessage.objects.filter(topic=CERTIFICATE_ISSUED_TOPIC).update(pending=True)  # delivered twice
    _due_again(CERTIFICATE_ISSUED_TOPIC)
    assert labs_api.deliver_due_messages() == 1
    assert SignedCredential.objects.filter(certificate_id=cert.pk).count() == 1


@pytest.mark.django_db(transaction=True)
def test_each_status_change_is_its_own_message_and_a_revocation_is_never_dropped(cert_world, keys_dir, monkeypatch):
    from xblocks.certification import api

    complete_cloud_track(cert_world, "amina_a")
    cert = models.Certificate.objects.get(user=cert_world.learner("amina_a"))
    assert SignedCredential.objects.filter(certificate_id=cert.pk).exists()
    real = credentials_api.apply_status
    monkeypatch.setattr(credentials_api, "apply_status", lambda *args: (_ for _ in ()).throw(OSError("disk full")))
    api.set_certificate_status(cert.pk, "suspended", reason="unpaid fees", actor=cert_world.staff)
    api.set_certificate_status(cert.pk, "revoked", reason="exam fraud", actor=cert_world.staff)
    pending = OutboxMessage.objects.filter(topic=CERTIFICATE_STATUS_TOPIC, pending=True)
    assert [m.payload["status"] for m in pending.order_by("pk")] == ["suspended", "revoked"]
    monkeypatch.setattr(credentials_api, "apply_status", real)
    _due_again(CERTIFICATE_STATUS_TOPIC)
    assert labs_api.deliver_due_messages() == 2
    row = SignedCredential.objects.get(certificate_id=cert.pk)
    from xblocks.certification.credentials import statuslist

    assert statuslist.read_status(row.status_list_id, row.status_index) == statuslist.REVOKED
