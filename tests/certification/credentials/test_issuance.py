"""Signing a certificate's credential: the OB 3.0 shape, idempotence, keys, rotation, status, VC-JWT."""

import copy
import datetime as dt
import hashlib
import json

import pytest
from django.utils import timezone

from xblocks.certification.credentials import api, keyring, loader, proofs, statuslist
from xblocks.certification.credentials.api import employers, links, signing

pytestmark = [pytest.mark.django_db, pytest.mark.mariadb]


def test_credential_has_the_required_open_badges_fields(certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    assert document["@context"] == [loader.VC_V2, loader.OB_V3]
    assert document["type"] == ["VerifiableCredential", "OpenBadgeCredential"]
    assert document["id"].startswith("urn:uuid:")
    assert document["issuer"]["id"] == api.issuer_url("ecole-nord")
    assert document["issuer"]["name"] == "École du Nord"
    subject = document["credentialSubject"]
    achievement = subject["achievement"]
    assert achievement["achievementType"] == "Certification"
    assert achievement["version"] == "2"
    assert achievement["id"] == api.achievement_url("cloud-ops", 2)
    assert achievement["creditsAvailable"] == 120.0
    assert subject["creditsEarned"] == 126.5
    assert subject["licenseNumber"] == "KAF-2026-000005"
    assert [r.get("value") or r.get("status") for r in subject["result"]] == ["82", "Completed"]
    assert document["validFrom"].endswith("T00:00:00Z")
    assert document["validUntil"].endswith("T23:59:59Z")
    status = document["credentialStatus"]
    assert isinstance(status, dict), "the OB 3.0 schema allows one credentialStatus object"
    assert status["statusPurpose"] == "message" and status["statusSize"] == 2
    assert {(m["status"], m["message"]) for m in status["statusMessage"]} == {
        ("0x0", "valid"),
        ("0x1", "suspended"),
        ("0x2", "revoked"),
        ("0x3", "revoked"),
    }


def test_learner_is_identified_by_a_salted_email_hash_never_the_email(certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    text = json.dumps(document).lower()
    assert "amina.benali@example.org" not in text
    identity = document["credentialSubject"]["identifier"][0]
    assert identity["hashed"] is True and identity["identityType"] == "emailAddress"
    # the salt is random per credential and printed beside the hash, as OB 3.0 verifiers expect
    salt = api.identity_salt(certificate.id)
    assert len(salt) == 32 and identity["salt"] == salt
    expected = "sha256$" + hashlib.sha256(("amina.benali@example.org" + salt).encode()).hexdigest()
    assert identity["identityHash"] == expected


def test_two_credentials_of_one_learner_have_different_salts_and_hashes(certificates):
    first = certificates.add()
    second = certificates.add(id=first.id + 1, number="KAF-2026-000099", learner=first.learner)
    hashes = [api.credential_json(c.id)["credentialSubject"]["identifier"][0]["identityHash"] for c in (first, second)]
    salts = [api.identity_salt(c.id) for c in (first, second)]
    assert salts[0] != salts[1] and hashes[0] != hashes[1]
    assert all(api.verify_credential(api.credential_json(c.id)).ok for c in (first, second))
    # the issuer still proves the recipient (bulk verification's e-mail column uses the kept salt)
    assert employers._email_matches(first.id, "Amina.Benali@example.org")
    assert not employers._email_matches(first.id, "someone@example.org")


def test_a_verifier_matches_the_recipient_with_the_printed_salt(certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    assert api.verify_credential(document, recipient_email="amina.benali@example.org").ok
    assert not api.verify_credential(document, recipient_email="someone@example.org").ok


def test_an_operator_may_keep_the_salt_with_the_issuer(certificates, settings):
    settings.KAFAAT = {**settings.KAFAAT, "IDENTITY_SALT_IN_CREDENTIAL": False}
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    identity = document["credentialSubject"]["identifier"][0]
    assert "salt" not in identity and api.identity_salt(certificate.id) not in json.dumps(document)
    # the issuer still proves the recipient (bulk verification's e-mail column uses the kept salt)
    assert employers._email_matches(certificate.id, "Amina.Benali@example.org")


def test_credentials_signed_with_a_printed_salt_keep_verifying(certificates):
    from xblocks.certification.credentials.models import SignedCredential

    certificate = certificates.add()
    api.credential_json(certificate.id)
    # as signed before salts were kept: the document printed its salt, the row kept none
    SignedCredential.objects.filter(certificate_id=certificate.id).update(identity_salt="")
    row = SignedCredential.objects.get(certificate_id=certificate.id)
    legacy_salt = "0123456789abcdef0123456789abcdef"
    unsigned = {k: v for k, v in row.document.items() if k != "proof"}
    identity = unsigned["credentialSubject"]["identifier"][0]
    identity["salt"] = legacy_salt
    identity["identityHash"] = (
        "sha256$" + hashlib.sha256(("amina.benali@example.org" + legacy_salt).encode()).hexdigest()
    )
    signed, _method = signing._sign_document(unsigned, row.issuer)
    SignedCredential.objects.filter(pk=row.pk).update(document=signed)
    assert api.verify_credential(signed, recipient_email="amina.benali@example.org").ok
    assert api.identity_salt(certificate.id) == legacy_salt
    assert employers._email_matches(certificate.id, "amina.benali@example.org")


def test_signing_twice_returns_the_same_credential(certificates):
    certificate = certificates.add()
    first = api.credential_json(certificate.id)
    second = api.issue_credential(certificate.id)
    assert first == second


def test_the_credential_verifies_with_an_independent_recanonicalization(certificates):
    """Re-derive the signed bytes with pyld and the shipped contexts only, then check the Ed25519 signature."""
    import base58
    from pyld import jsonld

    certificate = certificates.add()
    document = api.credential_json(certificate.id)

    def load(url, options=None):
        return {"contextUrl": None, "documentUrl": url, "document": loader.context_document(url)}

    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": load}
    body = {k: v for k, v in document.items() if k != "proof"}
    config = {k: v for k, v in document["proof"].items() if k != "proofValue"}
    config["@context"] = document["@context"]
    data = (
        hashlib.sha256(jsonld.normalize(config, options).encode()).digest()
        + hashlib.sha256(jsonld.normalize(body, options).encode()).digest()
    )
    multibase = document["proof"]["verificationMethod"].split("#", 1)[1]
    public = proofs.public_key_from_multibase(multibase)
    public.verify(base58.b58decode(document["proof"]["proofValue"][1:]), data)  # raises if it does not match
    assert document["proof"]["cryptosuite"] == "eddsa-rdfc-2022"


def test_a_fresh_credential_verifies_as_active(certificates):
    certificate = certificates.add()
    result = api.verify_credential(api.credential_json(certificate.id))
    assert result.ok, result.checks
    assert result.status == "active"
    assert [name for name, _, _ in result.checks] == ["conformance", "proof", "validity", "status"]


@pytest.mark.parametrize(
    "tamper",
    [
        lambda d: d["credentialSubject"].__setitem__("creditsEarned", 500.0),
        lambda d: d["credentialSubject"]["achievement"].__setitem__("name", "Chief Architect"),
        lambda d: d.__setitem__("validUntil", "2099-12-31T23:59:59Z"),
        lambda d: d["credentialSubject"].__setitem__("licenseNumber", "KAF-2026-999999"),
        lambda d: d.__delitem__("credentialStatus"),
        lambda d: d["credentialStatus"]["statusMessage"][1].__setitem__("message", "valid"),
    ],
    ids=["hours", "title", "validity", "number", "status-removed", "suspension-renamed"],
)
def test_a_tampered_credential_fails_the_proof_check(certificates, tamper):
    certificate = certificates.add()
    document = copy.deepcopy(api.credential_json(certificate.id))
    tamper(document)
    result = api.verify_credential(document)
    assert not result.ok
    assert ("proof", False) in [(name, ok) for name, ok, _ in result.checks]


def test_a_credential_signed_with_a_key_the_issuer_never_had_fails(certificates):
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    rogue = Ed25519PrivateKey.generate()
    forged = proofs.sign(document, rogue, proofs.verification_method_id(document["issuer"]["id"], rogue.public_key()))
    result = api.verify_credential(forged)
    assert not result.ok
    assert "not a known key" in result.reason


def test_revoked_certificate_reports_revoked(certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    assert api.apply_status(certificate.id, "revoked")
    result = api.verify_credential(document)
    assert not result.ok
    assert result.status == "revoked"
    assert "revoked" in result.reason


def test_suspension_is_reversible_and_revocation_is_not(certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    api.apply_status(certificate.id, "suspended")
    assert api.verify_credential(document).status == "suspended"
    api.apply_status(certificate.id, "active")
    assert api.verify_credential(document).status == "active"
    api.apply_status(certificate.id, "revoked")
    api.apply_status(certificate.id, "active")
    assert api.verify_credential(document).status == "revoked"


def test_a_certificate_revoked_before_signing_is_signed_with_its_bit_set(certificates):
    certificate = certificates.add(status="revoked")
    assert api.verify_credential(api.credential_json(certificate.id)).status == "revoked"


def test_expired_and_not_yet_valid_credentials_fail_on_dates(certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    later = timezone.now() + dt.timedelta(days=800)
    earlier = timezone.now() - dt.timedelta(days=30)
    assert api.verify_credential(document, now=later).status == "expired"
    assert api.verify_credential(document, now=earlier).status == "not-yet-valid"
    assert not api.verify_credential(document, now=later).ok


def test_status_list_is_a_signed_bitstring_of_at_least_131072_entries(certificates):
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    entry = document["credentialStatus"]
    key = links._status_list_key(entry["statusListCredential"])

    def slot() -> tuple[int, int]:
        listing = api.status_list_document(*key)
        assert proofs.verify(listing, signing._resolver_for(listing["issuer"])).ok
        assert listing["credentialSubject"]["statusPurpose"] == "message"
        bits = statuslist.decode(listing["credentialSubject"]["encodedList"])
        index = int(entry["statusListIndex"])
        # Two bits per credential at index * statusSize, most significant first (the spec's reading).
        return len(bits) * 8, statuslist.get_bit(bits, 2 * index) * 2 + statuslist.get_bit(bits, 2 * index + 1)

    size, value = slot()
    assert size // 2 >= 131072 and value == 0
    api.apply_status(certificate.id, "suspended")
    assert slot()[1] == 1
    api.apply_status(certificate.id, "revoked")
    assert slot()[1] == 2


def test_credentials_signed_with_two_status_entries_keep_their_status(certificates):
    """Credentials signed before one entry per credential name a revocation and a suspension list."""
    from xblocks.certification.credentials.models import SignedCredential, StatusPurpose

    certificate = certificates.add()
    api.credential_json(certificate.id)
    row = SignedCredential.objects.get(certificate_id=certificate.id)
    revocation_list, revocation_index = statuslist.allocate("ecole-nord", StatusPurpose.REVOCATION)
    suspension_list, suspension_index = statuslist.allocate("ecole-nord", StatusPurpose.SUSPENSION)
    unsigned = {key: value for key, value in row.document.items() if key != "proof"}
    unsigned["credentialStatus"] = [
        statuslist.entry(
            api.status_list_url("ecole-nord", "revocation", revocation_list.sequence), revocation_index, "revocation"
        ),
        statuslist.entry(
            api.status_list_url("ecole-nord", "suspension", suspension_list.sequence), suspension_index, "suspension"
        ),
    ]
    row.document, _ = signing._sign_document(unsigned, "ecole-nord")
    row.status_list, row.status_index = None, None
    row.revocation_list, row.revocation_index = revocation_list, revocation_index
    row.suspension_list, row.suspension_index = suspension_list, suspension_index
    row.save()

    assert api.verify_credential(row.document).status == "active"
    api.apply_status(certificate.id, "suspended")
    assert api.verify_credential(row.document).status == "suspended"
    api.apply_status(certificate.id, "active")
    assert api.verify_credential(row.document).status == "active"
    api.apply_status(certificate.id, "revoked")
    api.apply_status(certificate.id, "active")
    assert api.verify_credential(row.document).status == "revoked"


def test_status_slots_are_drawn_at_random_not_in_issue_order(certificates):
    indexes = []
    for n in range(1, 9):
        certificate = certificates.add(id=100 + n, number=f"KAF-2026-{100 + n:06d}", learner=certificates.add().learner)
        entry = api.credential_json(certificate.id)["credentialStatus"]
        indexes.append(int(entry["statusListIndex"]))
    assert len(set(indexes)) == len(indexes)
    assert indexes != sorted(indexes) or max(indexes) - min(indexes) > 1000


def test_rotation_keeps_earlier_credentials_verifiable(certificates):
    first = certificates.add()
    old = api.credential_json(first.id)
    old_key = old["proof"]["verificationMethod"]
    api.rotate_key(keyring.signing_issuer("ecole-nord"))
    second = certificates.add(id=6, number="KAF-2026-000006")
    new = api.credential_json(second.id)
    assert new["proof"]["verificationMethod"] != old_key
    assert api.verify_credential(old).ok
    assert api.verify_credential(new).ok
    controller = api.controller_document("ecole-nord")
    assert {m["id"] for m in controller["verificationMethod"]} >= {old_key, new["proof"]["verificationMethod"]}


def test_keys_from_settings_sign_and_the_seed_is_never_in_the_credential(certificates, settings):
    seed = "6241a409e6707bb640a0140a8a32bc3d193c33a661747284d6adfa4ed4180be4"
    settings.KAFAAT = {**settings.KAFAAT, "CREDENTIAL_KEYS": {"ecole-nord": {"seed_hex": seed}}}
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    assert document["proof"]["verificationMethod"].endswith("#z6MkjZRZv3aez3r18pB1RBFJR1kwUVJ5jHt92JmQwXbd5hwi")
    assert seed not in json.dumps(document)
    assert api.verify_credential(document).ok


def test_vc_jwt_verifies_and_a_tampered_payload_fails(certificates):
    certificate = certificates.add()
    token = api.credential_jwt(certificate.id)
    header, payload, signature = token.split(".")
    result = api.verify_credential(token)
    assert result.ok, result.checks
    import base64

    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    assert claims["iss"] == api.issuer_url("ecole-nord")
    assert claims["jti"] == claims["id"] and claims["sub"] == claims["credentialSubject"]["id"]
    claims["creditsEarned"] = 999.0
    forged_payload = base64.urlsafe_b64encode(json.dumps(claims).encode()).decode().rstrip("=")
    assert not api.verify_credential(f"{header}.{forged_payload}.{signature}").ok


def test_an_endorsement_by_the_employer_is_embedded_and_verified(certificates):
    api.endorse_track(
        "cloud-ops",
        2,
        "Cloud Operations Associate",
        endorser="acme",
        endorser_name="ACME Insurance",
        comment="We hire graduates of this track.",
    )
    certificate = certificates.add()
    document = api.credential_json(certificate.id)
    endorsement = document["credentialSubject"]["achievement"]["endorsement"][0]
    assert "EndorsementCredential" in endorsement["type"]
    result = api.verify_credential(document)
    assert result.ok and ("endorsement", True) in [(n, ok) for n, ok, _ in result.checks]


def test_a_certificate_without_a_school_is_issued_by_the_platform(certificates):
    from xblocks.certification.data import SchoolData

    certificate = certificates.add(school=SchoolData(0, "", "", "", "", "", ""), cohort_id=None)
    document = api.credential_json(certificate.id)
    assert document["issuer"]["id"] == api.issuer_url("default")
    assert document["issuer"]["name"] == "Kafaat"
    assert api.verify_credential(document).ok
