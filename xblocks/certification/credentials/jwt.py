"""VC-JWT for Open Badges 3.0 (``integrity.md``, JSON Web Token Proof Format) with EdDSA (Ed25519).

The payload is the credential itself (with its embedded proof, added before the JWT is made) plus the
registered claims ``iss``, ``jti``, ``nbf``, ``sub`` and ``exp``; VC 1.1 tokens wrapping it in ``vc`` are
accepted when verifying.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from xblocks.certification.credentials.proofs import KeyResolver, ProofCheck

ALGORITHM = "EdDSA"
ALLOWED_HEADER = {"alg", "kid", "jwk", "typ"}


class JWTError(ValueError):
    """The token is malformed or its claims disagree with the credential."""


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError as error:
        raise JWTError("the token is not base64url") from error


def parse_datetime(value: str) -> dt.datetime:
    """An XML Schema dateTime as used in credentials (``Z`` or an offset; naive means UTC)."""
    parsed = dt.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=dt.UTC)


def _numeric(value: str) -> int:
    return int(parse_datetime(value).timestamp())


def claims(credential: dict[str, Any]) -> dict[str, Any]:
    subject = credential.get("credentialSubject") or {}
    issuer = credential.get("issuer")
    payload = dict(credential)
    payload.update(
        {
            "iss": issuer.get("id") if isinstance(issuer, dict) else issuer,
            "jti": credential["id"],
            "nbf": _numeric(credential["validFrom"]),
            "sub": subject.get("id"),
        }
    )
    if credential.get("validUntil"):
        payload["exp"] = _numeric(credential["validUntil"])
    return payload


def encode(credential: dict[str, Any], key: Ed25519PrivateKey, kid: str) -> str:
    header = {"alg": ALGORITHM, "kid": kid, "typ": "JWT"}
    signing_input = (
        _b64(json.dumps(header, separators=(",", ":")).encode())
        + "."
        + _b64(json.dumps(claims(credential), separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
    )
    return signing_input + "." + _b64(key.sign(signing_input.encode("ascii")))


def decode(token: str, resolve_key: KeyResolver, *, now: dt.datetime | None = None) -> tuple[dict, ProofCheck]:
    """Verify a VC-JWT; returns the credential and the check (``ok`` False with the reason on failure)."""
    parts = token.strip().split(".")
    if len(parts) != 3:
        raise JWTError("a compact JWS has three parts")
    try:
        header = json.loads(_unb64(parts[0]))
        payload = json.loads(_unb64(parts[1]))
    except ValueError as error:
        raise JWTError("the token header or payload is not JSON") from error
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise JWTError("the token header and payload must be JSON objects")
    credential = payload.get("vc") if isinstance(payload.get("vc"), dict) else payload
    credential = {k: v for k, v in credential.items() if k not in {"iss", "jti", "nbf", "sub", "exp", "iat"}}
    kid = str(header.get("kid") or "")

    def fail(message: str) -> tuple[dict, ProofCheck]:
        return credential, ProofCheck(False, kid, message)

    if header.get("alg") != ALGORITHM:
        return fail(f"unsupported JWT algorithm {header.get('alg')!r}")
    if set(header) - ALLOWED_HEADER or header.get("typ", "JWT") != "JWT":
        return fail("the JWT header carries parameters the specification forbids")
    if "jwk" in header:
        # An embedded key proves nothing about the issuer: only keys the verifier trusts are used.
        return fail("embedded jwk headers are not trusted; use a kid naming a known issuer key")
    key = resolve_key(kid)
    if key is None:
        return fail("the JWT kid is not a known key of this issuer")
    try:
        key.verify(_unb64(parts[2]), f"{parts[0]}.{parts[1]}".encode("ascii"))
    except (InvalidSignature, JWTError):
        return fail("the JWT signature does not match")
    expected = claims(credential)
    for name in ("iss", "jti", "sub", "nbf"):
        if payload.get(name) != expected.get(name):
            return fail(f"the JWT claim {name} does not match the credential")
    if "exp" in expected and payload.get("exp") != expected["exp"]:
        return fail("the JWT claim exp does not match validUntil")
    moment = int((now or dt.datetime.now(dt.UTC)).timestamp())
    if payload["nbf"] > moment:
        return fail("the JWT is not valid yet (nbf)")
    if payload.get("exp") is not None and payload["exp"] <= moment:
        return fail("the JWT has expired (exp)")
    return credential, ProofCheck(True, kid, "valid VC-JWT (EdDSA)")
