"""The operators' admin pages for lab sessions render and stop sessions through the api."""

from __future__ import annotations

import pytest
from django.urls import reverse

from xblocks.labs import api
from xblocks.labs.models import LabSession


@pytest.mark.django_db
def test_admin_lists_sessions_hides_the_seed_and_stops_through_the_api(
    admin_client, user_factory, definition_of, no_dispatch
):
    status = api.start_session(user_factory("alice"), "block-1", "", definition_of("files_and_flags"))
    row = LabSession.objects.get(pk=status.session_id)
    listing = admin_client.get(reverse("admin:kafaat_labs_labsession_changelist"))
    assert listing.status_code == 200 and b"block-1" in listing.content
    from xblocks.labs.models import CheckRun

    CheckRun.objects.create(session=row, step_id="write", state="error", detail="sandbox gone: no such sandbox")
    detail = admin_client.get(reverse("admin:kafaat_labs_labsession_change", args=[row.pk]))
    assert detail.status_code == 200 and row.seed.encode() not in detail.content
    assert b"sandbox gone: no such sandbox" in detail.content  # a run's operator detail, read-only
    assert b'name="check_runs-0-detail"' not in detail.content
    admin_client.post(
        reverse("admin:kafaat_labs_labsession_changelist"), {"action": "stop_sessions", "_selected_action": [row.pk]}
    )
    assert LabSession.objects.get(pk=row.pk).state == "stopping"
    assert ("teardown_session", row.pk) in no_dispatch


@pytest.mark.django_db
def test_the_sessions_command_lists_live_sessions_and_runs_a_sweep(user_factory, definition_of, no_dispatch):
    from io import StringIO

    from django.core.management import call_command

    api.start_session(user_factory("alice"), "block-1", "", definition_of("files_and_flags"))
    out = StringIO()
    call_command("kafaat_lab_sessions", stdout=out)
    assert "requested" in out.getvalue() and "alice" in out.getvalue()
    out = StringIO()
    call_command("kafaat_lab_sessions", "--reap", stdout=out)
    assert out.getvalue().startswith("reaper: {")


@pytest.mark.mariadb
@pytest.mark.django_db
def test_the_staff_listing_costs_the_same_queries_for_any_number_of_learners(
    user_factory, definition_of, no_dispatch, django_assert_max_num_queries
):
    from xblocks.labs.models import CheckRun

    definition = definition_of("files_and_flags")
    for index in range(12):
        status = api.start_session(user_factory(f"learner{index}"), "block-1", "", definition)
        CheckRun.objects.create(
            session_id=status.session_id, step_id="write", state="done", passed=index % 2 == 0, script_hash="x"
        )
    with django_assert_max_num_queries(2):
        rows = api.list_sessions("block-1")
    assert len(rows) == 12
    assert {row.last_check_passed for row in rows} == {True, False}


@pytest.mark.django_db
def test_admin_shows_lab_hosts_and_periodic_jobs_read_only_and_reconciles_on_the_hosts(
    admin_client, user_factory, definition_of, no_dispatch, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone

    from xblocks.labs import tasks
    from xblocks.labs.models import PeriodicJob

    api.heartbeat("lab-a", capacity=4, gateway_url="wss://lab-a.example.org")
    api.heartbeat("lab-gone", capacity=4, now=timezone.now() - timedelta(hours=2))
    api.start_session(user_factory("alice"), "block-1", "", definition_of("files_and_flags"))
    listing = admin_client.get(reverse("admin:kafaat_labs_labhost_changelist"))
    assert listing.status_code == 200
    page = listing.content.decode()
    assert "lab-a" in page and "lab-gone" in page
    assert page.count('alt="True"') >= 1 and 'alt="False"' in page  # lab-a alive, lab-gone dead
    assert admin_client.get(reverse("admin:kafaat_labs_labhost_add")).status_code == 403
    PeriodicJob.objects.create(name="kafaat-exports-send-due", last_ok=False, last_error="RuntimeError: 503")
    jobs = admin_client.get(reverse("admin:kafaat_labs_periodicjob_changelist"))
    assert jobs.status_code == 200 and "kafaat-exports-send-due" in jobs.content.decode()
    row = PeriodicJob.objects.get(name="kafaat-exports-send-due")
    detail = admin_client.get(reverse("admin:kafaat_labs_periodicjob_change", args=[row.pk]))
    assert "RuntimeError: 503" in detail.content.decode()
    sent = []
    monkeypatch.setattr(tasks.reconcile_sessions, "apply_async", lambda args, queue: sent.append((args, queue)))
    session = LabSession.objects.get(usage_key="block-1")
    admin_client.post(
        reverse("admin:kafaat_labs_labsession_changelist"),
        {"action": "reconcile_now", "_selected_action": [session.pk]},
    )
    assert sent == [(["lab-a"], "kafaat.labs.lab-a")]  # the live host reconciles; nothing ran in this process
