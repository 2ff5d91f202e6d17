"""The eddsa-rdfc-2022 suite against the official Open Badges 3.0 test vector, byte for byte."""

import base64
import copy
import hashlib
import json
import pathlib

import base58
import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xblocks.certification.credentials import loader, proofs

VECTOR_DIR = pathlib.Path(__file__).resolve().parents[2] / "fixtures" / "ob3"


@pytest.fixture(scope="module")
def vector():
    return json.loads((VECTOR_DIR / "vector.json").read_text(encoding="utf-8"))


@pytest.fixture()
def unsigned():
    return json.loads((VECTOR_DIR / "unsigned-credential.json").read_text(encoding="utf-8"))


@pytest.fixture()
def signed():
    return json.loads((VECTOR_DIR / "signed-credential.json").read_text(encoding="utf-8"))


def _resolver(vector):
    known = {vector["verificationMethod"]: proofs.public_key_from_multibase(vector["keyPair"]["publicKeyMultibase"])}
    return known.get


def test_document_canonicalizes_to_the_vectors_nquads_byte_for_byte(unsigned):
    assert loader.canonicalize(unsigned).encode("utf-8") == (VECTOR_DIR / "document-canon.txt").read_bytes()


def test_proof_configuration_canonicalizes_to_the_vectors_nquads(unsigned, vector):
    hashed = proofs.hash_data(unsigned, vector["proofOptions"])
    assert hashed.canonical_proof.encode("utf-8") == (VECTOR_DIR / "proof-canon.txt").read_bytes()
    assert hashed.document_hash.hex() == vector["expected"]["documentHashHex"]
    assert hashed.proof_hash.hex() == vector["expected"]["proofHashHex"]
    assert hashed.data.hex() == vector["expected"]["hashDataHex"]


def test_signing_reproduces_the_vectors_proof_value(unsigned, signed, vector):
    key = proofs.private_key_from_seed_hex(vector["keyPair"]["privateKeySeedHex"])
    result = proofs.sign(unsigned, key, vector["verificationMethod"], created=vector["created"])
    assert result["proof"]["proofValue"] == vector["expected"]["proofValue"]
    assert base58.b58decode(result["proof"]["proofValue"][1:]).hex() == vector["expected"]["signatureHex"]
    assert result == signed


def test_multikey_encodings_match_the_vector(vector):
    key = proofs.private_key_from_seed_hex(vector["keyPair"]["privateKeyHex64_seedThenPublic"])
    assert proofs.public_key_multibase(key.public_key()) == vector["keyPair"]["publicKeyMultibase"]
    assert proofs.secret_key_multibase(key) == vector["keyPair"]["secretKeyMultibase"]
    again = proofs.private_key_from_multibase(vector["keyPair"]["secretKeyMultibase"])
    assert proofs.public_key_multibase(again.public_key()) == vector["keyPair"]["publicKeyMultibase"]


def test_the_vectors_signed_credential_verifies(signed, vector):
    check = proofs.verify(signed, _resolver(vector))
    assert check.ok, check.message


def test_an_independent_recanonicalization_checks_the_signature(signed, vector):
    """Re-derive the signed bytes with pyld directly (not through our loader helpers) and verify them."""
    from pyld import jsonld

    contexts = {
        url: json.loads(
            (VECTOR_DIR.parents[1].parent / "xblocks/certification/credentials/contexts" / name).read_text(
                encoding="utf-8"
            )
        )
        for url, name in loader.CONTEXT_FILES.items()
    }

    def load(url, options=None):
        return {"contextUrl": None, "documentUrl": url, "document": copy.deepcopy(contexts[url])}

    options = {"algorithm": "URDNA2015", "format": "application/n-quads", "documentLoader": load}
    body = {k: v for k, v in signed.items() if k != "proof"}
    config = {k: v for k, v in signed["proof"].items() if k != "proofValue"}
    config["@context"] = signed["@context"]
    data = (
        hashlib.sha256(jsonld.normalize(config, options).encode()).digest()
        + hashlib.sha256(jsonld.normalize(body, options).encode()).digest()
    )
    public = proofs.public_key_from_multibase(vector["keyPair"]["publicKeyMultibase"])
    public.verify(base58.b58decode(signed["proof"]["proofValue"][1:]), data)


@pytest.mark.parametrize(
    "tamper",
    [
        lambda doc: doc["credentialSubject"]["achievement"].__setitem__("name", "Leadership"),
        lambda doc: doc.__setitem__("validFrom", "2009-01-01T00:00:00Z"),
        lambda doc: doc["issuer"].__setitem__("name", "Another Corp"),
        lambda doc: doc["proof"].__setitem__("created", "2011-01-01T19:23:24Z"),
        lambda doc: doc.__setitem__("grade", "A+"),  # undefined term: JSON-LD would drop it silently
        lambda doc: doc["credentialSubject"]["type"].append("Sneaky"),
    ],
    ids=["achievement-name", "valid-from", "issuer-name", "proof-created", "undefined-term", "relative-type"],
)
def test_a_tampered_credential_fails(signed, vector, tamper):
    tamper(signed)
    check = proofs.verify(signed, _resolver(vector))
    assert not check.ok


def test_an_unknown_key_is_refused_even_when_the_signature_matches_it(unsigned):
    rogue = Ed25519PrivateKey.generate()
    method = proofs.verification_method_id("https://example.edu/issuers/565049", rogue.public_key())
    forged = proofs.sign(unsigned, rogue, method)
    check = proofs.verify(forged, lambda vm: None)
    assert not check.ok
    assert "not a known key" in check.message


def test_the_loader_refuses_remote_contexts(unsigned):
    unsigned["@context"].append("https://attacker.example/context.json")
    with pytest.raises(Exception) as caught:
        loader.canonicalize(unsigned)
    assert "attacker.example" in repr(caught.value) or "attacker.example" in repr(caught.value.__cause__)


def test_jwk_thumbprint_matches_the_rfc_8037_example():
    """RFC 8037 appendix A.3: the Ed25519 key of A.2 has this RFC 7638 thumbprint (the JsonWebKey method id)."""
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    raw = base64.urlsafe_b64decode("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo=")
    key = Ed25519PublicKey.from_public_bytes(raw)
    assert proofs.jwk_thumbprint(key) == "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    method = proofs.json_web_key("https://issuer.example/", key)
    assert method["id"] == "https://issuer.example/#kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"
    assert method["type"] == "JsonWebKey" and set(method["publicKeyJwk"]) == {"kty", "crv", "x"}
