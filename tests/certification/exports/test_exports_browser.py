"""The staff export page in real Chromium: start an export, see progress announced, download the file."""

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_coordinator_exports_from_the_page_and_downloads_only_consenting_learners(
    live_server, browser_page, world, client
):
    client.force_login(world.coordinator_a)
    page = browser_page
    page.context.add_cookies(
        [{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}]
    )
    page.goto(f"{live_server.url}/kafaat/exports/")
    page.select_option("select[name=employer]", "acme")
    page.select_option("select[name=format]", "csv")
    page.select_option("select[name=preset]", "workday")
    page.get_by_role("button", name="Start export").click()
    status = page.get_by_role("status")
    status.filter(has_text="ready").wait_for(timeout=15000)
    link = page.locator(".kafaat-exports__download").first
    assert page.locator(".kafaat-exports__progress").first.get_attribute("value") == "100"
    response = page.request.get(live_server.url + link.get_attribute("href"))
    assert response.status == 200
    text = response.text()
    assert world.number("alice") in text and world.number("erin") in text
    assert world.number("bob") not in text and world.number("dave") not in text
