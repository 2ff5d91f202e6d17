"""Offers and the committee report in a real browser, in French: the employer shortlists and invites a
learner who agreed to be contacted, the learner accepts on their page, the committee downloads its report."""

import pathlib

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BASE = "/kafaat/partnership"


def _sign_in(page, base_url, path, username, password):
    page.context.clear_cookies()
    page.context.add_cookies([{"name": "django_language", "value": "fr", "url": base_url}])
    page.goto(f"{base_url}{path}")
    assert "/accounts/login/" in page.url  # sent to sign in first
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    page.wait_for_url(f"**{path}")
    assert page.locator("html").get_attribute("lang") == "fr"


def test_the_employer_invites_a_consenting_learner_who_accepts_and_the_committee_downloads_its_report(
    live_server, browser_page, tmp_path
):
    from xblocks.partnership import api, models
    from xblocks.partnership.management.commands.kafaat_seed_partnership import DEMO_LEARNER

    call_command("kafaat_seed_partnership")
    page = browser_page
    offer = models.Offer.objects.get(title="Alternance plateforme cloud")
    enrollment = next(
        c.enrollment_id
        for c in api.talent_pool(models.EmployerRepresentative.objects.get().user, offer.id)
        if c.name == "Salma Bennani"
    )

    # the employer: the offers page, then the offer's talent pool; Salma is there by her certificate
    _sign_in(page, live_server.url, f"{BASE}/offers/", "sahara-hr", "employer")
    page.click(f"a[href='{offer.id}/pool/']")
    page.wait_for_url(f"**{BASE}/offers/{offer.id}/pool/")
    row = page.locator(f"tr[data-enrollment='{enrollment}']")
    assert "Salma Bennani" in row.inner_text() and "KAF-" in row.inner_text()
    row.locator("button[value=shortlist]").click()
    page.wait_for_load_state()
    row = page.locator(f"tr[data-enrollment='{enrollment}']")
    row.locator("button[value=invite]").click()
    page.wait_for_load_state()
    invitation = models.Invitation.objects.get(offer=offer, enrollment_id=enrollment)
    assert invitation.status == "invited"

    # the learner: their invitations page lists it; they accept
    _sign_in(page, live_server.url, f"{BASE}/invitations/", DEMO_LEARNER, "learner")
    article = page.locator(f"article[data-invitation='{invitation.pk}']")
    assert "Alternance plateforme cloud" in article.inner_text()
    before = article.locator(".kafaat-committee__status").inner_text()
    article.locator("button[value=accept]").click()
    page.wait_for_load_state()
    article = page.locator(f"article[data-invitation='{invitation.pk}']")
    assert article.locator(".kafaat-committee__status").inner_text() != before
    assert models.Invitation.objects.get(pk=invitation.pk).status == "accepted"

    # the committee: asks for a report, follows its progress, downloads both files
    _sign_in(page, live_server.url, f"{BASE}/reports/", "committee", "committee")
    page.fill("#report-from", "2023-01-01")
    page.click("form.kafaat-committee__form button[type=submit]")
    page.wait_for_load_state()
    pdf_link = page.locator("td.kafaat-committee__files a[href$='/pdf/']").first
    pdf_link.wait_for(timeout=30_000)  # the page polls the task's progress and shows the links when ready
    with page.expect_download() as download:
        pdf_link.click()
    path = pathlib.Path(download.value.path())
    assert path.read_bytes().startswith(b"%PDF")
    with page.expect_download() as download:
        page.locator("td.kafaat-committee__files a[href$='/xlsx/']").first.click()
    assert pathlib.Path(download.value.path()).read_bytes().startswith(b"PK")
    assert not page.js_errors
