"""Admin: receipts show failures with the response detail; the re-send action queues them again."""

import datetime as dt

import pytest
from django.urls import reverse
from django.utils import timezone

from xblocks.certification.exports import api


@pytest.fixture
def failed_receipt(world, settings):
    from xblocks.certification.exports.models import DeliveryReceipt

    settings.KAFAAT = {**settings.KAFAAT, "DELIVERY_GIVE_UP_AFTER": 0}
    endpoint = api.create_endpoint(world.coordinator_a, name="Acme", url="https://127.0.0.1:9/none", employer="acme")
    api.collect(endpoint.id)
    api.send_due(now=timezone.now() + dt.timedelta(seconds=1))  # nothing listens on port 9: fails, gives up
    return DeliveryReceipt.objects.filter(endpoint_id=endpoint.id).first()


def test_admin_lists_failed_receipts_with_their_detail_and_resends_them(client, world, failed_receipt):
    world.staff.is_superuser = True
    world.staff.save()
    client.force_login(world.staff)
    assert failed_receipt.status == "failed" and failed_receipt.response_detail
    listing = client.get(reverse("admin:kafaat_exports_deliveryreceipt_changelist") + "?status=failed")
    assert listing.status_code == 200 and failed_receipt.certificate_number in listing.content.decode()
    detail = client.get(reverse("admin:kafaat_exports_deliveryreceipt_change", args=[failed_receipt.pk]))
    assert "ConnectionError" in detail.content.decode()
    client.post(
        reverse("admin:kafaat_exports_deliveryreceipt_changelist"),
        {"action": "resend", "_selected_action": [failed_receipt.pk]},
    )
    failed_receipt.refresh_from_db()
    assert failed_receipt.status == "pending"
    for name in ("exportpreset", "export", "endpoint", "delivery"):
        assert client.get(reverse(f"admin:kafaat_exports_{name}_changelist")).status_code == 200
