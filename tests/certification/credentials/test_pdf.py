"""The PDF certificate: renders in English, French and Arabic (shaped, right to left) with a working QR code."""

import io
import unicodedata

import pypdf
import pytest

from xblocks.certification.credentials import api, pdf

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]

ARABIC_NAME = "أمينة بن علي"


def _text(data: bytes) -> str:
    return pypdf.PdfReader(io.BytesIO(data)).pages[0].extract_text()


def test_arabic_pdf_text_layer_holds_base_letters_not_presentation_forms(certificates):
    certificate = certificates.add()
    data = api.render_pdf(certificate.id, "ar")
    assert data.startswith(b"%PDF")
    text = _text(data)
    # The glyphs drawn are shaped presentation forms; the text layer maps them back to base letters.
    assert not any("\ufe70" <= char <= "\ufeff" for char in text)
    assert ARABIC_NAME in unicodedata.normalize("NFC", text)
    assert certificate.number in text


def test_shaping_joins_letters_and_puts_them_in_visual_order():
    shown = pdf.visual("علي")
    assert shown == "\ufef2\ufee0\ufecb"  # final yeh, medial lam, initial ain: joined and reversed for drawing
    assert pdf.visual("Cloud Ops 2") == "Cloud Ops 2"


@pytest.mark.parametrize("language", ["en", "fr", "ar"])
def test_pdf_renders_in_each_language_with_the_facts(certificates, language):
    certificate = certificates.add()
    text = _text(api.render_pdf(certificate.id, language))
    assert "KAF-2026-000005" in text
    assert "126.5" in text
    assert api.verification_url(certificate.number) in text


def _drawing(data: bytes) -> bytes:
    return pypdf.PdfReader(io.BytesIO(data)).pages[0].get_contents().get_data()


def test_pdf_language_defaults_to_the_learners_and_arabic_is_laid_out_right_to_left(certificates):
    certificate = certificates.add()  # the learner chose Arabic
    default = _drawing(api.render_pdf(certificate.id))
    assert default == _drawing(api.render_pdf(certificate.id, "ar"))
    assert default != _drawing(api.render_pdf(certificate.id, "en"))


def test_revoked_certificate_pdf_says_so(certificates):
    certificate = certificates.add(status="revoked")
    assert "REVOKED" in _text(api.render_pdf(certificate.id, "en"))


def test_pdf_download_view_and_qr_code_points_at_the_verification_page(client, certificates):
    certificate = certificates.add()
    response = client.get(f"/kafaat/credentials/pdf/{certificate.number}/?lang=fr")
    assert response.status_code == 200 and response["Content-Type"] == "application/pdf"
    import qrcode

    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(api.verification_url(certificate.number))
    code.make(fit=True)
    # Every dark module is one filled square in the page stream: count them against the QR matrix.
    dark = sum(sum(1 for cell in row if cell) for row in code.get_matrix())
    content = pypdf.PdfReader(io.BytesIO(response.content)).pages[0].get_contents().get_data().decode("latin-1")
    assert content.count(" re f") >= dark
