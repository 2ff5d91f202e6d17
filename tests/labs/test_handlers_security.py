"""Web-layer abuse cases for the lab block's handlers (abuse-cases.md rows 23, 27, 28), no sandbox needed."""

from __future__ import annotations

import json

import pytest
from django.test import Client
from django.urls import reverse

from xblocks.labs.block import LabBlock
from xblocks.labs.models import CheckRun, LabSession

LEARNER_HANDLERS = [
    "start",
    "status",
    "check",
    "check_status",
    "submit_flag",
    "hint",
    "solution",
    "reset",
    "stop",
    "keepalive",
    "terminal_token",
    "service_token",
]
STAFF_HANDLERS = [
    "staff_sessions",
    "staff_stop",
    "staff_reset",
    "staff_extend",
    "staff_terminal_token",
    "staff_service_token",
    "staff_transcript",
]
STUDIO_HANDLERS = ["studio_validate", "studio_submit"]
STATE_CHANGING = [
    "start",
    "check",
    "check_status",  # publishes a finished run's grade
    "submit_flag",
    "hint",
    "solution",
    "reset",
    "stop",
    "terminal_token",
    "service_token",
    "keepalive",
    "staff_stop",
    "staff_reset",
    "staff_extend",
    "staff_terminal_token",
    "staff_service_token",
    "studio_submit",
]


def csrf_client() -> tuple[Client, str]:
    """A browser-like client holding a csrftoken cookie, as after any page view."""
    from django.middleware.csrf import _get_new_csrf_string  # pylint: disable=import-outside-toplevel

    client = Client(enforce_csrf_checks=True)
    token = _get_new_csrf_string()
    client.cookies["csrftoken"] = token
    return client, token


def handler_url(lab, name, student="alice", authenticated=True):
    url = reverse("handler" if authenticated else "unauth_handler", args=(lab.usage_key, name, ""))
    return f"{url}?student={student}" if authenticated else url


def test_every_handler_is_listed_in_these_tests():
    handlers = {name for name in dir(LabBlock) if getattr(getattr(LabBlock, name, None), "_is_xblock_handler", False)}
    assert handlers == set(LEARNER_HANDLERS + STAFF_HANDLERS + STUDIO_HANDLERS)


@pytest.mark.parametrize("name", LEARNER_HANDLERS + STAFF_HANDLERS + STUDIO_HANDLERS)
@pytest.mark.django_db
def test_a_post_without_csrf_token_is_refused(lab_factory, name):
    lab = lab_factory("files_and_flags")
    client, _token = csrf_client()
    response = client.post(handler_url(lab, name), data=json.dumps({}), content_type="application/json")
    assert response.status_code == 403
    assert not LabSession.objects.exists()


@pytest.mark.django_db
def test_a_post_with_the_csrf_token_goes_through(lab_factory):
    lab = lab_factory("files_and_flags")
    client, token = csrf_client()
    response = client.post(
        handler_url(lab, "status"),
        data="{}",
        content_type="application/json",
        HTTP_X_CSRFTOKEN=token,
        HTTP_REFERER="http://testserver/",
    )
    assert response.status_code == 200
    assert response.json()["state"] == ""


@pytest.mark.parametrize("name", STATE_CHANGING)
@pytest.mark.django_db
def test_get_on_a_state_changing_handler_changes_nothing(lab_factory, name):
    lab = lab_factory("files_and_flags")
    status, _ = lab.call(name, method="GET")
    assert status == 405
    assert not LabSession.objects.exists()


@pytest.mark.parametrize("name", LEARNER_HANDLERS + STAFF_HANDLERS + STUDIO_HANDLERS)
@pytest.mark.django_db
def test_anonymous_callers_through_the_noauth_route_are_refused(lab_factory, name):
    lab = lab_factory("files_and_flags")
    client = Client()
    response = client.post(handler_url(lab, name, authenticated=False), data="{}", content_type="application/json")
    assert response.status_code == 403
    assert not LabSession.objects.exists()


@pytest.mark.parametrize("name", STAFF_HANDLERS + STUDIO_HANDLERS)
@pytest.mark.django_db
def test_staff_handlers_refuse_learners(lab_factory, name):
    lab = lab_factory("files_and_flags")
    status, body = lab.call(name, {"session_id": 1, "olx": "<kafaat_lab/>", "seconds": 60})
    assert status == 403, body


@pytest.mark.django_db
def test_learner_b_cannot_act_on_learner_a_session_by_passing_its_id(lab_factory, no_dispatch):
    alice = lab_factory("files_and_flags", student="alice")
    alice_session = alice.ok("start")["session_id"]
    bob = alice.as_("bob")
    for name in ["check", "submit_flag", "hint", "solution", "stop", "keepalive", "terminal_token", "service_token"]:
        payload = {"session_id": alice_session, "step": "write", "flag": "found", "answer": "x", "service": "web"}
        status, _ = bob.call(name, payload)
        assert status == 409  # bob has no lab of his own; alice's id in the payload is ignored
    body = bob.ok("status", {"session_id": alice_session})
    assert body["session_id"] is None and body["state"] == ""
    row = LabSession.objects.get(pk=alice_session)
    assert row.state == "requested" and not CheckRun.objects.exists()


@pytest.mark.django_db
def test_staff_handlers_act_only_on_sessions_of_their_own_block(lab_factory, no_dispatch):
    other = lab_factory("three_checks", student="alice")
    foreign = other.ok("start")["session_id"]
    staff = lab_factory("files_and_flags", student="staff")
    staff_actions = ["staff_stop", "staff_reset", "staff_extend", "staff_terminal_token", "staff_service_token"]
    for name in [*staff_actions, "staff_transcript"]:
        status, _ = staff.call(name, {"session_id": foreign, "service": "web"})
        assert status == 404
    assert LabSession.objects.get(pk=foreign).state == "requested"
    assert staff.ok("staff_sessions")["sessions"] == []


@pytest.mark.django_db
def test_a_forged_passed_payload_never_sets_a_grade(lab_factory, no_dispatch):
    lab = lab_factory("files_and_flags")
    forged = {"step": "write", "passed": True, "score": 3, "value": 3, "points": 3, "results": [{"passed": True}]}
    lab.ok("start", forged)
    for name in ["check", "submit_flag", "hint", "status"]:
        lab.call(name, forged)
    assert lab.grades() == []
    row = LabSession.objects.get()
    assert row.best_score == 0 and row.progress == {} and not CheckRun.objects.exists()


@pytest.mark.django_db
def test_authored_html_in_instructions_and_titles_renders_inert(lab_factory):
    from lxml import html as lxml_html

    lab = lab_factory("hostile")
    page = lab.block.runtime.render(lab.block, "student_view").content
    tree = lxml_html.fromstring(page)
    # The runtime's init-args element is the only script, and authored text cannot close it early.
    assert [s.get("type") for s in tree.xpath("//script")] == ["json/xblock-args"]
    assert page.count("</script>") == 1 and "<" not in tree.xpath("//script")[0].text
    assert not tree.xpath("//svg | //img[@onerror]")
    assert not [a for a in tree.xpath("//*[@href]") if a.get("href").strip().lower().startswith("javascript:")]
    assert not [
        el for el in tree.iter() if isinstance(el.tag, str) and any(k.lower().startswith("on") for k in el.attrib)
    ]
    assert "<script>alert('title')</script>" in tree.text_content()  # shown as text, not run


@pytest.mark.django_db
def test_learners_see_a_generic_message_for_a_broken_lab(lab_factory):
    from xblocks.labs.block import LabBlock

    lab = lab_factory("files_and_flags")
    lab.block.olx = '<kafaat_lab display_name="Broken"><step id="x" title="x"/></kafaat_lab>'
    page = lab.block.runtime.render(lab.block, "student_view").content
    assert "definition has errors" in page and "needs at least one" not in page
    status, body = lab.call("start")
    assert status == 409 and "definition has errors" in body["error"]
    assert isinstance(lab.block, LabBlock) and not LabSession.objects.exists()


MACHINES_OLX = """<kafaat_lab display_name="Machines">
  <machine name="attacker"/>
  <machine name="db" terminal="false"/>
  <step id="s" title="S"><check id="c">true</check></step>
</kafaat_lab>"""


@pytest.mark.django_db
def test_a_terminal_is_refused_on_a_machine_without_one_or_that_does_not_exist(lab_factory, no_dispatch):
    lab = lab_factory(MACHINES_OLX)
    lab.ok("start")
    for machine in ("db", "nowhere", ["attacker"], 7):
        status, body = lab.call("terminal_token", {"machine": machine})
        assert status == 400, (machine, body)
    # the machine with a terminal passes the block's check (and reaches the not-ready refusal)
    status, _body = lab.call("terminal_token", {"machine": "attacker"})
    assert status == 409
