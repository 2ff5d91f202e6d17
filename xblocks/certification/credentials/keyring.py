"""Issuer signing keys: where they come from (settings, key files), which one signs, which ones verify.

Each issuer (a school slug, or ``default`` for schools without their own) has an ordered list of keys:
the first signs, the rest are retired but still verify earlier credentials. Every public key that ever
signed is also recorded in ``IssuerKey`` so a key removed from settings keeps verifying what it signed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
import pathlib
import threading
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from xblocks.certification.credentials import proofs
from xblocks.certification.credentials.conf import credentials_settings

log = logging.getLogger(__name__)
_lock = threading.Lock()

DEFAULT_ISSUER = "default"


class KeyConfigurationError(RuntimeError):
    """A configured key source cannot be read or decoded (operator detail; never shown to learners)."""


@dataclass(frozen=True)
class IssuerKeyPair:
    private: Ed25519PrivateKey
    public_multibase: str

    @property
    def public(self) -> Ed25519PublicKey:
        return self.private.public_key()


def key_dir() -> pathlib.Path:
    configured = credentials_settings.CREDENTIAL_KEY_DIR
    if configured:
        return pathlib.Path(configured)
    from django.conf import settings  # pylint: disable=import-outside-toplevel

    var_dir = getattr(settings, "VAR_DIR", None)
    if not var_dir:
        raise KeyConfigurationError(
            "no signing key configured: set KAFAAT['CREDENTIAL_KEYS'] or KAFAAT['CREDENTIAL_KEY_DIR']"
        )
    return pathlib.Path(var_dir) / "credential-keys"


def _sources(issuer: str) -> list:
    configured = credentials_settings.CREDENTIAL_KEYS or {}
    value = configured.get(issuer)
    if value is None:
        return []
    return value if isinstance(value, list) else [value]


def _read_key_file(path: pathlib.Path) -> list[Ed25519PrivateKey]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return []
    except (OSError, ValueError) as error:
        raise KeyConfigurationError(f"cannot read key file {path}: {error}") from error
    # Newest last in the file (append-only rotation); newest first in the keyring.
    return [proofs.private_key_from_multibase(entry["secretKeyMultibase"]) for entry in reversed(data.get("keys", []))]


def _from_source(source) -> list[Ed25519PrivateKey]:
    try:
        if isinstance(source, str):
            return _read_key_file(pathlib.Path(source))
        if "seed_hex" in source:
            return [proofs.private_key_from_seed_hex(source["seed_hex"])]
        if "secret_key_multibase" in source:
            return [proofs.private_key_from_multibase(source["secret_key_multibase"])]
        if "file" in source:
            return _read_key_file(pathlib.Path(source["file"]))
    except (proofs.ProofError, ValueError, KeyError, TypeError) as error:
        raise KeyConfigurationError(f"invalid key source: {type(error).__name__}: {error}") from error
    raise KeyConfigurationError(f"unknown key source {sorted(source)!r}")


def _key_file(issuer: str) -> pathlib.Path:
    for source in _sources(issuer):
        if isinstance(source, str):
            return pathlib.Path(source)
        if isinstance(source, dict) and "file" in source:
            return pathlib.Path(source["file"])
    return key_dir() / f"{issuer}.json"


def private_keys(issuer: str) -> list[Ed25519PrivateKey]:
    """Every private key configured for ``issuer``, the signing key first (may be empty)."""
    keys: list[Ed25519PrivateKey] = []
    sources = _sources(issuer)
    for source in sources:
        keys.extend(_from_source(source))
    if not sources:
        keys.extend(_read_key_file(_key_file(issuer)))
    return keys


@contextlib.contextmanager
def _file_lock(path: pathlib.Path):
    """Serialise key-file writers across processes (web workers, Celery workers, the CLI)."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with _lock, open(path.with_suffix(".lock"), "a", encoding="utf-8") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _append_to_file(path: pathlib.Path, key: Ed25519PrivateKey) -> None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        data = {"keys": []}
    data["keys"].append(
        {
            "secretKeyMultibase": proofs.secret_key_multibase(key),
            "publicKeyMultibase": proofs.public_key_multibase(key.public_key()),
            "created": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        }
    )
    tmp = path.with_suffix(".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(data, handle, indent=2)
    os.replace(tmp, path)


def signing_issuer(school_slug: str) -> str:
    """The keyring entry that signs for a school: its own when configured, else ``default``."""
    if _sources(school_slug) or _key_file(school_slug).exists():
        return school_slug
    return DEFAULT_ISSUER


def signing_key(issuer: str) -> IssuerKeyPair:
    """The active key of ``issuer``; a key file is generated once when nothing is configured (the demo)."""
    keys = private_keys(issuer)
    if not keys:
        if _sources(issuer):
            raise KeyConfigurationError(f"the key sources of {issuer!r} hold no key")
        path = _key_file(issuer)
        with _file_lock(path):
            keys = private_keys(issuer)  # another process may have made it while we waited
            if not keys:
                _append_to_file(path, Ed25519PrivateKey.generate())
                log.warning("generated a new signing key for issuer %r in %s", issuer, path)
                keys = private_keys(issuer)
    pair = IssuerKeyPair(keys[0], proofs.public_key_multibase(keys[0].public_key()))
    remember(issuer, pair.public_multibase)
    return pair


def rotate(issuer: str) -> IssuerKeyPair:
    """Make a new active key for ``issuer`` in its key file; earlier keys stay and keep verifying.

    Keys given inline in settings cannot be rotated here: the operator puts the new key first in the list.
    """
    if any(not isinstance(s, str) and "file" not in s for s in _sources(issuer)):
        raise KeyConfigurationError(
            f"{issuer!r} has inline keys in settings; add the new key first in KAFAAT['CREDENTIAL_KEYS']"
        )
    previous = [proofs.public_key_multibase(k.public_key()) for k in private_keys(issuer)]
    with _file_lock(_key_file(issuer)):
        _append_to_file(_key_file(issuer), Ed25519PrivateKey.generate())
    pair = signing_key(issuer)
    from xblocks.certification.credentials.models import IssuerKey  # pylint: disable=import-outside-toplevel

    IssuerKey.objects.filter(issuer=issuer, public_key_multibase__in=previous, retired_at=None).update(
        retired_at=dt.datetime.now(dt.UTC)
    )
    log.info("rotated the signing key of issuer %r: %s", issuer, pair.public_multibase)
    return pair


def remember(issuer: str, multibase: str) -> None:
    from xblocks.certification.credentials.models import IssuerKey  # pylint: disable=import-outside-toplevel

    IssuerKey.objects.get_or_create(issuer=issuer, public_key_multibase=multibase)


def public_keys(issuer: str) -> dict[str, bool]:
    """Every public key known for ``issuer`` (multibase -> active?), from settings, files and history."""
    from xblocks.certification.credentials.models import IssuerKey  # pylint: disable=import-outside-toplevel

    known: dict[str, bool] = {}
    try:
        configured = private_keys(issuer)
    except KeyConfigurationError:
        log.exception("cannot read the keys of issuer %r", issuer)
        configured = []
    for index, key in enumerate(configured):
        known[proofs.public_key_multibase(key.public_key())] = index == 0
    for row in IssuerKey.objects.filter(issuer=issuer).order_by("created"):
        known.setdefault(row.public_key_multibase, False)
    return known


def knows(issuer: str, multibase: str) -> bool:
    return multibase in public_keys(issuer)
