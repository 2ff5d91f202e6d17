"""The certificate audit chain: appending hash-linked events and finding the row that was edited, deleted or moved.

Each certificate has its own chain (``seq`` 1, 2, 3...): an event's hash is SHA-256 over its
content and the previous event's hash, and the certificate row keeps the newest hash as its head,
so a deleted tail is caught too. Per-certificate chains only need the certificate's row lock, never
a global one, so issuing on many workers does not serialise on the audit log.
"""

from __future__ import annotations

import datetime
import hashlib
import json

from django.utils import timezone

from xblocks.certification import models
from xblocks.certification.data import ChainProblem, ChainReport


def event_hash(
    *,
    certificate_id: int,
    number: str,
    seq: int,
    kind: str,
    status: str,
    reason: str,
    actor: str,
    at: datetime.datetime,
    previous_hash: str,
) -> str:
    at_utc = at.astimezone(datetime.UTC).replace(tzinfo=None) if timezone.is_aware(at) else at
    payload = {
        "certificate": certificate_id,
        "number": number,
        "seq": seq,
        "kind": kind,
        "status": status,
        "reason": reason,
        "actor": actor,
        "at": at_utc.isoformat(timespec="microseconds"),
        "previous": previous_hash,
    }
    return hashlib.sha256(json.dumps(payload, sort_keys=True, ensure_ascii=False).encode("utf-8")).hexdigest()


def _hash_of(event: models.CertificateEvent, number: str) -> str:
    return event_hash(
        certificate_id=event.certificate_id,
        number=number,
        seq=event.seq,
        kind=event.kind,
        status=event.status,
        reason=event.reason,
        actor=event.actor,
        at=event.at,
        previous_hash=event.previous_hash,
    )


def append(
    certificate: models.Certificate, *, kind: str, status: str, reason: str, actor: str
) -> models.CertificateEvent:
    """Append an event; the caller holds the certificate's row lock (``select_for_update``)."""
    last = certificate.events.order_by("-seq").values_list("seq", "hash").first()
    seq, previous = (last[0] + 1, last[1]) if last else (1, "")
    at = timezone.now()  # microseconds survive SQLite and MySQL DATETIME(6), so the hash recomputes exactly
    event = models.CertificateEvent(
        certificate=certificate,
        seq=seq,
        kind=kind,
        status=status,
        reason=reason or "",
        actor=actor or "",
        at=at,
        previous_hash=previous,
    )
    event.hash = _hash_of(event, certificate.number)
    event.save()
    models.Certificate.objects.filter(pk=certificate.pk).update(last_event_hash=event.hash)
    certificate.last_event_hash = event.hash
    return event


def verify(certificate_id: int | None = None, chunk_size: int = 500) -> ChainReport:
    """Walk every chain (or one) and name each event that no longer fits."""
    problems: list[ChainProblem] = []
    checked = 0
    certificates = models.Certificate.objects.order_by("pk").values_list("pk", "number", "status", "last_event_hash")
    if certificate_id is not None:
        certificates = certificates.filter(pk=certificate_id)
    last_pk = 0
    while True:
        chunk = list(certificates.filter(pk__gt=last_pk)[:chunk_size])
        if not chunk:
            break
        last_pk = chunk[-1][0]
        events: dict[int, list[models.CertificateEvent]] = {}
        for event in models.CertificateEvent.objects.filter(certificate_id__in=[row[0] for row in chunk]).order_by(
            "certificate_id", "seq", "pk"
        ):
            events.setdefault(event.certificate_id, []).append(event)
        for pk, number, status, head in chunk:
            chain = events.get(pk, [])
            checked += len(chain)
            problems.extend(_verify_one(pk, number, status, head, chain))
    return ChainReport(checked=checked, problems=tuple(problems))


def _verify_one(
    pk: int, number: str, status: str, head: str, chain: list[models.CertificateEvent]
) -> list[ChainProblem]:
    problems: list[ChainProblem] = []
    previous_hash = ""
    previous_id = 0
    previous_event: models.CertificateEvent | None = None
    expected_seq = 1
    for event in chain:
        if event.seq != expected_seq:
            problems.append(
                ChainProblem(
                    event.pk,
                    pk,
                    f"sequence {event.seq} where {expected_seq} was expected: an event before it was deleted",
                )
            )
        if event.pk < previous_id:
            problems.append(
                ChainProblem(
                    event.pk, pk, f"stored before event {previous_id} but chained after it: rows were reordered"
                )
            )
        if _hash_of(event, number) != event.hash:
            problems.append(ChainProblem(event.pk, pk, "content does not match its hash: the row was edited"))
        if event.previous_hash != previous_hash:
            after = f"event {previous_event.pk}" if previous_event else "the start of the chain"
            problems.append(
                ChainProblem(
                    event.pk, pk, f"previous hash does not match {after}: an event was edited, deleted or moved"
                )
            )
        previous_hash, previous_id, previous_event = event.hash, event.pk, event
        expected_seq = event.seq + 1  # one gap is reported once, on the event after it
    if head != previous_hash:
        last = previous_event.pk if previous_event else 0
        problems.append(
            ChainProblem(
                last, pk, "the certificate's head hash does not match its last event: events after it were deleted"
            )
        )
    if previous_event is not None and previous_event.status != status:
        problems.append(
            ChainProblem(
                previous_event.pk,
                pk,
                f"certificate status {status!r} differs from its last event ({previous_event.status!r})",
            )
        )
    return problems
