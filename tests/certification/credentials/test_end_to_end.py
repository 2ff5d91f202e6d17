"""With the real certification app: issuing a certificate signs its credential, a status change flips its bit."""

import pytest

from xblocks.certification.credentials import api
from xblocks.certification.credentials.models import SignedCredential

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]


@pytest.fixture
def issued(cert_world, keys_dir, django_capture_on_commit_callbacks):
    from tests.certification.helpers import complete_cloud_track
    from xblocks.certification import api as certification_api

    with django_capture_on_commit_callbacks(execute=True):
        complete_cloud_track(cert_world, "amina_a")
    progress = certification_api.evaluate_learner("amina_a")
    number = next(item.certificate_number for item in progress if item.certificate_number)
    return certification_api.get_certificate(number)


def test_issuing_a_certificate_signs_its_credential_through_the_signal(issued):
    row = SignedCredential.objects.get(certificate_id=issued.id)
    assert row.number == issued.number
    result = api.verify_credential(row.document)
    assert result.ok, result.checks
    assert row.document["issuer"]["name"] == "School A"
    assert row.document["credentialSubject"]["licenseNumber"] == issued.number


def test_revoking_through_the_certification_app_flips_the_status_bit(
    issued, cert_world, django_capture_on_commit_callbacks
):
    from xblocks.certification import api as certification_api

    document = api.credential_json(issued.id)
    with django_capture_on_commit_callbacks(execute=True):
        certification_api.set_certificate_status(issued.id, "revoked", reason="issued in error", actor=cert_world.staff)
    assert api.verify_credential(document).status == "revoked"
    assert api.check_certificate(issued.number, public=True).status == "revoked"


def test_suspending_then_reactivating_clears_the_suspension(issued, cert_world, django_capture_on_commit_callbacks):
    from xblocks.certification import api as certification_api

    document = api.credential_json(issued.id)
    with django_capture_on_commit_callbacks(execute=True):
        certification_api.set_certificate_status(issued.id, "suspended", reason="fees", actor=cert_world.staff)
    assert api.verify_credential(document).status == "suspended"
    with django_capture_on_commit_callbacks(execute=True):
        certification_api.set_certificate_status(issued.id, "active", reason="fees paid", actor=cert_world.staff)
    assert api.verify_credential(document).status == "active"


def test_pdf_and_page_work_for_a_real_certificate(issued, client):
    assert client.get(f"/kafaat/credentials/verify/{issued.number}/").status_code == 200
    response = client.get(f"/kafaat/credentials/pdf/{issued.number}/")
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
