"""A learner switches their public profile on and a visitor reads it, in Arabic and English, in real Chromium."""

import dataclasses

import pytest
from django.test import Client
from django.utils import translation
from django.utils.translation import gettext

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.mark.parametrize(("language", "direction"), [("ar", "rtl"), ("en", "ltr")])
def test_a_learner_switches_the_profile_on_and_a_visitor_sees_valid_certificates_only(
    live_server, browser_page, certificates, settings, django_user_model, language, direction
):
    from xblocks.certification.credentials import api

    settings.KAFAAT = {**settings.KAFAAT, "PUBLIC_BASE_URL": live_server.url}
    learner = django_user_model.objects.create_user("amina", email="amina@example.org", password="pw")
    base = certificates.add()
    valid = certificates.add(
        id=20, number="KAF-2026-VALID-00020", learner=dataclasses.replace(base.learner, user_id=learner.pk)
    )
    revoked = certificates.add(
        id=21, number="KAF-2026-REVOK-00021", learner=dataclasses.replace(base.learner, user_id=learner.pk)
    )
    for certificate in (valid, revoked):
        api.credential_json(certificate.id)
    api.apply_status(revoked.id, "revoked")
    certificates.set_status(revoked.id, "revoked")

    signed_in = Client()
    signed_in.force_login(learner)
    page = browser_page
    page.context.add_cookies(
        [{"name": "sessionid", "value": signed_in.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/kafaat/credentials/me/profile/?lang={language}")
    with translation.override(language):
        off, on = gettext("Your public profile is off."), gettext("Your public profile is on.")
        switch_on = gettext("Switch my public profile on")
    assert page.get_by_role("status").inner_text() == off
    page.get_by_role("button", name=switch_on).click()
    page.wait_for_load_state()
    assert page.get_by_role("status").inner_text() == on
    link = page.locator(".kafaat-profile__link a").get_attribute("href")

    # A visitor with no session opens the link.
    visitor = page.context.browser.new_page()
    visitor.goto(link)
    assert visitor.evaluate("getComputedStyle(document.querySelector('.kafaat-profile')).direction") == direction
    assert visitor.locator("html").get_attribute("lang") == language
    assert "أمينة بن علي" in visitor.locator("h1").inner_text()
    items = visitor.locator(".kafaat-profile__item")
    assert items.count() == 1
    assert valid.number in items.first.inner_text() and revoked.number not in visitor.content()
    assert "example.org" not in visitor.content() and "amina" not in visitor.content()
    assert visitor.locator(".kafaat-profile__item img").evaluate("img => img.complete && img.naturalWidth > 0")
    visitor.locator(".kafaat-profile__item a").click()
    visitor.wait_for_url(f"**/verify/{valid.number}/**")
    visitor.close()
