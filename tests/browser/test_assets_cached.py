"""Two labs on one page in Chromium: xterm.js and the terminal's files arrive once, by URL, and a
reload takes them from the browser's cache instead of the network."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

LAB = """<kafaat_lab display_name="{name}" lab_key="{key}">
  <step id="s" title="S"><instructions>Look around.</instructions><check id="c">true</check></step>
</kafaat_lab>"""
SCENARIO = "kafaat_two_labs"
XTERM = "/public/kafaat-terminal/vendor/xterm/xterm.js"


@pytest.fixture
def two_lab_page(live_server):
    from workbench.scenarios import add_xml_scenario, init_scenarios, remove_scenario

    init_scenarios()
    add_xml_scenario(
        SCENARIO,
        "Two labs",
        "<vertical_demo>"
        + LAB.format(name="First lab", key="first_lab")
        + LAB.format(name="Second lab", key="second_lab")
        + "</vertical_demo>",
    )
    yield f"{live_server.url}/scenario/{SCENARIO}/?student=alice"
    remove_scenario(SCENARIO)


def _xterm_entries(page) -> list[dict]:
    return page.evaluate(
        """(suffix) => performance.getEntriesByType('resource')
             .filter((entry) => entry.name.endsWith(suffix))
             .map((entry) => ({transferSize: entry.transferSize, bodySize: entry.decodedBodySize}))""",
        XTERM,
    )


def test_two_labs_load_xterm_once_and_a_reload_takes_it_from_the_cache(two_lab_page, browser_page):
    page = browser_page
    fetched = []
    page.on("request", lambda request: fetched.append(request.url) if request.url.endswith(XTERM) else None)
    page.goto(two_lab_page)
    labs = page.locator(".kafaat-lab")
    labs.nth(1).locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    assert labs.count() == 2
    for index in range(2):
        assert labs.nth(index).get_by_role("button", name="Start lab").is_visible()
    assert page.evaluate("typeof window.Terminal === 'function' && typeof window.KafaatTerminal === 'object'")
    assert not page.js_errors
    first = _xterm_entries(page)
    assert len(first) == len(fetched) == 1
    assert first[0]["bodySize"] > 400_000  # the whole bundle, once for both labs
    html = page.content()
    assert "window.define = undefined" in html and "Terminal=" not in html  # the bundle is not inlined

    page.reload()
    labs.nth(1).locator(".kafaat-lab__score").filter(has_text="Score").wait_for(timeout=10_000)
    again = _xterm_entries(page)
    assert len(again) == 1
    assert again[0]["transferSize"] < 2_000  # from the browser's cache (0) or a 304 revalidation
    assert not page.js_errors
