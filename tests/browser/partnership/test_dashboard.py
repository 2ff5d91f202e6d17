"""The committee's dashboard in a real browser: a committee member signs in, reads it in French and Arabic."""

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _sign_in(page, base_url, username, password):
    page.goto(f"{base_url}/kafaat/partnership/dashboard/")
    assert "/accounts/login/" in page.url  # sent to sign in first
    page.fill("input[name=username]", username)
    page.fill("input[name=password]", password)
    page.click("input[type=submit]")
    page.wait_for_url("**/kafaat/partnership/dashboard/")


def _table(page, chart_id):
    rows = page.locator(f"figure[data-chart={chart_id}] table.kafaat-committee__data tbody tr")
    return [[cell.strip() for cell in row.locator("th, td").all_inner_texts()] for row in rows.all()]


@pytest.mark.parametrize(
    ("lang", "direction", "title", "enrolled"),
    [("fr", "ltr", "Comité de suivi", "Inscrits"), ("ar", "rtl", "لجنة التتبع", "المسجلون")],
)
def test_a_committee_member_reads_a_charts_data_table(live_server, browser_page, lang, direction, title, enrolled):
    call_command("kafaat_seed_partnership")
    page = browser_page
    page.context.add_cookies([{"name": "django_language", "value": lang, "url": live_server.url}])
    _sign_in(page, live_server.url, "committee", "committee")
    assert page.locator("html").get_attribute("lang") == lang
    assert page.locator("html").get_attribute("dir") == direction
    assert page.locator("h1").inner_text() == title
    figure = page.locator("figure[data-chart=enrolled]")
    assert figure.locator("svg[role=img]").is_visible()
    assert enrolled in figure.locator("thead").inner_text()
    rows = dict(_table(page, "enrolled"))
    assert set(rows) == {
        "Atlas Tech School",
        "Casablanca Digital School",
        "Kafaat Academy",
        "Souss Institute of Technology",
    }
    assert rows["Souss Institute of Technology"] == "< 5"  # three learners: suppressed for the committee
    assert int(rows["Casablanca Digital School"]) == 25
    bars = figure.locator("rect.kafaat-committee__bar")
    assert bars.count() == 3  # no bar for the suppressed school
    needs = _table(page, "needs")
    assert needs and all(len(row) == 7 for row in needs)
    assert not page.js_errors
