"""Frozen values the terminal api hands out: token grants and the claims a used token carries."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # an annotation only: data imports nothing but the standard library at run time
    from xblocks.labs.sandbox.base import SandboxHandle


@dataclass(frozen=True)
class TokenGrant:
    """What the browser needs to open the terminal: a single-use token and the gateway's URL."""

    token: str
    url: str
    expires_in: int

    def as_json(self) -> dict[str, Any]:
        return {"token": self.token, "url": self.url, "expires_in": self.expires_in}


@dataclass(frozen=True)
class TokenClaim:
    """A token that was just consumed: who may do what on which sandbox.

    ``viewer_id`` is the person accountable for the connection (the staff member for a watch);
    ``attach_id`` names the audit row of a staff watch, ``None`` for the learner's own terminal.
    ``machine`` names the lab's machine the shell runs on (``""`` for the first); each machine's shell
    is recorded in a transcript of its own.
    """

    user_id: int
    viewer_id: int
    owner_id: int | None
    session_id: int
    mode: str
    handle: SandboxHandle  # the machine's own handle (a lab of several machines: the one the token names)
    attach_id: int | None = None
    machine: str = ""  # "": the lab's first machine
    service: str = ""  # the service tab this token opens; "" for the terminal

    @property
    def read_only(self) -> bool:
        return self.mode != "rw"


@dataclass(frozen=True)
class TranscriptState:
    """Where a session's transcript stands when a shell (re)opens, so recording continues from there."""

    started_at: float
    size: int
    truncated: bool
    next_seq: int
    history_size: int
