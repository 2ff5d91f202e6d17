"""Staff views: start an export, follow its progress, download it; nobody else sees it (abuse case 27)."""

from __future__ import annotations

import csv
import io
import uuid

import pytest
from django.urls import reverse

pytestmark = [pytest.mark.mariadb]


@pytest.fixture
def start(client, django_capture_on_commit_callbacks):
    """POST the export form; the queued task runs (eagerly) when the request's transaction commits."""

    def post(client=client, **data):
        with django_capture_on_commit_callbacks(execute=True):
            return client.post(reverse("kafaat_exports:start"), {"employer": "acme", "format": "csv", **data})

    return post


def test_a_coordinator_starts_follows_and_downloads_an_export(client, world, start):
    client.force_login(world.coordinator_a)
    response = start(preset="cornerstone")
    assert response.status_code == 202
    payload = response.json()
    status = client.get(payload["status_url"]).json()
    assert status["status"] == "done" and status["percent"] == 100 and status["rows_total"] == 2
    download = client.get(status["download_url"])
    assert download.status_code == 200
    assert download["Content-Type"].startswith("text/csv")
    assert "attachment" in download["Content-Disposition"]
    body = b"".join(download.streaming_content)
    download.close()
    rows = list(csv.DictReader(io.StringIO(body.decode())))
    assert {row["User ID"] for row in rows} == {"E-1001", ""}


def test_the_page_lists_only_the_coordinators_cohorts_and_exports(client, world, start):
    client.force_login(world.coordinator_a)
    start()
    page = client.get(reverse("kafaat_exports:staff"))
    assert page.status_code == 200
    html = page.content.decode()
    assert "South 2026" not in html and "@SUM(1+1) cohort" in html
    assert 'aria-live="polite"' in html and 'dir="ltr"' in html
    # a Latin cohort name in an Arabic page keeps its closing parenthesis at its end (bidi isolation)
    assert "<bdi>@SUM(1+1) cohort (" in html


def test_another_coordinator_gets_404_on_someone_elses_export(client, world, start):
    client.force_login(world.coordinator_a)
    payload = start().json()
    status = client.get(payload["status_url"]).json()
    client.force_login(world.coordinator_b)
    assert client.get(payload["status_url"]).status_code == 404
    assert client.get(status["download_url"]).status_code == 404


def test_a_coordinator_cannot_start_an_export_of_another_schools_cohort(client, world, start):
    client.force_login(world.coordinator_b)
    response = start(cohort=str(world.cohort_a.id))
    assert response.status_code == 403
    assert "HYPERLINK" not in response.content.decode()


@pytest.mark.parametrize("who", ["anonymous", "learner"])
def test_people_without_a_school_role_are_refused_everywhere(client, world, who, django_user_model, start):
    if who == "learner":
        client.force_login(django_user_model.objects.get(username="alice"))
    assert client.get(reverse("kafaat_exports:staff")).status_code == 403
    assert start().status_code == 403
    assert client.get(reverse("kafaat_exports:status", args=[uuid.uuid4()])).status_code == 404


def test_a_malformed_export_id_is_a_404(client, world, start):
    client.force_login(world.coordinator_a)
    assert client.get(reverse("kafaat_exports:status", args=["not-a-uuid"])).status_code == 404


def test_a_coordinator_who_lost_the_school_cannot_download_the_old_file(client, world, start):
    from xblocks.certification import models

    client.force_login(world.coordinator_a)
    status = client.get(start().json()["status_url"]).json()
    models.SchoolCoordinator.objects.filter(user=world.coordinator_a).delete()
    assert client.get(status["download_url"]).status_code == 404


def test_a_bad_format_is_a_400_without_internals(client, world, start):
    client.force_login(world.coordinator_a)
    response = start(format="exe")
    assert response.status_code == 400
    assert "Traceback" not in response.content.decode()


def test_get_on_start_is_refused(client, world, start):
    client.force_login(world.coordinator_a)
    assert client.get(reverse("kafaat_exports:start")).status_code == 405


@pytest.mark.parametrize(("fmt", "magic"), [("xlsx", b"PK"), ("ob-bundle", b"PK"), ("jsonl", b"{"), ("xapi", b"[")])
def test_every_format_downloads_from_the_staff_view(client, world, start, fmt, magic):
    client.force_login(world.coordinator_a)
    status = client.get(start(format=fmt).json()["status_url"]).json()
    assert status["status"] == "done"
    download = client.get(status["download_url"])
    body = b"".join(download.streaming_content)
    download.close()
    assert body.startswith(magic)


def test_old_exports_are_purged_with_their_files(client, world, start):
    import datetime as dt

    from xblocks.certification.exports import api

    client.force_login(world.coordinator_a)
    export = api.get_export(world.coordinator_a, start().json()["id"])
    path, _data = api.export_file(world.coordinator_a, export.public_id)
    assert path.exists()
    assert api.purge_exports(now=export.created_at + dt.timedelta(days=8)) == 1
    assert not path.exists()
    assert api.list_exports(world.coordinator_a) == []


def test_an_export_abandoned_by_a_dead_worker_is_taken_over_but_a_live_one_is_not(world):
    import datetime as dt

    from django.utils import timezone

    from xblocks.certification.exports import api
    from xblocks.certification.exports.models import Export

    row = Export.objects.create(requester=world.coordinator_a, format="csv", employer="acme", status="running",
                                started_at=timezone.now())  # fmt: skip
    assert api.run_export(row.pk).status == "running"
    Export.objects.filter(pk=row.pk).update(started_at=timezone.now() - dt.timedelta(hours=3))
    finished = api.run_export(row.pk)
    assert finished.status == "done" and finished.rows_done == 2


def _download(client, payload) -> bytes:
    from django.core.signals import request_finished  # pylint: disable=import-outside-toplevel
    from django.db import close_old_connections  # pylint: disable=import-outside-toplevel

    status = client.get(payload["status_url"]).json()
    download = client.get(status["download_url"])
    body = b"".join(download.streaming_content)
    # closing a streamed response ends the request, which would close the test database's connection
    request_finished.disconnect(close_old_connections)
    try:
        download.close()
    finally:
        request_finished.connect(close_old_connections)
    return body


def test_the_page_offers_a_delta_and_an_excel_csv_and_says_which_to_pick(client, world, start):
    import datetime as dt  # pylint: disable=import-outside-toplevel

    from xblocks.certification import models  # pylint: disable=import-outside-toplevel

    client.force_login(world.coordinator_a)
    html = client.get(reverse("kafaat_exports:staff")).content.decode()
    assert 'value="csv-excel"' in html and 'name="modified_since"' in html
    assert "pick CSV for an HR system import" in html
    # a delta from tomorrow holds nothing; after moving alice's last event to then, it holds her
    tomorrow = (dt.datetime.now(dt.UTC) + dt.timedelta(days=1)).date()
    assert _download(client, start(modified_since=tomorrow.isoformat()).json()).count(b"\r\n") == 1
    models.CertificateEvent.objects.filter(certificate=world.certificates["alice"]).update(
        at=dt.datetime.combine(tomorrow, dt.time(8), tzinfo=dt.UTC)
    )
    rows = list(
        csv.DictReader(io.StringIO(_download(client, start(modified_since=tomorrow.isoformat()).json()).decode()))
    )
    assert [r["credential_id"] for r in rows] == [world.number("alice")]
    body = _download(client, start(format="csv-excel").json())
    assert body.startswith(b"\xef\xbb\xbf")
    assert start(modified_since="last week").status_code == 400
