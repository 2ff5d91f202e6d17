"""The certificate event chain: every kind of tampering is detected and the broken event is named."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from xblocks.certification import api, models

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]


@pytest.fixture
def history(certified):
    """amina_a's certificate with four events: issued, suspended, reinstated, revoked."""
    cert = models.Certificate.objects.get(user=certified.learner("amina_a"))
    api.set_certificate_status(cert.pk, "suspended", reason="fees", actor="coord")
    api.set_certificate_status(cert.pk, "active", reason="paid", actor="coord")
    api.set_certificate_status(cert.pk, "revoked", reason="fraud", actor="coord")
    return cert, list(models.CertificateEvent.objects.filter(certificate=cert).order_by("seq"))


def test_an_untouched_chain_verifies(history):
    report = api.certificate_events_verified()
    assert report.ok
    assert report.checked == 5  # four for amina_a, one for lina_b


def test_an_edited_reason_is_detected_on_that_event(history):
    cert, events = history
    models.CertificateEvent.objects.filter(pk=events[3].pk).update(reason="clerical error")
    report = api.certificate_events_verified()
    assert [(p.event_id, p.certificate_id) for p in report.problems] == [(events[3].pk, cert.pk)]
    assert "edited" in report.problems[0].reason


def test_an_edit_with_a_recomputed_hash_breaks_the_next_link(history):
    from xblocks.certification.chain import event_hash  # pylint: disable=import-outside-toplevel

    cert, events = history
    forged = events[1]
    new_hash = event_hash(
        certificate_id=cert.pk,
        number=cert.number,
        seq=forged.seq,
        kind=forged.kind,
        status="active",
        reason=forged.reason,
        actor=forged.actor,
        at=forged.at,
        previous_hash=forged.previous_hash,
    )
    models.CertificateEvent.objects.filter(pk=forged.pk).update(status="active", hash=new_hash)
    problems = api.certificate_events_verified(cert.pk).problems
    assert [p.event_id for p in problems] == [events[2].pk]
    assert f"event {forged.pk}" in problems[0].reason


def test_a_deleted_middle_event_is_detected(history):
    cert, events = history
    models.CertificateEvent.objects.filter(pk=events[1].pk).delete()
    problems = api.certificate_events_verified(cert.pk).problems
    assert {p.event_id for p in problems} == {events[2].pk}
    assert any("deleted" in p.reason for p in problems)


def test_a_deleted_last_event_is_detected_through_the_head_hash(history):
    cert, events = history
    models.CertificateEvent.objects.filter(pk=events[3].pk).delete()
    problems = api.certificate_events_verified(cert.pk).problems
    assert [p.event_id for p in problems][0] == events[2].pk
    assert "events after it were deleted" in problems[0].reason


def test_reordered_events_are_detected(history):
    cert, events = history
    first, second = events[1], events[2]
    models.CertificateEvent.objects.filter(pk=first.pk).update(seq=99)
    models.CertificateEvent.objects.filter(pk=second.pk).update(seq=first.seq)
    models.CertificateEvent.objects.filter(pk=first.pk).update(seq=second.seq)
    problems = api.certificate_events_verified(cert.pk).problems
    named = {p.event_id for p in problems}
    assert {first.pk, second.pk} <= named


def test_a_certificate_status_edited_behind_the_chain_is_detected(history):
    cert, events = history
    models.Certificate.objects.filter(pk=cert.pk).update(status="active")
    problems = api.certificate_events_verified(cert.pk).problems
    assert [p.event_id for p in problems] == [events[3].pk]


def test_the_management_command_fails_and_names_the_event(history, capsys):
    cert, events = history
    call_command("kafaat_verify_chain")
    models.CertificateEvent.objects.filter(pk=events[0].pk).update(actor="someone else")
    with pytest.raises(CommandError):
        call_command("kafaat_verify_chain", "--certificate", cert.number)
    assert f"BROKEN event {events[0].pk}" in capsys.readouterr().out


def test_kafaat_cert_verify_chain_exits_non_zero_on_tampering(history, capsys, monkeypatch):
    from xblocks.certification import cli  # pylint: disable=import-outside-toplevel

    monkeypatch.setattr("xblocks.core.bootstrap.setup_django", lambda: None)
    import argparse  # pylint: disable=import-outside-toplevel

    parser = argparse.ArgumentParser()
    cli.register("cert", parser)
    args = parser.parse_args(["verify-chain"])
    assert args.func(args) == 0
    cert, events = history
    models.CertificateEvent.objects.filter(pk=events[2].pk).update(reason="x")
    assert args.func(args) == 1
    assert f"BROKEN event {events[2].pk}" in capsys.readouterr().out


def test_events_cannot_be_saved_over(history):
    from django.core.exceptions import ValidationError  # pylint: disable=import-outside-toplevel

    _cert, events = history
    events[0].reason = "rewritten"
    with pytest.raises(ValidationError):
        events[0].save()
