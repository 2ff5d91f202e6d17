"""Abuse cases: forged tokens, foreign keys and contexts, status list bombs, replayed tasks."""

import base64
import gzip
import json

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xblocks.certification.credentials import api, keyring, proofs, statuslist, tasks
from xblocks.certification.credentials.api import documents, links
from xblocks.certification.credentials.models import SignedCredential

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def _parts(token: str) -> tuple[dict, dict]:
    header, payload, _ = token.split(".")
    return (
        json.loads(base64.urlsafe_b64decode(header + "=" * (-len(header) % 4))),
        json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))),
    )


def test_jwt_with_alg_none_is_refused(certificates):
    certificate = certificates.add()
    header, payload = _parts(api.credential_jwt(certificate.id))
    header["alg"] = "none"
    forged = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}."
    result = api.verify_credential(forged)
    assert not result.ok and "algorithm" in result.reason


def test_jwt_signed_by_an_embedded_attacker_jwk_is_refused(certificates):
    certificate = certificates.add()
    _, payload = _parts(api.credential_jwt(certificate.id))
    payload.pop("proof")
    rogue = Ed25519PrivateKey.generate()
    raw = rogue.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    header = {"alg": "EdDSA", "typ": "JWT", "jwk": {"kty": "OKP", "crv": "Ed25519", "x": _b64(raw)}}
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(payload).encode())}"
    forged = f"{signing_input}.{_b64(rogue.sign(signing_input.encode()))}"
    result = api.verify_credential(forged)
    assert not result.ok and "jwk" in result.reason


def test_a_credential_claiming_another_issuer_with_our_key_fails(certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    method = document["proof"]["verificationMethod"]
    document = {k: v for k, v in document.items() if k != "proof"}
    document["issuer"] = {**document["issuer"], "id": api.issuer_url("another-school")}
    # The signature is made by someone holding the key, but the key is not another-school's.
    key = proofs.private_key_from_multibase(
        json.loads(next(iter((keyring.key_dir()).glob("*.json"))).read_text())["keys"][0]["secretKeyMultibase"]
    )
    forged = proofs.sign(document, key, method)
    assert not api.verify_credential(forged).ok


def test_a_status_list_gzip_bomb_is_refused():
    bomb = gzip.compress(bytes(32 * 1024 * 1024))
    encoded = "u" + base64.urlsafe_b64encode(bomb).decode().rstrip("=")
    with pytest.raises(statuslist.StatusListError):
        statuslist.decode(encoded)


def test_a_status_entry_pointing_outside_the_list_is_an_error():
    document = statuslist.list_credential(
        "https://x.example/l/1",
        {"id": "https://x.example/i/"},
        "revocation",
        bytes(16384),
        "2026-01-01T00:00:00Z",
        1000,
    )
    entry = statuslist.entry("https://x.example/l/1", 131072, "revocation")
    with pytest.raises(statuslist.StatusListError):
        statuslist.read_entry(document, entry)
    entry = statuslist.entry("https://x.example/l/1", 5, "suspension")
    with pytest.raises(statuslist.StatusListError):
        statuslist.read_entry(document, entry)  # purposes must match


def test_signing_task_run_twice_keeps_one_credential(certificates):
    certificate = certificates.add()
    first = tasks.sign_credential.delay(certificate.id).get()
    second = tasks.sign_credential.delay(certificate.id).get()
    assert first == second
    assert SignedCredential.objects.filter(certificate_id=certificate.id).count() == 1


def test_status_task_run_twice_changes_the_bit_once(certificates):
    certificate = certificates.add()
    api.credential_json(certificate.id)
    assert tasks.apply_status.delay(certificate.id, "suspended").get() is True
    assert tasks.apply_status.delay(certificate.id, "suspended").get() is False


def test_tampered_signed_status_list_is_rejected(certificates, monkeypatch):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    entry = document["credentialStatus"]
    key = links._status_list_key(entry["statusListCredential"])
    listing = json.loads(json.dumps(api.status_list_document(*key)))
    bits = bytearray(statuslist.decode(listing["credentialSubject"]["encodedList"]))
    statuslist.set_value(bits, int(entry["statusListIndex"]), 2, statuslist.REVOKED)
    listing["credentialSubject"]["encodedList"] = statuslist.encode(bytes(bits))
    monkeypatch.setattr(documents, "status_list_document", lambda *args: listing)
    result = api.verify_credential(document)
    assert not result.ok and "status list's proof is invalid" in result.reason
