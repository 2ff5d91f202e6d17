"""Tables of the terminal gateway: single-use tokens, staff attaches (audit) and transcripts."""

from __future__ import annotations

import enum

from django.conf import settings
from django.db import models

from xblocks.core.i18n import gettext_lazy as _


class Mode(enum.StrEnum):
    READ_WRITE = "rw"
    READ_ONLY = "ro"


class TerminalToken(models.Model):
    """A ticket to open one websocket on one session's shell; only its SHA-256 digest is stored."""

    digest = models.CharField(max_length=64, unique=True)
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    session_id = models.BigIntegerField(db_index=True)
    mode = models.CharField(max_length=2, choices=[(m.value, m.name.replace("_", " ").lower()) for m in Mode])
    # Which machine of the lab the shell opens on; "" is the lab's first (its only, for one machine).
    machine = models.CharField(max_length=32, blank=True, default="")
    # "" for a terminal token; a service id for a token that opens that service's tab (the service
    # proxy exchanges it for a cookie on the service's own origin). One never opens the other.
    service = models.CharField(max_length=32, blank=True, default="")
    attached_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField(db_index=True)
    consumed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("terminal token")

    def __str__(self) -> str:
        return f"{self.mode} token for session {self.session_id} ({self.user_id})"


class StaffAttach(models.Model):
    """Who watched whose terminal, and when: written when a read-only token is used."""

    staff = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    learner_id = models.BigIntegerField(null=True, blank=True)
    session_id = models.BigIntegerField(db_index=True)
    started_at = models.DateTimeField(auto_now_add=True, db_index=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("staff terminal attach")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.staff_id} watched session {self.session_id}"


class Transcript(models.Model):
    """The asciinema v2 recording of one machine's terminal in a lab session; output and input in ordered chunks."""

    session_id = models.BigIntegerField()
    # The machine whose shell this records: "" is the lab's first (its only, for one machine).
    machine = models.CharField(max_length=32, blank=True, default="")
    width = models.PositiveIntegerField(default=80)
    height = models.PositiveIntegerField(default=24)
    started_at = models.DateTimeField()
    updated_at = models.DateTimeField(db_index=True)
    size = models.BigIntegerField(default=0)  # bytes of event lines stored
    truncated = models.BooleanField(default=False)

    class Meta:
        verbose_name = _("terminal transcript")
        constraints = [models.UniqueConstraint(fields=["session_id", "machine"], name="kafaat_transcript_machine")]

    def __str__(self) -> str:
        return f"transcript of session {self.session_id}" + (f" ({self.machine})" if self.machine else "")


class TranscriptChunk(models.Model):
    """A run of asciinema event lines, appended by the gateway every few seconds.

    Appends are single INSERTs (no read-modify-write of the parent row), so the gateway never waits
    on a lock upgrade, on SQLite or elsewhere.
    """

    transcript = models.ForeignKey(Transcript, on_delete=models.CASCADE, related_name="chunks")
    seq = models.PositiveIntegerField()
    events = models.TextField()
    history = models.BinaryField(default=b"")  # input lines completed in this run, for command_history

    class Meta:
        unique_together = [("transcript", "seq")]
        ordering = ["seq"]

    def __str__(self) -> str:
        return f"chunk {self.seq} of {self.transcript_id}"
