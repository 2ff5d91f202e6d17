"""Scope and consent on the api path: only consenting learners, only the requester's schools and cohorts."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import openpyxl
import pytest
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied

from tests.certification.exports.helpers import INJECTED_COHORT, INJECTED_NAME
from xblocks.certification.exports import api

pytestmark = [pytest.mark.mariadb]


def numbers_in(fmt: str, data: bytes) -> set[str]:
    """Certificate numbers found in an export of any format, by parsing it."""
    if fmt == "csv":
        return {row["credential_id"] for row in csv.DictReader(io.StringIO(data.decode()))}
    if fmt == "xlsx":
        rows = list(openpyxl.load_workbook(io.BytesIO(data), read_only=True).active.iter_rows(values_only=True))
        column = rows[0].index("credential_id")
        return {row[column] for row in rows[1:]}
    if fmt == "jsonl":
        return {json.loads(line)["credential_id"] for line in data.decode().splitlines()}
    if fmt == "ob-bundle":
        with zipfile.ZipFile(io.BytesIO(data)) as bundle:
            return {json.loads(line)["number"] for line in bundle.read("index.jsonl").decode().splitlines()}
    statements = json.loads(data)
    return {s["result"]["extensions"]["https://w3id.org/kafaat/xapi/extensions/certificate-number"] for s in statements}


def export(user, fmt, **kwargs) -> bytes:
    out = io.BytesIO()
    api.write_export(user, out, format=fmt, **kwargs)
    return out.getvalue()


FORMATS = ["csv", "xlsx", "jsonl", "ob-bundle", "xapi"]


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_export_holds_only_consenting_learners_of_the_requesters_school(world, fmt):
    data = export(world.coordinator_a, fmt, employer="acme")
    # bob never consented, carol consented to another employer, dave is in the other school
    assert numbers_in(fmt, data) == {world.number("alice"), world.number("erin")}


@pytest.mark.parametrize("fmt", FORMATS)
def test_platform_staff_see_both_schools_but_still_only_consenting_learners(world, fmt):
    data = export(world.staff, fmt, employer="acme")
    assert numbers_in(fmt, data) == {world.number("alice"), world.number("erin"), world.number("dave")}


def test_consent_is_per_employer(world):
    assert numbers_in("csv", export(world.coordinator_a, "csv", employer="globex")) == {world.number("carol")}


def test_withdrawn_consent_removes_the_learner(world):
    from xblocks.certification import api as cert_api

    cert_api.set_consent(world.enrollments["alice"], "acme", False)
    assert numbers_in("jsonl", export(world.coordinator_a, "jsonl", employer="acme")) == {world.number("erin")}


@pytest.mark.parametrize("fmt", FORMATS)
def test_a_coordinator_cannot_export_another_schools_cohort(world, fmt):
    with pytest.raises(PermissionDenied):
        export(world.coordinator_b, fmt, employer="acme", cohort_ids=[world.cohort_a.id])


@pytest.mark.parametrize("user_name", ["anonymous", "learner"])
def test_people_without_a_school_role_cannot_export(world, user_name, django_user_model):
    user = AnonymousUser() if user_name == "anonymous" else django_user_model.objects.get(username="alice")
    with pytest.raises(PermissionDenied):
        export(user, "csv", employer="acme")


def test_an_unknown_employer_is_refused_and_none_is_refused_when_several_exist(world):
    with pytest.raises(PermissionDenied):
        export(world.coordinator_a, "csv", employer="initech")
    with pytest.raises(PermissionDenied):
        export(world.coordinator_a, "csv")


def test_a_cohort_filter_narrows_the_export(world):
    data = export(world.staff, "csv", employer="acme", cohort_ids=[world.cohort_b.id])
    assert numbers_in("csv", data) == {world.number("dave")}


def test_injection_payloads_in_names_and_cohorts_open_as_literal_text(world):
    rows = list(csv.DictReader(io.StringIO(export(world.coordinator_a, "csv", employer="acme").decode())))
    alice = next(r for r in rows if r["credential_id"] == world.number("alice"))
    assert alice["full_name"] == "'" + INJECTED_NAME
    assert alice["cohort_name"] == "'" + INJECTED_COHORT
    erin = next(r for r in rows if r["credential_id"] == world.number("erin"))
    assert erin["full_name"] == "'-1+1 Erin"
    sheet = openpyxl.load_workbook(io.BytesIO(export(world.coordinator_a, "xlsx", employer="acme"))).active
    values = [cell.value for row in sheet.iter_rows() for cell in row]
    assert "'" + INJECTED_NAME in values and "'" + INJECTED_COHORT in values
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_progress_reports_rows_done_and_total(world, settings):
    settings.KAFAAT = {**settings.KAFAAT, "EXPORT_PROGRESS_EVERY": 1}
    seen = []
    api.write_export(
        world.coordinator_a,
        io.BytesIO(),
        format="csv",
        employer="acme",
        progress=lambda done, total: seen.append((done, total)),
    )
    assert seen[0] == (0, 2) and seen[-1] == (2, 2)


def test_a_record_outside_scope_returned_by_the_source_is_dropped(world, monkeypatch):
    """Defence in depth: if the certification api ever leaked another school's row, the export drops it."""
    from xblocks.certification import api as cert_api

    real = cert_api.iter_certificate_records

    def leaky(user, **kwargs):
        yield from real(user, **kwargs)
        yield cert_api.get_certificate(world.number("dave"))  # school B, not the requester's

    monkeypatch.setattr(cert_api, "iter_certificate_records", leaky)
    assert world.number("dave") not in numbers_in("csv", export(world.coordinator_a, "csv", employer="acme"))
