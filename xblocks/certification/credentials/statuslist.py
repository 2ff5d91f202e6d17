"""W3C Bitstring Status List v1.0: the bitstring codec, random slot allocation, status updates, list credentials.

Index 0 is the left-most bit of the first byte. A credential's status is ``statusSize`` bits at position
``statusListIndex * statusSize``, read most significant bit first. Kafaat's credentials carry one entry
(the Open Badges 3.0 schema allows one ``credentialStatus`` object) with the purpose ``message`` and two
bits: 0 valid, 1 suspended, 2 revoked (decision 0053). Credentials signed before carry two one-bit
entries, ``revocation`` and ``suspension``; their lists are still served and updated. Slots are drawn at
random, never in issue order, so neighbouring slots say nothing about who was certified together.
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

# The status values of a "message" entry and what each means (the entry's statusMessage).
VALID, SUSPENDED, REVOKED = 0, 1, 2
MESSAGE_SIZE = 2
# Value 3 is never written; it reads as revoked so that no value means more than it should.
MESSAGES = {VALID: "valid", SUSPENDED: "suspended", REVOKED: "revoked", 3: "revoked"}
MAX_STATUS_SIZE = 8


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


def get_value(bits: bytes, index: int, size: int = 1) -> int:
    """The ``size``-bit status at slot ``index`` (bits ``index*size`` onwards, most significant first)."""
    if index < 0 or (index + 1) * size > len(bits) * 8:
        raise StatusListError(f"statusListIndex {index} is outside the list ({len(bits) * 8 // size} entries)")
    value = 0
    for position in range(index * size, (index + 1) * size):
        value = (value << 1) | get_bit(bits, position)
    return value


def set_value(bits: bytearray, index: int, size: int, value: int) -> None:
    for offset in range(size):
        set_bit(bits, index * size + offset, bool(value >> (size - 1 - offset) & 1))


# --- documents -----------------------------------------------------------------------------------------


def entry(list_url: str, index: int, purpose: str) -> dict[str, Any]:
    """A BitstringStatusListEntry; a ``message`` entry carries its size and what each value means."""
    purpose = str(purpose)
    status_entry: dict[str, Any] = {
        "id": f"{list_url}#{index}",
        "type": ENTRY_TYPE,
        "statusPurpose": purpose,
        "statusListIndex": str(index),
        "statusListCredential": list_url,
    }
    if purpose == "message":
        status_entry["statusSize"] = MESSAGE_SIZE
        status_entry["statusMessage"] = [
            {"status": hex(value), "message": message} for value, message in sorted(MESSAGES.items())
        ]
    return status_entry


def entry_size(status_entry: dict) -> int:
    """The entry's ``statusSize`` (1 when absent); a size above 1 needs one message per value."""
    size = status_entry.get("statusSize", 1)
    if isinstance(size, bool) or not isinstance(size, int) or not 1 <= size <= MAX_STATUS_SIZE:
        raise StatusListError("statusSize is not a whole number from 1 to 8")
    if size > 1:
        messages = status_entry.get("statusMessage")
        if not isinstance(messages, list) or len(messages) != 2**size:
            raise StatusListError("statusMessage must give one message for each status value")
    return size


def message_of(status_entry: dict, value: int) -> str:
    """The entry's message for a status value (statuses are hexadecimal strings, ``0x1``); "" if none."""
    for item in status_entry.get("statusMessage") or []:
        if not isinstance(item, dict):
            continue
        try:
            if int(str(item.get("status", "")), 16) == value:
                return str(item.get("message", ""))
        except ValueError:
            continue
    return ""


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


def read_entry(list_document: dict, status_entry: dict) -> int:
    """The status value an entry points at (its ``statusSize`` bits), after checking the list's purpose."""
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
    return get_value(decode(subject.get("encodedList", "")), int(index), entry_size(status_entry))


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
                status_size = MESSAGE_SIZE if purpose == "message" else 1
                StatusList.objects.create(
                    issuer=issuer,
                    purpose=purpose,
                    sequence=sequence,
                    size=size,
                    status_size=status_size,
                    bits=bytes(size * status_size // 8),
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
        field = {StatusPurpose.MESSAGE: "status", StatusPurpose.REVOCATION: "revocation"}.get(purpose, "suspension")
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


def write_status(list_id: int, index: int, value: int) -> bool:
    """Set a slot's status value (a "message" list); a revoked slot never changes again.

    Returns True when the value changed (and bumps the list's version).
    """
    from xblocks.certification.credentials.models import StatusList  # pylint: disable=import-outside-toplevel

    with transaction.atomic():
        status_list = StatusList.objects.select_for_update().get(pk=list_id)
        bits = bytearray(status_list.bits)
        current = get_value(bits, index, status_list.status_size)
        if current == value or MESSAGES.get(current) == "revoked":
            return False
        set_value(bits, index, status_list.status_size, value)
        status_list.bits = bytes(bits)
        status_list.version += 1
        status_list.save(update_fields=["bits", "version", "updated"])
        return True


def read_status(list_id: int, index: int) -> int:
    from xblocks.certification.credentials.models import StatusList  # pylint: disable=import-outside-toplevel

    status_list = StatusList.objects.get(pk=list_id)
    return get_value(bytes(status_list.bits), index, status_list.status_size)
