"""Keyed digests that stand in for personal data: counts and rate limits by IP without storing the address."""

from __future__ import annotations

import hashlib
import hmac


def keyed_digest(secret: bytes, purpose: str, value: str) -> str:
    """HMAC-SHA256 of ``value`` under ``secret``, separated by ``purpose`` so two uses never share a digest."""
    return hmac.new(secret, f"{purpose}:{value}".encode(), hashlib.sha256).hexdigest()


def ip_hash(ip: str, secret: bytes) -> str:
    """A keyed hash of a visitor's IP (32 hex digits): the same visitor gives the same hash, the hash no address."""
    return keyed_digest(secret, "ip", ip or "")[:32]
