"""The certification block in real Chromium: a coordinator loads the roster through the JSON handler (CSRF and all)."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_coordinator_filters_the_roster_and_a_learner_sees_progress(live_server, browser_page):
    call_command("kafaat_seed_demo", stdout=io.StringIO())
    page = browser_page
    page.goto(f"{live_server.url}/scenario/kafaat_certification.0/?student=coordinator")
    page.wait_for_selector(".kafaat-cert__roster tr >> nth=3", timeout=20000)
    assert page.inner_text(".kafaat-cert__status") == "3 learners"
    assert "KAF-" in page.inner_text(".kafaat-cert__roster")
    page.select_option(".kafaat-cert__state", "certified")
    page.wait_for_function("document.querySelector('.kafaat-cert__status').textContent === '1 learner'")
    rows = page.inner_text(".kafaat-cert__roster")
    assert "amina" in rows and "yanis" not in rows
    assert "state=certified" in page.get_attribute(".kafaat-cert__csv", "href")
    page.goto(f"{live_server.url}/scenario/kafaat_certification.0/?student=yanis")
    assert "Pass the lab “Lab: a Makefile and a pre-commit hook”" in page.inner_text(".kafaat-cert")
    assert page.locator(".kafaat-cert__staff").count() == 0
    assert page.is_checked(".kafaat-cert__consent-box")  # the seed enrolled yanis with consent
    page.uncheck(".kafaat-cert__consent-box")
    page.wait_for_function(
        "document.querySelector('.kafaat-cert__consent-status').textContent"
        " === 'Your records will no longer be shared.'"
    )
    from xblocks.certification import models  # pylint: disable=import-outside-toplevel

    assert models.Consent.objects.get(enrollment__user__username="yanis").withdrawn_at is not None
    assert page.js_errors == []
