"""The outbox's topics: which signal delivers each kind of cross-app message, and when a failed one is tried again.

A message that must not be lost (a lab result for certification, a new certificate for its credential)
is written as an outbox row in the same transaction as the change it announces, and a worker delivers
it later by sending the topic's signal (``xblocks.labs.api.outbox``). Each app's ``signals.py`` names
its topics here; the model and the processor live in the labs app, which is installed wherever Kafaat
is, so that certification's messages need no model of their own. Model-free and import-light.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from django.dispatch import Signal

# A failed delivery waits RETRY_FIRST seconds, then twice as long each time, at most RETRY_MAX.
RETRY_FIRST = 5
RETRY_MAX = 30 * 60


@dataclass(frozen=True)
class Topic:
    """A kind of message: its name (the outbox row's ``topic``), its signal, and how a payload becomes kwargs.

    ``decode`` turns the stored JSON payload into the signal's keyword arguments, or returns None when
    there is nothing left to deliver (the learner was deleted); by default the payload is sent as is.
    """

    name: str
    signal: Signal
    decode: Callable[[Mapping[str, Any]], Mapping[str, Any] | None] | None = None

    def kwargs(self, payload: Mapping[str, Any]) -> Mapping[str, Any] | None:
        return self.decode(payload) if self.decode is not None else dict(payload)


_TOPICS: dict[str, Topic] = {}


def topic(name: str, signal: Signal, decode: Callable | None = None) -> Signal:
    """Declare ``signal`` as delivered through the outbox under ``name``; returns the signal (for ``signals.py``)."""
    _TOPICS[name] = Topic(name, signal, decode)
    return signal


def get(name: str) -> Topic:
    """The topic called ``name``; KeyError when no ``signals.py`` declared it (its app is not installed)."""
    try:
        return _TOPICS[name]
    except KeyError:
        raise KeyError(f"no outbox topic named {name!r}") from None


def retry_delay(failures: int) -> int:
    """Seconds to wait after the ``failures``-th failed delivery of a message (exponential, capped)."""
    return min(RETRY_MAX, RETRY_FIRST * 2 ** max(0, int(failures) - 1))
