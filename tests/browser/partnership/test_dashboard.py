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


def test_the_funnel_data_table_reads_in_arabic_and_the_page_fits_from_390_to_1366_px(live_server, browser_page):
    call_command("kafaat_seed_partnership")
    page = browser_page
    page.context.add_cookies([{"name": "django_language", "value": "ar", "url": live_server.url}])
    _sign_in(page, live_server.url, "committee", "committee")
    assert page.locator("html").get_attribute("dir") == "rtl"
    funnel = page.locator("figure[data-chart=funnel]")
    assert funnel.locator("svg[role=img]").is_visible()
    table = funnel.locator("table.kafaat-committee__data")
    assert table.get_attribute("aria-label")  # the table names the chart it reads out
    rows = _table(page, "funnel")
    headers = page.locator("table.kafaat-committee__indicators thead th").all_inner_texts()
    stages = [headers[1], headers[2], headers[3], headers[7]]  # enrolled, active, certified, placed: in Arabic
    assert stages[0] == "المسجلون"
    assert [row[0] for row in rows] == stages
    enrolled_total = page.locator("table.kafaat-committee__indicators tfoot td").first.inner_text().strip()
    assert rows[0][1] == enrolled_total and rows[0][2].startswith("100")
    assert all(len(row) == 3 for row in rows)
    # the table sits on the reading side: in right-to-left its first column is at the right
    header = funnel.locator("thead th").first.bounding_box()
    last = funnel.locator("thead th").last.bounding_box()
    assert header["x"] > last["x"]
    history = page.locator("figure[data-chart=coverage-history]")
    assert history.locator("table.kafaat-committee__data tbody tr").count() >= 13  # target and twelve months
    for width in (390, 768, 1366):
        page.set_viewport_size({"width": width, "height": 900})
        overflow = page.evaluate("document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0, f"the page is {overflow}px wider than a {width}px window"
        box = funnel.locator("svg").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= width
    assert not page.js_errors
