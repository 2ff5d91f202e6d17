"""``kafaat cert credential`` and ``kafaat cert verify``: print a signed credential, check a file offline."""

import json
import socket

import pytest

from xblocks import cli
from xblocks.certification.credentials import api
from xblocks.certification.credentials.api import signing

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]


@pytest.fixture
def no_network(monkeypatch):
    def refuse(*args, **kwargs):
        raise OSError("network access attempted during an offline verification")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)  # no DNS query leaves the machine either


@pytest.fixture
def real_lookup(monkeypatch, certificates):
    """The CLI looks certificates up through the certification api: route it to the test store."""
    monkeypatch.setattr("xblocks.certification.api.get_certificate", certificates.get)
    return certificates


def test_credential_command_prints_the_signed_credential(real_lookup, capsys):
    certificate = real_lookup.add()
    assert cli.main(["cert", "credential", certificate.number]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == api.credential_json(certificate.id)
    assert printed["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


def test_credential_command_fails_for_an_unknown_number(real_lookup, capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["cert", "credential", "KAF-0000-000000"])
    assert exit_info.value.code == 2


def test_verify_command_accepts_a_valid_file_offline(real_lookup, tmp_path, capsys, no_network):
    certificate = real_lookup.add()
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(api.credential_json(certificate.id)), encoding="utf-8")
    assert cli.main(["cert", "verify", str(path)]) == 0
    out = capsys.readouterr().out
    assert "[ok] proof" in out and "[ok] status" in out and "VALID" in out


def test_verify_command_accepts_the_jwt_form(real_lookup, tmp_path, capsys, no_network):
    certificate = real_lookup.add()
    path = tmp_path / "credential.jwt"
    path.write_text(api.credential_jwt(certificate.id), encoding="utf-8")
    assert cli.main(["cert", "verify", str(path)]) == 0


def test_verify_command_fails_with_the_reason_on_a_tampered_file(real_lookup, tmp_path, capsys, no_network):
    certificate = real_lookup.add()
    document = api.credential_json(certificate.id)
    document["credentialSubject"]["creditsEarned"] = 900.0
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(document), encoding="utf-8")
    assert cli.main(["cert", "verify", str(path)]) == 1
    assert "FAILED: the signature does not match" in capsys.readouterr().err


def test_verify_command_reports_a_revoked_credential(real_lookup, tmp_path, capsys, no_network):
    certificate = real_lookup.add()
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(api.credential_json(certificate.id)), encoding="utf-8")
    api.apply_status(certificate.id, "revoked")
    assert cli.main(["cert", "verify", str(path)]) == 1
    captured = capsys.readouterr()
    assert "status: revoked" in captured.out and "FAILED: revoked" in captured.err


def test_verify_command_refuses_a_file_that_is_not_a_credential(tmp_path, capsys, db):
    path = tmp_path / "nonsense.json"
    path.write_text('{"hello": "world"}', encoding="utf-8")
    assert cli.main(["cert", "verify", str(path)]) == 1
    assert "FAILED" in capsys.readouterr().err


def test_rotate_key_command_makes_a_new_key_and_old_credentials_still_verify(real_lookup, tmp_path, capsys):
    certificate = real_lookup.add()
    document = api.credential_json(certificate.id)
    assert cli.main(["cert", "rotate-key", "default"]) == 0
    assert "new signing key for default" in capsys.readouterr().out
    assert api.verify_credential(document).ok


def test_verify_command_checks_the_recipient_email(real_lookup, tmp_path, capsys, no_network, settings):
    settings.KAFAAT = {**settings.KAFAAT, "IDENTITY_SALT_IN_CREDENTIAL": False}
    certificate = real_lookup.add()
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(api.credential_json(certificate.id)), encoding="utf-8")
    assert cli.main(["cert", "verify", str(path)]) == 0  # the proof holds whatever the salt
    capsys.readouterr()
    # an issuer that keeps the salt: a guessed address cannot be confirmed without it
    assert cli.main(["cert", "verify", str(path), "--email", "amina.benali@example.org"]) == 1
    assert "salt private" in capsys.readouterr().out
    salt = api.identity_salt(certificate.id)
    assert cli.main(["cert", "verify", str(path), "--email", " AMINA.benali@example.org", "--salt", salt]) == 0
    assert "[ok] recipient" in capsys.readouterr().out
    assert cli.main(["cert", "verify", str(path), "--email", "someone@example.org", "--salt", salt]) == 1
    assert "not issued to this email" in capsys.readouterr().err


def test_verify_command_passes_with_a_note_when_a_remote_status_list_is_unreachable(
    real_lookup, tmp_path, capsys, no_network
):
    from xblocks.certification.credentials import openbadges

    certificate = real_lookup.add()
    links = openbadges.CredentialLinks(
        "urn:uuid:7c1b0a52-3f0e-4c1e-9d55-0b1f3e2a7c11",
        api.issuer_url("ecole-nord"),
        "École du Nord",
        api.achievement_url("cloud-ops", 2),
        api.verification_url(certificate.number),
        api.subject_id(7),
    )
    remote = {
        "id": "https://status.example.org/lists/1#42",
        "type": "BitstringStatusListEntry",
        "statusPurpose": "revocation",
        "statusListIndex": "42",
        "statusListCredential": "https://status.example.org/lists/1",
    }
    unsigned = openbadges.build(certificate, links, salt="x" * 32, status_entry=remote)
    signed, _ = signing._sign_document(unsigned, "ecole-nord")
    path = tmp_path / "credential.json"
    path.write_text(json.dumps(signed), encoding="utf-8")
    assert cli.main(["cert", "verify", str(path)]) == 0
    assert "status not checked" in capsys.readouterr().out


@pytest.mark.parametrize("content", ["hello world", "<credential/>", "a.b", ""])
def test_verify_command_names_a_file_that_is_no_credential_at_all(tmp_path, capsys, content):
    path = tmp_path / "garbage.txt"
    path.write_text(content, encoding="utf-8")
    assert cli.main(["cert", "verify", str(path), "--offline"]) == 2
    assert "neither a JSON credential nor a VC-JWT" in capsys.readouterr().err
