"""The lab page's service tabs and the token handlers behind them (no sandbox: the database and the block)."""

from __future__ import annotations

import pathlib

import pytest

OLX = (pathlib.Path(__file__).parent / "olx" / "web_service_lab.xml").read_text(encoding="utf-8")


@pytest.mark.django_db
def test_the_page_shows_a_tab_per_web_service_only_where_service_origins_are_configured(lab_factory, settings):
    lab = lab_factory(OLX)
    settings.KAFAAT = {**(settings.KAFAAT or {}), "SERVICE_ORIGIN": ""}
    page = lab.block.runtime.render(lab.block, "student_view").content
    assert "kafaat-lab__tab" not in page and 'data-panel="portal"' not in page
    settings.KAFAAT = {**settings.KAFAAT, "SERVICE_ORIGIN": "https://{id}.labs.example-usercontent.org"}
    page = lab.block.runtime.render(lab.block, "student_view").content
    assert 'data-tab="portal"' in page and "Customer portal" in page and 'role="tablist"' in page


@pytest.mark.django_db
def test_a_service_token_needs_a_running_lab_and_a_declared_service(lab_factory, settings, no_dispatch):
    from xblocks.labs.models import LabSession

    settings.KAFAAT = {**(settings.KAFAAT or {}), "SERVICE_ORIGIN": "https://{id}.labs.example-usercontent.org"}
    lab = lab_factory(OLX)
    status, body = lab.call("service_token", {"service": "portal"})
    assert status == 409  # no lab yet
    session_id = lab.ok("start")["session_id"]
    status, body = lab.call("service_token", {"service": "portal"})
    assert status == 409  # not ready yet
    LabSession.objects.filter(pk=session_id).update(state="ready", handle={"id": "x", "backend": "local", "host": ""})
    granted = lab.ok("service_token", {"service": "portal"})
    assert granted["url"] == f"https://{session_id}-portal.labs.example-usercontent.org/_kafaat/auth"
    assert granted["path"] == "/" and granted["expires_in"] <= 60 and len(granted["token"]) > 40
    for wrong in ({"service": "admin"}, {"service": ""}, {}, {"service": ["portal"]}):
        status, _body = lab.call("service_token", wrong)
        assert status in (400, 409)
    # staff view read-only; a learner cannot ask for the staff view
    staff = lab.as_("staff")
    granted = staff.ok("staff_service_token", {"session_id": session_id, "service": "portal"})
    assert granted["origin"] == f"https://{session_id}-portal.labs.example-usercontent.org"
    status, _body = lab.as_("bob").call("staff_service_token", {"session_id": session_id, "service": "portal"})
    assert status == 403
