"""Data Integrity proofs with the ``eddsa-rdfc-2022`` cryptosuite (W3C VC-DI-EDDSA), and Multikey encoding.

Pure functions: keys come in as ``cryptography`` objects, documents as dicts; nothing here reads settings
or the database, so the official test vector and the CLI's offline verification use the same code.
"""

from __future__ import annotations

import base64
import copy
import datetime as dt
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import base58
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from pyld import jsonld

from xblocks.certification.credentials import loader

PROOF_TYPE = "DataIntegrityProof"
CRYPTOSUITE = "eddsa-rdfc-2022"
ASSERTION_METHOD = "assertionMethod"
# Multicodec prefixes (varint) for Ed25519 public and private keys inside Multikey values.
_ED25519_PUB = b"\xed\x01"
_ED25519_PRIV = b"\x80\x26"


class ProofError(ValueError):
    """A proof is malformed, uses an unsupported suite, names an unknown key or does not verify."""


# --- Multikey ---------------------------------------------------------------------------------------


def public_key_multibase(key: Ed25519PublicKey) -> str:
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58.b58encode(_ED25519_PUB + raw).decode("ascii")


def secret_key_multibase(key: Ed25519PrivateKey) -> str:
    seed = key.private_bytes(serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    pub = key.public_key().public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "z" + base58.b58encode(_ED25519_PRIV + seed + pub).decode("ascii")


def _multibase_bytes(value: str) -> bytes:
    if not isinstance(value, str) or not value.startswith("z"):
        raise ProofError("only base58btc multibase values (prefix 'z') are supported")
    try:
        return base58.b58decode(value[1:])
    except ValueError as error:
        raise ProofError("invalid base58btc value") from error


def public_key_from_multibase(value: str) -> Ed25519PublicKey:
    raw = _multibase_bytes(value)
    if len(raw) != 34 or raw[:2] != _ED25519_PUB:
        raise ProofError("publicKeyMultibase is not an Ed25519 public key")
    return Ed25519PublicKey.from_public_bytes(raw[2:])


def private_key_from_multibase(value: str) -> Ed25519PrivateKey:
    raw = _multibase_bytes(value)
    if len(raw) not in (34, 66) or raw[:2] != _ED25519_PRIV:
        raise ProofError("secretKeyMultibase is not an Ed25519 private key")
    key = Ed25519PrivateKey.from_private_bytes(raw[2:34])
    if len(raw) == 66 and raw[34:] != key.public_key().public_bytes(
        serialization.Encoding.Raw, serialization.PublicFormat.Raw
    ):
        raise ProofError("secretKeyMultibase carries a public key that does not match its seed")
    return key


def private_key_from_seed_hex(seed_hex: str) -> Ed25519PrivateKey:
    # The spec prints a 64-byte "private key" (seed then public key); the seed is its first half.
    raw = bytes.fromhex(seed_hex.strip())
    if len(raw) not in (32, 64):
        raise ProofError("an Ed25519 seed is 32 bytes (64 hex digits)")
    return Ed25519PrivateKey.from_private_bytes(raw[:32])


def public_key_jwk(key: Ed25519PublicKey) -> dict[str, str]:
    """RFC 8037 OKP JWK of an Ed25519 public key (no private part)."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return {"kty": "OKP", "crv": "Ed25519", "x": base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")}


def jwk_thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint of the key's JWK (SHA-256 of its required members, sorted, no whitespace)."""
    jwk = public_key_jwk(key)
    canonical = json.dumps({name: jwk[name] for name in ("crv", "kty", "x")}, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(hashlib.sha256(canonical.encode("ascii")).digest()).decode("ascii").rstrip("=")


def json_web_key(controller: str, key: Ed25519PublicKey) -> dict[str, Any]:
    """The key as a Controlled Identifiers ``JsonWebKey`` method, ``<controller>#<JWK thumbprint>``.

    A verification method carries one form of its key material (CID 1.0), so the JWK a VC-JWT ``kid``
    dereferences to is a method of its own beside the Multikey one.
    """
    return {
        "id": f"{controller}#{jwk_thumbprint(key)}",
        "type": "JsonWebKey",
        "controller": controller,
        "publicKeyJwk": public_key_jwk(key),
    }


def verification_method_id(controller: str, key: Ed25519PublicKey) -> str:
    """``<controller>#<publicKeyMultibase>``, the usual Multikey verification method id."""
    return f"{controller}#{public_key_multibase(key)}"


def multikey(controller: str, key: Ed25519PublicKey, **extra: Any) -> dict[str, Any]:
    return {
        "id": verification_method_id(controller, key),
        "type": "Multikey",
        "controller": controller,
        "publicKeyMultibase": public_key_multibase(key),
        **extra,
    }


# --- eddsa-rdfc-2022 --------------------------------------------------------------------------------


@dataclass(frozen=True)
class HashData:
    """The intermediate values of the suite, exposed so tests can compare them with the test vector."""

    canonical_document: str
    canonical_proof: str
    document_hash: bytes
    proof_hash: bytes

    @property
    def data(self) -> bytes:
        # VC-DI-EDDSA 3.3.4: the proof configuration hash comes first.
        return self.proof_hash + self.document_hash


def _now() -> str:
    return dt.datetime.now(dt.UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def proof_options(verification_method: str, *, created: str | None = None, purpose: str = ASSERTION_METHOD) -> dict:
    return {
        "type": PROOF_TYPE,
        "created": created or _now(),
        "verificationMethod": verification_method,
        "cryptosuite": CRYPTOSUITE,
        "proofPurpose": purpose,
    }


def hash_data(document: dict[str, Any], options: dict[str, Any]) -> HashData:
    """Canonicalise and hash the unsecured document and the proof configuration (VC-DI-EDDSA 3.3.3-3.3.4)."""
    unsecured = {key: value for key, value in document.items() if key != "proof"}
    config = {key: value for key, value in options.items() if key != "proofValue"}
    # A proof configuration without @context canonicalises to nothing (pyld raises no error): it must
    # carry the document's context.
    config["@context"] = copy.deepcopy(document.get("@context"))
    if not config["@context"]:
        raise ProofError("the document has no @context")
    try:
        canonical_document = loader.canonicalize(unsecured)
        canonical_proof = loader.canonicalize(config)
    except jsonld.JsonLdError as error:
        raise ProofError(f"canonicalization failed: {_message(error)}") from error
    return HashData(
        canonical_document=canonical_document,
        canonical_proof=canonical_proof,
        document_hash=hashlib.sha256(canonical_document.encode("utf-8")).digest(),
        proof_hash=hashlib.sha256(canonical_proof.encode("utf-8")).digest(),
    )


def _message(error: BaseException) -> str:
    while isinstance(error, jsonld.JsonLdError) and isinstance(error.__cause__, jsonld.JsonLdError):
        error = error.__cause__
    return str(error.args[0]) if error.args else type(error).__name__


def sign(
    document: dict[str, Any],
    key: Ed25519PrivateKey,
    verification_method: str,
    *,
    created: str | None = None,
) -> dict[str, Any]:
    """Return a copy of ``document`` with an ``eddsa-rdfc-2022`` DataIntegrityProof added."""
    options = proof_options(verification_method, created=created)
    hashed = hash_data(document, options)
    signature = key.sign(hashed.data)
    signed = {key_: value for key_, value in copy.deepcopy(document).items() if key_ != "proof"}
    signed["proof"] = {**options, "proofValue": "z" + base58.b58encode(signature).decode("ascii")}
    return signed


KeyResolver = Callable[[str], Ed25519PublicKey | None]


@dataclass(frozen=True)
class ProofCheck:
    ok: bool
    verification_method: str
    message: str


def verify(document: dict[str, Any], resolve_key: KeyResolver) -> ProofCheck:
    """Check the document's ``eddsa-rdfc-2022`` proof; ``resolve_key(vm_id)`` returns a trusted key or None.

    The resolver decides trust: it must only return keys the verifier knows belong to the issuer.
    """
    proofs = document.get("proof")
    if proofs is None:
        return ProofCheck(False, "", "the credential has no embedded proof")
    candidates = proofs if isinstance(proofs, list) else [proofs]
    last = ProofCheck(False, "", "no eddsa-rdfc-2022 proof")
    for proof in candidates:
        if not isinstance(proof, dict) or proof.get("type") != PROOF_TYPE or proof.get("cryptosuite") != CRYPTOSUITE:
            continue
        last = _verify_one(document, proof, resolve_key)
        if last.ok:
            return last
    return last


def _verify_one(document: dict[str, Any], proof: dict[str, Any], resolve_key: KeyResolver) -> ProofCheck:
    method = str(proof.get("verificationMethod") or "")
    if proof.get("proofPurpose") != ASSERTION_METHOD:
        return ProofCheck(False, method, "the proof purpose is not assertionMethod")
    if "@context" in proof and proof["@context"] != document.get("@context"):
        return ProofCheck(False, method, "the proof's @context differs from the credential's")
    try:
        key = resolve_key(method)
    except ProofError as error:
        return ProofCheck(False, method, str(error))
    if key is None:
        return ProofCheck(False, method, "the verification method is not a known key of this issuer")
    value = proof.get("proofValue")
    try:
        signature = _multibase_bytes(value)
    except ProofError as error:
        return ProofCheck(False, method, f"proofValue: {error}")
    if len(signature) != 64:
        return ProofCheck(False, method, "proofValue is not a 64-byte Ed25519 signature")
    try:
        hashed = hash_data(document, proof)
    except ProofError as error:
        return ProofCheck(False, method, str(error))
    try:
        key.verify(signature, hashed.data)
    except InvalidSignature:
        return ProofCheck(False, method, "the signature does not match the credential (altered or wrong key)")
    return ProofCheck(True, method, "valid eddsa-rdfc-2022 proof")
