"""``kafaat cert revoke|suspend|reinstate NUMBER --reason ...``: the change, its audit event, clear errors."""

from __future__ import annotations

import argparse

import pytest

from xblocks.certification import api, cli, models

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]


def _run(argv, monkeypatch):
    monkeypatch.setattr("xblocks.core.bootstrap.setup_django", lambda: None)
    parser = argparse.ArgumentParser()
    cli.register("cert", parser)
    args = parser.parse_args(argv)
    return args.func(args)


@pytest.fixture
def number(certified):
    return models.Certificate.objects.get(user=certified.learner("amina_a")).number


def test_suspend_reinstate_and_revoke_record_the_reason_and_who(number, monkeypatch, capsys):
    assert _run(["suspend", number, "--reason", "fees unpaid", "--by", "registrar"], monkeypatch) == 0
    assert f"certificate {number} suspended (fees unpaid)" in capsys.readouterr().out
    assert _run(["reinstate", number, "--reason", "fees paid"], monkeypatch) == 0
    assert _run(["revoke", number, "--reason", "exam fraud"], monkeypatch) == 0
    cert = api.get_certificate(number)
    assert cert.status == "revoked"
    events = api.certificate_events(cert.id)
    assert [(e.kind, e.reason) for e in events[1:]] == [
        ("suspended", "fees unpaid"),
        ("reinstated", "fees paid"),
        ("revoked", "exam fraud"),
    ]
    assert events[1].actor == "registrar" and events[2].actor.startswith("cli:")


def test_an_unknown_number_is_a_clear_error(certified, monkeypatch, capsys):
    assert _run(["revoke", "KF-0000-99999", "--reason", "x"], monkeypatch) == 2
    assert "no certificate 'KF-0000-99999'" in capsys.readouterr().err


@pytest.mark.parametrize("reason", [None, "", "   "])
def test_a_missing_reason_is_a_clear_error_and_changes_nothing(number, monkeypatch, capsys, reason):
    argv = ["revoke", number] + ([] if reason is None else ["--reason", reason])
    assert _run(argv, monkeypatch) == 2
    assert "give the reason" in capsys.readouterr().err
    assert api.get_certificate(number).status == "active"


def test_revoking_twice_or_reinstating_a_revoked_certificate_is_refused(number, monkeypatch, capsys):
    assert _run(["revoke", number, "--reason", "fraud"], monkeypatch) == 0
    capsys.readouterr()
    assert _run(["revoke", number, "--reason", "again"], monkeypatch) == 1
    assert f"certificate {number} is already revoked" in capsys.readouterr().err
    assert _run(["reinstate", number, "--reason", "appeal"], monkeypatch) == 1
    assert "a revocation is final" in capsys.readouterr().err
    assert len(api.certificate_events(api.get_certificate(number).id)) == 2


def test_reinstating_an_active_certificate_is_refused(number, monkeypatch, capsys):
    assert _run(["reinstate", number, "--reason", "why not"], monkeypatch) == 1
    assert "only a suspended one can be reinstated" in capsys.readouterr().err
