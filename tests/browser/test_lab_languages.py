"""A lab written in Arabic, in real Chromium: right-to-left text, left-to-right code, and keyed check feedback."""

from __future__ import annotations

import warnings

import pytest

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)  # WebOb imports ``cgi`` (see test_lab_page.py)
    import webob  # noqa: F401

pytestmark = [pytest.mark.browser, pytest.mark.sandbox, pytest.mark.django_db(transaction=True)]


def _scenario(title_part: str) -> str:
    from xblocks.labs.block import LabBlock

    titles = [title for title, _olx in LabBlock.workbench_scenarios()]
    return f"kafaat_lab.{next(i for i, title in enumerate(titles) if title_part in title)}"


def test_the_devops_lab_in_arabic_reads_right_to_left_with_code_left_to_right_and_arabic_feedback(
    live_server, browser_page
):
    from workbench.scenarios import init_scenarios

    init_scenarios()
    page = browser_page
    page.set_extra_http_headers({"Accept-Language": "ar"})
    page.goto(f"{live_server.url}/scenario/{_scenario('Build automation')}/?student=alice")
    lab = page.locator(".kafaat-lab").first
    lab.locator(".kafaat-lab__score").filter(has_text="/").wait_for(timeout=10_000)
    assert lab.locator(".kafaat-lab__title").inner_text() == "أتمتة البناء: ملف Makefile وخطّاف pre-commit"
    body = lab.locator(".kafaat-lab__step-body").first
    assert body.evaluate("node => getComputedStyle(node).direction") == "rtl"
    code = body.locator("code").first
    assert code.evaluate("node => getComputedStyle(node).direction") == "ltr"
    lab.locator(".kafaat-lab__start").click()
    lab.locator(".kafaat-lab__check:not([disabled])").first.wait_for(timeout=60_000)  # ready
    lab.locator(".kafaat-lab__check").first.click()
    feedback = lab.locator(".kafaat-lab__feedback").first
    feedback.wait_for(timeout=30_000)
    assert "لا يوجد ملف Makefile" in feedback.inner_text() and "kafaat-feedback" not in feedback.inner_text()
    assert feedback.evaluate("node => getComputedStyle(node).direction") == "rtl"
    lab.locator(".kafaat-lab__stop").click()
    lab.locator(".kafaat-lab__start").wait_for(state="visible", timeout=30_000)
