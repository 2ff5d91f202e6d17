"""The public verification page in real Chromium: right to left in Arabic, status announced, PDF downloadable."""

import pytest
from django.utils import translation
from django.utils.translation import gettext

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_an_employer_opens_the_page_in_arabic_sees_the_status_and_gets_the_pdf(
    live_server, browser_page, certificates, settings
):
    from xblocks.certification.credentials import api

    settings.KAFAAT = {**settings.KAFAAT, "PUBLIC_BASE_URL": live_server.url}
    certificate = certificates.add()
    api.credential_json(certificate.id)
    page = browser_page
    page.goto(f"{live_server.url}/kafaat/credentials/verify/{certificate.number}/?lang=ar")
    root = page.locator(".kafaat-verify")
    assert page.evaluate("getComputedStyle(document.querySelector('.kafaat-verify')).direction") == "rtl"
    status = page.get_by_role("status")
    with translation.override("ar"):
        valid = gettext("Valid")
    assert valid != "Valid" and valid in status.inner_text()  # the Arabic catalog speaks, not the English source
    # Logical properties: in RTL the language links sit on the left edge.
    box = page.locator(".kafaat-verify__languages a").first.bounding_box()
    assert box["x"] < page.viewport_size["width"] / 2
    assert "أمينة بن علي" in root.inner_text()
    response = page.request.get(page.locator("a[href*='/pdf/']").get_attribute("href"))
    assert response.status == 200 and response.body().startswith(b"%PDF")

    api.apply_status(certificate.id, "revoked")
    page.goto(f"{live_server.url}/kafaat/credentials/verify/{certificate.number}/?lang=en")
    assert "Revoked" in page.get_by_role("status").inner_text()
    assert page.locator(".kafaat-verify__status--bad").is_visible()
