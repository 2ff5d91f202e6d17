"""The lab page's layout in real Chromium: no sideways scrolling in any language, the terminal kept in view."""

from __future__ import annotations

import pathlib
import uuid
import warnings

import pytest

with warnings.catch_warnings():
    # WebOb (under XBlock) imports the stdlib ``cgi`` module, deprecated in Python 3.11 (pytest.ini makes it an error).
    warnings.simplefilter("ignore", DeprecationWarning)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]

WIDTHS = (390, 768, 1024, 1366)
HEIGHT = 800
LONG_LAB = pathlib.Path(__file__).resolve().parents[1] / "labs" / "block" / "olx" / "long_lab.xml"

OVERFLOW = """() => ({
  scrollWidth: document.documentElement.scrollWidth,
  bodyScrollWidth: document.body.scrollWidth,
  innerWidth: window.innerWidth,
  widest: Array.from(document.querySelectorAll('body *'))
    .filter(node => node.scrollWidth > window.innerWidth + 1 && getComputedStyle(node).overflowX === 'visible')
    .map(node => `${node.tagName}.${node.className}: ${node.scrollWidth} ${getComputedStyle(node).position}`)
    .slice(-6),
})"""


def _long_lab_scenario() -> str:
    from workbench.scenarios import add_xml_scenario, init_scenarios

    init_scenarios()  # the workbench keeps scenarios in the database this test starts empty
    name = f"kafaat_lab.long-{uuid.uuid4().hex[:6]}"
    add_xml_scenario(name, f"Long lab {name}", LONG_LAB.read_text(encoding="utf-8"))
    return name


# The workbench's own chrome is no part of an LMS page: a fixed banner and a debug panel that prints
# the block's raw fields in one unbroken <pre>. Hidden, so what is measured is the lab page itself.
WORKBENCH_CHROME = "header.banner, section.debug { display: none !important; }"


def _open_started_lab(page, url: str, language: str):
    page.set_extra_http_headers({"Accept-Language": language})
    page.goto(url)
    page.add_style_tag(content=WORKBENCH_CHROME)
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)  # the initialiser ran
    lab.locator(".kafaat-lab__start").click()
    lab.locator(".kafaat-terminal[data-state='connected']").wait_for(timeout=30_000)
    return lab


@pytest.mark.parametrize("language", ["en", "fr", "ar"])
def test_the_lab_page_never_scrolls_sideways_at_phone_tablet_and_laptop_widths(
    live_server, terminal_gateway, browser_page, language
):
    page = browser_page
    name = _long_lab_scenario()
    page.set_viewport_size({"width": WIDTHS[-1], "height": HEIGHT})
    for student in ("alice", "staff"):  # the learner's page, then staff's with the table of learners
        lab = _open_started_lab(page, f"{live_server.url}/scenario/{name}/?student={student}", language)
        if student == "staff":
            lab.locator(".kafaat-lab__staff-rows tr").first.wait_for(timeout=10_000)
        for width in WIDTHS:
            page.set_viewport_size({"width": width, "height": HEIGHT})
            page.wait_for_timeout(250)  # the terminal refits to its new size
            measured = page.evaluate(OVERFLOW)
            assert measured["scrollWidth"] <= measured["innerWidth"], (language, student, width, measured)
            assert measured["bodyScrollWidth"] <= measured["innerWidth"], (language, student, width, measured)
        page.set_viewport_size({"width": WIDTHS[-1], "height": HEIGHT})
    assert page.js_errors == []


def _box(locator) -> dict:
    return locator.evaluate(
        "node => { const b = node.getBoundingClientRect();"
        " return {top: b.top, bottom: b.bottom, left: b.left, right: b.right}; }"
    )


@pytest.mark.parametrize("language", ["en", "ar"])
def test_the_terminal_stays_beside_the_steps_while_the_learner_scrolls_and_stacks_on_a_phone(
    live_server, terminal_gateway, browser_page, language
):
    page = browser_page
    name = _long_lab_scenario()
    page.set_viewport_size({"width": 1366, "height": HEIGHT})
    lab = _open_started_lab(page, f"{live_server.url}/scenario/{name}/?student=alice", language)
    screen = lab.locator(".kafaat-terminal__screen")
    last = lab.locator(".kafaat-lab__step").last
    last.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollBy(0, 200)")
    page.wait_for_timeout(200)
    assert page.evaluate("() => window.scrollY") > 2 * HEIGHT  # a long lab: the page really scrolled
    step_box, screen_box = _box(last), _box(screen)
    assert step_box["top"] < HEIGHT and step_box["bottom"] > 0  # the last step is on screen...
    assert 0 <= screen_box["top"] and screen_box["bottom"] <= HEIGHT  # ...and so is the whole terminal
    steps_box = _box(lab.locator(".kafaat-lab__instructions"))
    if language == "ar":  # mirrored: the steps on the right, the terminal on their left
        assert screen_box["right"] <= steps_box["left"]
    else:
        assert screen_box["left"] >= steps_box["right"]

    page.set_viewport_size({"width": 390, "height": HEIGHT})
    page.wait_for_timeout(250)
    steps_box, terminal_box = _box(lab.locator(".kafaat-lab__instructions")), _box(lab.locator(".kafaat-lab__terminal"))
    assert terminal_box["top"] >= steps_box["bottom"]  # stacked: the terminal after the steps...
    assert abs(terminal_box["left"] - steps_box["left"]) <= 1 and abs(terminal_box["right"] - steps_box["right"]) <= 1
    assert terminal_box["right"] - terminal_box["left"] >= 300  # ...as wide as the page's column
    screen.scroll_into_view_if_needed()
    screen_box = _box(screen)
    assert 0 <= screen_box["top"] and screen_box["bottom"] <= HEIGHT
    assert page.js_errors == []
