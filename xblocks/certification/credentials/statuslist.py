"""W3C Bitstring Status List v1.0: the bitstring codec, random slot allocation, bit updates, list credentials.

Index 0 is the left-most bit of the first byte; a set bit means the purpose (revocation or suspension)
applies. Slots are drawn at random, never in issue order, so neighbouring bits say nothing about who
was certified together.
"""

from __future__ import annotations

import base64
import gzip
import io
import secrets
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F

from xblocks.certification.credentials.conf import credentials_settings

ENTRY_TYPE = "BitstringStatusListEntry"
LIST_TYPE = "BitstringStatusList"
LIST_CREDENTIAL_TYPE = "BitstringStatusListCredential"
MIN_SIZE = 131072


class StatusListError(ValueError):
    """A status list or entry is malformed or does not match its entry."""


# --- codec ---------------------------------------------------------------------------------------------


def encode(bits: bytes) -> str:
    """Multibase base64url (no padding, prefix ``u``) of the GZIP-compressed bitstring."""
    # mtime=0 keeps the encoding deterministic, so an unchanged list always signs to the same bytes.
    compressed = gzip.compress(bytes(bits), mtime=0)
    return "u" + base64.urlsafe_b64encode(compressed).decode("ascii").rstrip("=")


def decode(encoded: str, *, max_bytes: int = 16 * 1024 * 1024) -> bytes:
    if not isinstance(encoded, str) or not encoded.startswith("u"):
        raise StatusListError("encodedList is not multibase base64url (prefix 'u')")
    body = encoded[1:]
    try:
        compressed = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        # Read at most max_bytes + 1 so a gzip bomb cannot exhaust memory.
        with gzip.GzipFile(fileobj=io.BytesIO(compressed)) as handle:
            bits = handle.read(max_bytes + 1)
    except (ValueError, OSError, EOFError) as error:
        raise StatusListError(f"encodedList cannot be decoded: {error}") from error
    if len(bits) > max_bytes:
        raise StatusListError("encodedList is larger than allowed")
    return bits


def get_bit(bits: bytes, index: int) -> bool:
    if index < 0 or index >= len(bits) * 8:
        raise StatusListError(f"statusListIndex {index} is outside the list ({len(bits) * 8} entries)")
    return bool(bits[index // 8] & (0x80 >> (index % 8)))


def set_bit(bits: bytearray, index: int, value: bool) -> None:
    mask = 0x80 >> (index % 8)
    if value:
        bits[index // 8] |= mask
    else:
        bits[index // 8] &= ~mask & 0xFF


# --- documents -----------------------------------------------------------------------------------------


def entry(list_url: str, index: int, purpose: str) -> dict[str, Any]:
    return {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }


def list_credential(list_url: str, issuer: dict, purpose: str, bits: bytes, valid_from: str, ttl_ms: int) -> dict:
    """The unsigned BitstringStatusListCredential for one list."""
    from xblocks.certification.credentials import loader  # pylint: disable=import-outside-toplevel

    return {
        "@context": [loader.VC_V2],
        "id": list_url,
        "type": ["VerifiableCredential", LIST_CREDENTIAL_TYPE],
        "issuer": issuer["id"],
        "validFrom": valid_from,
        "credentialSubject": {
            "id": f"{list_url}#list",
            "type": LIST_TYPE,
            "statusPurpose": purpose,
            "encodedList": encode(bits),
            "ttl": ttl_ms,
        },
    }


def read_entry(list_document: dict, status_entry: dict) -> bool:
    """The bit an entry points at, after checking that the list is for the entry's purpose."""
    subject = list_document.get("credentialSubject") or {}
    types = list_document.get("type") or []
    if LIST_CREDENTIAL_TYPE not in types or subject.get("type") != LIST_TYPE:
        raise StatusListError("the status list credential is not a BitstringStatusListCredential")
    purposes = subject.get("statusPurpose")
    purposes = purposes if isinstance(purposes, list) else [purposes]
    if status_entry.get("statusPurpose") not in purposes:
        raise StatusListError("the status list's purpose does not match the entry's")
    index = str(status_entry.get("statusListIndex", ""))
    if not index.isdigit():
        raise StatusListError("statusListIndex is not a string of digits")
    return get_bit(decode(subject.get("encodedList", "")), int(index))


# --- storage -------------------------------------------------------------------------------------------


def _size() -> int:
    return max(MIN_SIZE, int(credentials_settings.STATUS_LIST_SIZE))


def _open_list(issuer: str, purpose: str):
    """The issuer's newest list for ``purpose`` with free room; a new one when full (locked row)."""
    from xblocks.certification.credentials.models import StatusList  # pylint: disable=import-outside-toplevel

    current = (
        StatusList.objects.select_for_update().filter(issuer=issuer, purpose=purpose).order_by("-sequence").first()
    )
    # Keep lists at most half full: random draws stay cheap and slots stay unpredictable.
    if current is None or current.used * 2 >= current.size:
        size = _size()
        sequence = current.sequence + 1 if current else 1
        try:
            with transaction.atomic():
                StatusList.objects.create(
                    issuer=issuer, purpose=purpose, sequence=sequence, size=size, bits=bytes(size // 8)
                )
        except IntegrityError:
            pass  # another worker created it first
        current = StatusList.objects.select_for_update().get(issuer=issuer, purpose=purpose, sequence=sequence)
    return current


def allocate(issuer: str, purpose: str):
    """Reserve a random free slot ``(StatusList, index)``; the caller stores it on the SignedCredential."""
    from xblocks.certification.credentials.models import SignedCredential, StatusList, StatusPurpose  # pylint: disable=import-outside-toplevel

    with transaction.atomic():
        status_list = _open_list(issuer, purpose)
        field = "revocation" if purpose == StatusPurpose.REVOCATION else "suspension"
        taken = set(
            SignedCredential.objects.filter(**{f"{field}_list": status_list}).values_list(f"{field}_index", flat=True)
        )
        while True:
            index = secrets.randbelow(status_list.size)
            if index not in taken:
                break
        StatusList.objects.filter(pk=status_list.pk).update(used=F("used") + 1)
        return status_list, index


def write_bit(list_id: int, index: int, value: bool) -> bool:
    """Set or clear one bit; returns True when it changed (and bumps the list's version)."""
    from xblocks.certification.credentials.models import StatusList  # pylint: disable=import-outside-toplevel

    with transaction.atomic():
        status_list = StatusList.objects.select_for_update().get(pk=list_id)
        bits = bytearray(status_list.bits)
        if get_bit(bits, index) == value:
            return False
        set_bit(bits, index, value)
        status_list.bits = bytes(bits)
        status_list.version += 1
        status_list.save(update_fields=["bits", "version", "updated"])
        return True


def read_bit(list_id: int, index: int) -> bool:
    from xblocks.certification.credentials.models import StatusList  # pylint: disable=import-outside-toplevel

    return get_bit(bytes(StatusList.objects.get(pk=list_id).bits), index)
