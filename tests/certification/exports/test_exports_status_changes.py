"""Suspension, reinstatement and revocation as the HR side sees them: their own xAPI verbs, a moved
``last_modified`` and a place in delta exports."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import time

import pytest
from django.utils import timezone

from xblocks.certification import api as cert_api
from xblocks.certification.exports import api
from xblocks.certification.exports.cli import _timestamp
from xblocks.certification.exports.xapi import STATUS_EXTENSION

VERB_BASE = "https://w3id.org/kafaat/xapi/verbs/"


def _export(user, fmt="csv", **kwargs) -> bytes:
    out = io.BytesIO()
    api.write_export(user, out, format=fmt, employer="acme", **kwargs)
    return out.getvalue()


def _rows(data: bytes) -> dict[str, dict]:
    return {row["credential_id"]: row for row in csv.DictReader(io.StringIO(data.decode()))}


def _change(world, username, status, reason):
    cert_api.set_certificate_status(world.certificates[username].pk, status, reason=reason, actor=world.staff)


def test_suspend_reinstate_and_revoke_each_have_their_own_verb_and_carry_the_new_status(world, settings):
    settings.KAFAAT = {**getattr(settings, "KAFAAT", {}), "XAPI_VERB_BASE": VERB_BASE}
    _change(world, "alice", "suspended", "fees unpaid")
    _change(world, "alice", "active", "fees paid")
    _change(world, "alice", "revoked", "exam fraud")
    statements = [
        s
        for s in json.loads(_export(world.staff, "xapi"))
        if s["result"]["extensions"]["https://w3id.org/kafaat/xapi/extensions/certificate-number"]
        == world.number("alice")
    ]
    seen = [
        (s["verb"]["id"], s["verb"]["display"]["en-US"], s["result"]["extensions"][STATUS_EXTENSION])
        for s in statements
    ]
    assert seen == [
        ("https://openbadgespec.org/xapi/verbs/earned", "earned", "active"),
        (VERB_BASE + "suspended", "suspended", "suspended"),
        (VERB_BASE + "reinstated", "reinstated", "active"),
        (VERB_BASE + "revoked", "revoked", "revoked"),
    ]
    # only earning is a completion: a revocation is not a successful result
    assert [s["result"]["completion"] for s in statements] == [True, False, False, False]
    assert "success" not in statements[3]["result"]
    assert len({s["id"] for s in statements}) == 4


def test_events_recorded_as_generic_status_changes_still_map_to_their_verbs(world):
    from xblocks.certification import chain, models  # pylint: disable=import-outside-toplevel

    cert = models.Certificate.objects.get(pk=world.certificates["alice"].pk)
    models.Certificate.objects.filter(pk=cert.pk).update(status="revoked")
    chain.append(cert, kind="status_changed", status="revoked", reason="older release", actor="staff")
    statements = json.loads(_export(world.staff, "xapi"))
    verbs = [
        s["verb"]["display"]["en-US"] for s in statements if s["result"]["extensions"][STATUS_EXTENSION] == "revoked"
    ]
    assert verbs == ["revoked"]


def test_a_revocation_moves_last_modified_and_the_status(world):
    before = _rows(_export(world.staff, preset="kafaat"))[world.number("alice")]
    time.sleep(1.05)  # the column is written to the second
    changed_at = timezone.now()
    _change(world, "alice", "revoked", "exam fraud")
    after = _rows(_export(world.staff, preset="kafaat"))[world.number("alice")]
    assert after["status"] == "Revoked"
    last = dt.datetime.fromisoformat(after["last_modified"].replace("Z", "+00:00"))
    assert last >= changed_at.replace(microsecond=0)
    assert after["last_modified"] > before["last_modified"]
    # the issue time stays where it was
    assert after["completion_date"] == before["completion_date"]


def test_a_delta_export_holds_the_certificates_changed_since_and_nothing_else(world):
    everyone = _rows(_export(world.staff))
    assert len(everyone) > 1
    time.sleep(0.01)
    cutoff = timezone.now()
    time.sleep(0.01)
    _change(world, "dave", "suspended", "under review")
    delta = _rows(_export(world.staff, modified_since=cutoff))
    assert list(delta) == [world.number("dave")]
    assert delta[world.number("dave")]["status"] == "Suspended"
    assert api.count_records(world.staff, employer="acme", modified_since=cutoff) == 1


def test_the_command_line_reads_the_delta_time_in_utc_unless_told_otherwise():
    assert _timestamp("2026-07-01T08:00") == dt.datetime(2026, 7, 1, 8, tzinfo=dt.UTC)
    assert _timestamp("2026-07-01T08:00:00Z") == dt.datetime(2026, 7, 1, 8, tzinfo=dt.UTC)
    with pytest.raises(Exception, match="ISO 8601"):
        _timestamp("yesterday")
