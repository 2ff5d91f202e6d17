"""Asciinema v2 transcripts and command history: encoding events, and turning keystrokes into lines."""

from __future__ import annotations

import json
import re
import time

# CSI and SS3 sequences (arrow keys, function keys) and OSC strings are terminal chatter, not text.
_ESCAPES = re.compile(rb"\x1b(?:\[[0-?]*[ -/]*[@-~]|O.|\][^\x07\x1b]*(?:\x07|\x1b\\)|.)", re.DOTALL)


def header(width: int, height: int, timestamp: float, title: str = "") -> str:
    """The first line of an asciinema v2 cast."""
    value = {
        "version": 2,
        "width": width,
        "height": height,
        "timestamp": int(timestamp),
        "env": {"TERM": "xterm-256color", "SHELL": "/bin/bash"},
    }
    if title:
        value["title"] = title
    return json.dumps(value, separators=(",", ":"))


def event(offset: float, kind: str, data: bytes | str) -> str:
    """One asciinema event line (without newline); bytes are decoded leniently as the player would."""
    text = data.decode("utf-8", "replace") if isinstance(data, bytes) else data
    return json.dumps([round(max(offset, 0.0), 6), kind, text], ensure_ascii=False)


class LineEditor:
    """Rebuilds the lines a learner typed from raw keystrokes, applying the edits a shell would.

    Handles Enter, Backspace, Ctrl-U, Ctrl-W and Ctrl-C; cursor movement and history recall are
    dropped (the recorded line is what was typed, not what readline finally ran).
    """

    def __init__(self) -> None:
        self._line = bytearray()

    def feed(self, data: bytes) -> list[bytes]:
        done: list[bytes] = []
        for byte in _ESCAPES.sub(b"", data):
            if byte in (0x0D, 0x0A):
                done.append(bytes(self._line))
                self._line.clear()
            elif byte in (0x7F, 0x08):
                if self._line:
                    del self._line[-1]
                    # drop the rest of a multi-byte UTF-8 character
                    while self._line and (self._line[-1] & 0xC0) == 0x80:
                        del self._line[-1]
                    if self._line and self._line[-1] >= 0xC0:
                        del self._line[-1]
            elif byte in (0x15, 0x03):  # Ctrl-U kills the line; Ctrl-C abandons it
                self._line.clear()
            elif byte == 0x17:  # Ctrl-W: the previous word
                text = bytes(self._line).rstrip(b" ")
                cut = text.rfind(b" ")
                self._line = bytearray(text[: cut + 1] if cut >= 0 else b"")
            elif byte == 0x09 or byte >= 0x20:
                if len(self._line) < 4096:
                    self._line.append(byte)
        return done


class Recorder:
    """Collects one shell's events in memory until the gateway flushes them to the database.

    Output beyond ``max_bytes`` for the whole session is not recorded: the transcript is marked
    truncated once, and recording costs nothing afterwards (a ``yes`` flood must not fill the DB).
    """

    def __init__(
        self,
        *,
        started_at: float,
        size: int = 0,
        truncated: bool = False,
        max_bytes: int,
        next_seq: int = 1,
        history_size: int = 0,
        max_history: int = 256 * 1024,
        clock=time.time,
    ):
        self.started_at = started_at
        self.size = size
        self.truncated = truncated
        self.max_bytes = max_bytes
        self.next_seq = next_seq
        self.history_size = history_size
        self.max_history = max_history
        self._clock = clock
        self._events: list[str] = []
        self._history: list[bytes] = []
        self._editor = LineEditor()

    def _add(self, kind: str, data: bytes | str) -> None:
        if self.truncated:
            return
        line = event(self._clock() - self.started_at, kind, data)
        length = len(line.encode("utf-8")) + 1
        if self.size + length > self.max_bytes:
            self.truncated = True
            line = event(self._clock() - self.started_at, "m", "transcript truncated")
            length = len(line) + 1
        self._events.append(line)
        self.size += length

    def output(self, data: bytes) -> None:
        self._add("o", data)

    def input(self, data: bytes) -> None:
        self._add("i", data)
        for line in self._editor.feed(data):
            room = self.max_history - self.history_size
            if room <= 0:
                break
            line = (line + b"\n")[:room]
            self._history.append(line)
            self.history_size += len(line)

    def resize(self, cols: int, rows: int) -> None:
        self._add("r", f"{cols}x{rows}")

    def pending(self) -> bool:
        return bool(self._events or self._history)

    def take(self) -> tuple[int, str, bytes]:
        """The next chunk number, buffered event lines and completed history lines; empties the buffers."""
        events = "".join(line + "\n" for line in self._events)
        history = b"".join(self._history)
        self._events.clear()
        self._history.clear()
        seq = self.next_seq
        self.next_seq += 1
        return seq, events, history
