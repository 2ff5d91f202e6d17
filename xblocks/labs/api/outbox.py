"""The transactional outbox: messages to other apps written with the change they announce, delivered by workers.

``publish`` runs inside the caller's transaction, so the message exists exactly when the change does
(a rolled-back check run leaves no message; a committed one cannot lose its message, whatever dies
afterwards). A delivery task is queued on commit, and the ``kafaat-outbox-deliver`` periodic job
delivers whatever that task did not (a broker outage, a worker killed, a receiver that failed).
Delivering sends the topic's signal (``xblocks.core.outbox``) to every receiver in one transaction with
the row's "delivered" mark; a receiver that raises rolls it all back, and the message is tried again
after a growing delay, its attempts and last error kept on the row (and in the admin). Receivers must
therefore be idempotent: the same message may reach them more than once.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from xblocks.core import outbox as topics
from xblocks.labs import tasks
from xblocks.labs.conf import labs_settings
from xblocks.labs.models import OutboxMessage

log = logging.getLogger(__name__)

# A delivery that has not finished by then is taken to have died with its worker.
LEASE_SECONDS = 120
# A version published while a worker delivered the previous one is delivered by the same call, this often.
FOLLOW_UPS = 3
# Delivered messages are kept this long (for the admin), then deleted by the periodic job.
KEEP_DELIVERED = timedelta(days=30)


class DeliveryFailed(Exception):
    """One or more receivers of a message raised; the message is tried again later."""


def publish(topic: str, key: str, payload: dict[str, Any]) -> int:
    """Write (or replace) the message of ``topic`` and ``key`` inside the current transaction; returns its id.

    The message replaces an undelivered older one of the same key (receivers get the latest state
    once) and is delivered after commit; if the transaction rolls back, so does the message.
    """
    topics.get(topic)  # refuse an unknown topic now, not in a worker later
    now = timezone.now()
    key = str(key)[:300]
    fields = {"payload": payload, "pending": True, "next_attempt_at": now, "attempts": 0, "last_error": ""}
    # no savepoint of its own: an error here raises out of the caller's transaction, which rolls back
    with transaction.atomic(savepoint=False):
        message_id = OutboxMessage.objects.filter(topic=topic, key=key).values_list("pk", flat=True).first()
        if message_id is None:
            try:
                with transaction.atomic():
                    message_id = OutboxMessage.objects.create(topic=topic, key=key, **fields).pk
            except IntegrityError:  # written by a concurrent transaction of the same key: replace it
                message_id = OutboxMessage.objects.filter(topic=topic, key=key).values_list("pk", flat=True).get()
                message_id = _replace(message_id, fields, now)
        else:
            _replace(message_id, fields, now)
    transaction.on_commit(lambda: _queue_delivery(message_id))
    return message_id


def _replace(message_id: int, fields: dict, now) -> int:
    OutboxMessage.objects.filter(pk=message_id).update(version=F("version") + 1, updated=now, **fields)
    return message_id


def _queue_delivery(message_id: int) -> None:
    # Named, not left to the sender's default: a result published by a lab host's check run is
    # evaluated by certification on an LMS worker, never on the lab host between two Checks.
    queue = str(labs_settings.OUTBOX_QUEUE or "") or None
    try:
        tasks.deliver_outbox_message.apply_async(args=[message_id], queue=queue)
    except Exception:  # a broker outage must not break the request: the periodic job delivers it
        log.exception("could not queue the delivery of outbox message %s; the periodic job will", message_id)


def deliver_message(message_id: int) -> bool:
    """Deliver one pending message if it is due and nobody else delivers it; True when it is now delivered.

    Safe to run twice and at once: the lease lets one worker deliver a row; the delivered mark is
    set only for the version that was sent, so a newer one is delivered next, by this call.
    """
    for _follow_up in range(FOLLOW_UPS):
        now = timezone.now()
        message = OutboxMessage.objects.filter(pk=message_id, pending=True).first()
        if message is None:
            return not OutboxMessage.objects.filter(pk=message_id, pending=True).exists()
        if message.next_attempt_at > now:
            return False  # backing off after a failure; the periodic job retries it when due
        free = Q(lease_until__isnull=True) | Q(lease_until__lt=now)
        claimed = OutboxMessage.objects.filter(free, pk=message_id, pending=True, version=message.version).update(
            lease_until=now + timedelta(seconds=LEASE_SECONDS)
        )
        if not claimed:
            return False  # another worker delivers it (it also delivers a newer version)
        delivered = _deliver_claimed(message)
        if delivered is None:
            return False
        if delivered:
            # the version sent was the latest when its mark committed: a newer one published after
            # that queues its own delivery on commit (and the periodic job catches it otherwise)
            return True
    return False


def _deliver_claimed(message: OutboxMessage) -> bool | None:
    """Send a claimed message's signal and mark it delivered in one transaction; on failure, schedule a retry.

    True when the version sent was still the row's (the mark also freed the lease), False when a newer
    version was published meanwhile (the lease is freed here and the caller delivers that one next),
    None when a receiver failed.
    """
    now = timezone.now()
    try:
        topic = topics.get(message.topic)
        with transaction.atomic():
            kwargs = topic.kwargs(message.payload)
            if kwargs is not None:
                failures = [
                    f"{getattr(receiver, '__qualname__', receiver)}: {type(result).__name__}: {result}"
                    for receiver, result in topic.signal.send_robust(sender=OutboxMessage, **kwargs)
                    if isinstance(result, Exception)
                ]
                if failures:
                    raise DeliveryFailed("; ".join(failures))
            marked = OutboxMessage.objects.filter(pk=message.pk, version=message.version).update(
                pending=False,
                delivered_at=now,
                lease_until=None,
                attempts=F("attempts") + 1,
                last_error="",
                updated=now,
            )
        if marked:
            return True
        OutboxMessage.objects.filter(pk=message.pk, lease_until__isnull=False).update(lease_until=None)
        return False
    except Exception as error:
        failures = message.attempts + 1
        delay = topics.retry_delay(failures)
        OutboxMessage.objects.filter(pk=message.pk, version=message.version).update(
            attempts=failures,
            last_error=f"{type(error).__name__}: {error}"[:10000],
            next_attempt_at=now + timedelta(seconds=delay),
            lease_until=None,
            updated=now,
        )
        OutboxMessage.objects.filter(pk=message.pk, lease_until__isnull=False).update(lease_until=None)
        log.warning(
            "outbox message %s (%s %s) not delivered, attempt %s; next try in %s s: %s",
            message.pk,
            message.topic,
            message.key,
            failures,
            delay,
            error,
        )
        return None


def deliver_now(message_ids: list[int]) -> int:
    """Deliver pending messages without waiting for their backoff (an operator's action); returns how many went."""
    OutboxMessage.objects.filter(pk__in=message_ids, pending=True).update(next_attempt_at=timezone.now())
    return sum(1 for message_id in message_ids if deliver_message(message_id))


def deliver_due_messages(limit: int = 500) -> int:
    """Deliver every pending message whose time has come (the periodic job); returns how many were delivered.

    Also deletes messages delivered more than ``KEEP_DELIVERED`` ago (a newer message of the same key
    simply makes a new row).
    """
    now = timezone.now()
    due = (
        OutboxMessage.objects.filter(pending=True, next_attempt_at__lte=now)
        .filter(Q(lease_until__isnull=True) | Q(lease_until__lt=now))
        .order_by("next_attempt_at", "pk")
        .values_list("pk", flat=True)[: int(limit)]
    )
    delivered = sum(1 for message_id in list(due) if deliver_message(message_id))
    old = OutboxMessage.objects.filter(pending=False, delivered_at__lt=now - KEEP_DELIVERED)
    old.filter(pk__in=list(old.values_list("pk", flat=True)[: int(limit)])).delete()
    return delivered
