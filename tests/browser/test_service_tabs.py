"""Service tabs in real Chromium: a web app started inside the lab, shown in a tab from its own origin."""

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

LAB = pathlib.Path(__file__).resolve().parents[1] / "labs" / "block" / "olx" / "web_service_lab.xml"
WORKBENCH_CHROME = "header.banner, section.debug { display: none !important; }"


@pytest.fixture
def service_lab(live_server, terminal_gateway, settings):
    from workbench.scenarios import add_xml_scenario, init_scenarios

    settings.KAFAAT = {
        **settings.KAFAAT,
        "SERVICE_ORIGIN": f"http://{{id}}.svc.localhost:{terminal_gateway.port}",
        # The self-test's outcome is shared by every process of the host, and a self-test that another
        # test run starts counts as "not passed" while it runs: these tests are about the tabs, and the
        # gate has tests of its own (tests/labs/sandbox/test_selftest.py).
        "SANDBOX_REQUIRE_SELFTEST": False,
    }
    init_scenarios()
    name = f"kafaat_lab.web-{uuid.uuid4().hex[:6]}"
    add_xml_scenario(name, f"Web lab {name}", LAB.read_text(encoding="utf-8"))
    return f"{live_server.url}/scenario/{name}/"


@pytest.mark.parametrize("language", ["en", "ar"])
def test_a_learner_opens_the_web_app_of_the_lab_in_its_tab(service_lab, terminal_gateway, browser_page, language):
    page = browser_page
    page.set_extra_http_headers({"Accept-Language": language})
    page.set_viewport_size({"width": 1366, "height": 800})
    page.goto(f"{service_lab}?student=alice")
    page.add_style_tag(content=WORKBENCH_CHROME)
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)
    if language == "ar":
        assert lab.get_attribute("dir") == "rtl"
    tab = lab.get_by_role("tab", name="Customer portal")  # the author's label
    assert tab.is_disabled()  # no lab yet
    lab.locator(".kafaat-lab__start").click()
    lab.locator(".kafaat-terminal[data-state='connected']").wait_for(timeout=30_000)
    tab.click()
    assert tab.get_attribute("aria-selected") == "true"
    frame = page.frame_locator(".kafaat-lab__panel[data-panel='portal'] .kafaat-lab__service-frame")
    heading = frame.locator("#inside")
    heading.wait_for(timeout=15_000)
    assert heading.inner_text() == "Served from inside the lab"
    # its own origin, never the LMS's: the app's script runs on <session>-portal.svc.localhost
    origin = frame.locator("#origin").inner_text()
    assert origin.startswith("http://") and "-portal.svc.localhost:" in origin
    assert not origin.startswith(service_lab.split("/scenario")[0])
    # the LMS page cannot reach into the frame, and the frame not into the LMS page
    reach = """() => { const f = document.querySelector(".kafaat-lab__panel[data-panel='portal'] iframe");
                       try { return !!f.contentWindow.document; } catch (e) { return "blocked"; } }"""
    assert page.evaluate(reach) == "blocked"
    # back to the terminal, which is still there
    lab.locator(".kafaat-lab__tab[data-tab='terminal']").click()
    assert lab.locator(".kafaat-lab__panel[data-panel='terminal']").is_visible()
    assert not lab.locator(".kafaat-lab__panel[data-panel='portal']").is_visible()
    # a narrow screen stacks the tabs, and nothing scrolls sideways
    page.set_viewport_size({"width": 390, "height": 800})
    page.wait_for_timeout(250)
    boxes = [lab.locator(".kafaat-lab__tab").nth(i).bounding_box() for i in range(3)]
    assert all(low["y"] >= high["y"] + high["height"] - 1 for high, low in zip(boxes, boxes[1:], strict=False))
    assert page.evaluate("() => document.documentElement.scrollWidth <= window.innerWidth")
    assert page.js_errors == []


def test_staff_open_a_learners_service_read_only_from_the_staff_panel(service_lab, terminal_gateway, browser_page):
    page = browser_page
    page.goto(f"{service_lab}?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)
    lab.locator(".kafaat-lab__start").click()
    lab.locator(".kafaat-lab__status").filter(has_text="Your lab is ready").wait_for(timeout=30_000)
    page.goto(f"{service_lab}?student=staff")
    lab = page.locator(".kafaat-lab").first
    button = lab.get_by_role("button", name="View alice's Customer portal (read-only)")
    button.wait_for(timeout=10_000)
    with page.expect_popup() as popup:
        button.click()
    view = popup.value
    view.locator("#inside").wait_for(timeout=15_000)
    assert view.locator("#inside").inner_text() == "Served from inside the lab"
    # read-only: a POST from that window is refused by the proxy
    status = view.evaluate("() => fetch('/', {method: 'POST', body: 'x'}).then(r => r.status)")
    assert status == 405


def test_a_learner_edits_a_file_of_the_lab_in_the_editor_tab(service_lab, terminal_gateway, browser_page):
    page = browser_page
    page.goto(f"{service_lab}?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)
    lab.locator(".kafaat-lab__start").click()
    lab.locator(".kafaat-lab__status").filter(has_text="Your lab is ready").wait_for(timeout=30_000)
    lab.get_by_role("tab", name="Files").click()
    editor = page.frame_locator(".kafaat-lab__panel[data-panel='edit'] .kafaat-lab__service-frame")
    editor.get_by_role("button", name="index.html").click()
    editor.locator("#name").filter(has_text="index.html").wait_for(timeout=10_000)  # the file arrived
    text = editor.locator("textarea")
    assert "Served from inside the lab" in text.input_value()
    text.fill("<!doctype html><h1 id='inside'>Edited in the page</h1>\n")
    editor.get_by_role("button", name="Save").click()
    editor.locator("#status").filter(has_text="Saved.").wait_for(timeout=10_000)
    # the web app serves the edited file
    lab.get_by_role("tab", name="Customer portal").click()
    lab.locator(".kafaat-lab__panel[data-panel='portal'] .kafaat-lab__service-reload").click()
    portal = page.frame_locator(".kafaat-lab__panel[data-panel='portal'] .kafaat-lab__service-frame")
    portal.locator("#inside").filter(has_text="Edited in the page").wait_for(timeout=15_000)
    assert page.js_errors == []


NOTEBOOK_LAB = pathlib.Path(__file__).resolve().parents[1] / "labs" / "block" / "olx" / "notebook_lab.xml"


@pytest.mark.skipif(not NOTEBOOK_LAB.exists(), reason="the notebook lab fixture")
def test_a_learner_runs_a_cell_of_the_lab_notebook_in_its_tab(live_server, terminal_gateway, browser_page, settings):
    import time

    from workbench.scenarios import add_xml_scenario, init_scenarios

    from xblocks.labs.sandbox import images

    if not images.find("ai").built:
        pytest.skip("needs the 'ai' image (Jupyter): kafaat image build ai")
    settings.KAFAAT = {
        **settings.KAFAAT,
        "SERVICE_ORIGIN": f"http://{{id}}.svc.localhost:{terminal_gateway.port}",
        "SANDBOX_REQUIRE_SELFTEST": False,  # see service_lab
    }
    init_scenarios()
    name = f"kafaat_lab.nb-{uuid.uuid4().hex[:6]}"
    add_xml_scenario(name, f"Notebook lab {name}", NOTEBOOK_LAB.read_text(encoding="utf-8"))
    page = browser_page
    page.set_viewport_size({"width": 1366, "height": 900})
    page.goto(f"{live_server.url}/scenario/{name}/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)
    started = time.monotonic()
    lab.locator(".kafaat-lab__start").click()
    lab.locator(".kafaat-lab__status").filter(has_text="Your lab is ready").wait_for(timeout=60_000)
    lab.get_by_role("tab", name="Notebook").click()
    notebook = page.frame_locator(".kafaat-lab__panel[data-panel='nb'] .kafaat-lab__service-frame")
    notebook.locator(".input_area, .cm-editor").first.wait_for(timeout=30_000)
    print(f"Start pressed to the notebook in its tab: {time.monotonic() - started:.2f} s")
    notebook.locator("#kernel_indicator_icon.kernel_idle_icon").wait_for(timeout=30_000)  # a kernel, over a websocket
    notebook.locator(".input_area").first.click()
    page.keyboard.press("Shift+Enter")
    notebook.locator(".output_area").filter(has_text="answer 42").wait_for(timeout=30_000)
    assert page.js_errors == []
