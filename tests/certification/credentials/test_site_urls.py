"""A site on another address: the credential, its PDF's link and QR text, LinkedIn and HR export records all
carry that address, and credentials signed for an old address are reported at start."""

from __future__ import annotations

import io
import urllib.parse

import pytest
from django.core import checks

from tests.certification.helpers import complete_cloud_track

pytestmark = pytest.mark.django_db
SITE = "http://127.0.0.1:8123"


@pytest.fixture
def on_port_8123(settings, tmp_path):
    settings.LMS_ROOT_URL = SITE
    settings.KAFAAT = {**settings.KAFAAT, "CREDENTIAL_KEY_DIR": str(tmp_path / "keys")}


def _issued(cert_world):
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel
    from xblocks.certification.credentials import api  # pylint: disable=import-outside-toplevel

    complete_cloud_track(cert_world, "amina_a")
    certificate = models.Certificate.objects.get(user=cert_world.learner("amina_a"))
    return certificate, api.issue_credential(certificate.pk)


def test_a_signed_credential_links_to_the_site_where_it_was_issued(on_port_8123, cert_world):
    _certificate, document = _issued(cert_world)
    assert document["issuer"]["id"].startswith(f"{SITE}/kafaat/credentials/issuers/")
    assert document["credentialSubject"]["achievement"]["id"].startswith(f"{SITE}/kafaat/credentials/")
    assert document["credentialStatus"]["statusListCredential"].startswith(f"{SITE}/kafaat/credentials/status/")
    assert "127.0.0.1:8000" not in str(document)


def test_the_pdf_linkedin_and_export_records_carry_the_same_address(on_port_8123, cert_world):
    from pypdf import PdfReader  # pylint: disable=import-outside-toplevel

    from xblocks.certification import api as cert_api  # pylint: disable=import-outside-toplevel
    from xblocks.certification.credentials import api  # pylint: disable=import-outside-toplevel
    from xblocks.certification.exports.records import RecordBuilder  # pylint: disable=import-outside-toplevel

    certificate, _document = _issued(cert_world)
    verify = f"{SITE}/kafaat/credentials/verify/{certificate.number}/"
    text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(api.render_pdf(certificate.pk, "en"))).pages)
    assert verify in text.replace("\n", "")  # the printed link beside the QR code, which encodes the same URL
    linkedin = urllib.parse.parse_qs(
        urllib.parse.urlsplit(api.linkedin_url(cert_api.get_certificate(certificate.pk))).query
    )
    assert linkedin["certUrl"] == [verify]
    record = RecordBuilder().build(cert_api.get_certificate(certificate.pk))
    assert record["verification_url"] == verify


def test_credentials_signed_for_another_address_are_reported_by_the_start_up_checks(on_port_8123, cert_world, settings):
    from xblocks.certification.credentials.checks import check_signed_credentials  # pylint: disable=import-outside-toplevel

    _issued(cert_world)
    assert check_signed_credentials(databases=["default"]) == []
    settings.LMS_ROOT_URL = "http://127.0.0.1:8200"  # the demo restarted on another port with the same data
    [warning] = check_signed_credentials(databases=["default"])
    assert warning.id == "kafaat.W005" and warning.level == checks.WARNING
    assert "http://127.0.0.1:8123" in warning.msg and "http://127.0.0.1:8200" in warning.msg
