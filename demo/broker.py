"""The demo's Celery broker: kombu's filesystem transport, made safe against partial and empty messages.

kombu's own filesystem transport writes a message in place, so a reader that lists the folder at the
wrong moment (or after a full disk cut the write short) reads half a message, fails to decode it,
and the worker exits. Here:

- a message is written to a hidden temporary file in the same folder and renamed to its final name
  only once complete (a rename is atomic), so a reader only ever sees whole messages; a write that
  fails (a full disk) removes its temporary file and raises a ``ChannelError`` naming the folder;
- a reader claims a message by renaming it into ``processed_folder`` (on the same file system; of
  two readers only one rename succeeds), then reads it; a message that still cannot be decoded
  (empty, truncated, not a message: written by something else) is set aside in ``bad_folder`` with
  an error in the log, and the reader goes on to the next one;
- the exchange tables (fanout bindings) are replaced atomically too, and an unreadable one counts as
  empty instead of stopping the worker.
"""

from __future__ import annotations

import errno
import fcntl
import json
import logging
import os
import time
import uuid
from pathlib import Path
from queue import Empty

from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

TEMP_PREFIX = ".part-"


def _write_atomically(folder: str | os.PathLike, name: str, data: bytes) -> Path:
    """Write ``data`` to ``folder/name`` through a hidden temporary file and a rename."""
    folder = Path(folder)
    temp = folder / f"{TEMP_PREFIX}{uuid.uuid4().hex}"
    final = folder / name
    try:
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
        finally:
            os.close(fd)
        os.rename(temp, final)
    except OSError as error:
        try:
            temp.unlink()
        except OSError:
            pass
        reason = "the disk is full" if error.errno in (errno.ENOSPC, errno.EDQUOT) else error.strerror
        raise ChannelError(f"the demo's broker could not write a message in {folder}: {reason}") from error
    return final


def remove_partial_writes(folder: str | os.PathLike, older_than: float = 0.0) -> int:
    """Remove temporary files a writer that died mid-message left behind (the demo does so at start)."""
    removed = 0
    now = time.time()
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return 0
    for entry in entries:
        if not entry.name.startswith(TEMP_PREFIX):
            continue
        try:
            if now - entry.stat().st_mtime >= older_than:
                os.unlink(entry.path)
                removed += 1
        except OSError:
            continue
    return removed


class Channel(filesystem.Channel):
    """Whole messages in, whole messages out; an unreadable message is set aside, never fatal."""

    @property
    def bad_folder(self) -> str:
        return self.transport_options.get("bad_folder") or os.path.join(self.processed_folder, "unreadable")

    def _put(self, queue, payload, **kwargs):
        # zero-padded nanoseconds: names sort in the order the messages were written (kombu's own
        # milliseconds, unpadded, put messages of one millisecond in random order)
        name = f"{time.monotonic_ns():020d}_{uuid.uuid4()}.{queue}.msg"
        _write_atomically(self.data_folder_out, name, dumps(payload).encode())

    def _set_aside(self, path: str, name: str, reason: str) -> None:
        try:
            os.makedirs(self.bad_folder, mode=0o700, exist_ok=True)
            os.rename(path, os.path.join(self.bad_folder, name))
            where = f"moved to {self.bad_folder}"
        except OSError:
            try:
                os.unlink(path)
            except OSError:
                pass
            where = "deleted (it could not be moved aside)"
        log.error("broker: message %s is unreadable (%s); %s, going on with the next one", name, reason, where)

    def _get(self, queue):
        wanted = f"{queue}.msg"
        try:
            names = sorted(os.listdir(self.data_folder_in))
        except OSError as error:
            raise ChannelError(f"cannot list the broker folder {self.data_folder_in}: {error.strerror}") from error
        for name in names:
            if name.startswith(".") or name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self.processed_folder, name)
            try:
                os.rename(os.path.join(self.data_folder_in, name), claimed)
            except FileNotFoundError:
                continue  # another reader took it
            except OSError as error:
                log.error("broker: cannot claim message %s: %s; it stays queued", name, error.strerror)
                continue
            try:
                with open(claimed, "rb") as handle:
                    data = handle.read()
            except OSError as error:
                self._set_aside(claimed, name, f"read error: {error.strerror}")
                continue
            try:
                if not data.strip():
                    raise ValueError("empty")
                payload = loads(data.decode("utf-8"))
                if not isinstance(payload, dict):
                    raise ValueError("not a message")
            except (ValueError, UnicodeDecodeError) as error:
                self._set_aside(claimed, name, f"{len(data)} bytes: {error}")
                continue
            if not self.store_processed:
                try:
                    os.unlink(claimed)
                except OSError:
                    pass
            return payload
        raise Empty()

    # -------------------------------------------------------------------- exchange tables (fanout)

    def get_table(self, exchange):
        file = self._exchange_file(exchange)
        try:
            text = file.read_text()
        except FileNotFoundError:
            return []
        except OSError as error:
            raise ChannelError(f"Cannot open {file}") from error
        try:
            return [filesystem.exchange_queue_t(*q) for q in json.loads(text)]
        except (ValueError, TypeError):
            log.error("broker: exchange table %s is unreadable; treating it as empty", file)
            return []

    def _update_table(self, exchange, change) -> None:
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        with open(self.control_folder / ".tables.lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            queues = self.get_table(exchange)
            updated = change(list(queues))
            if updated != queues or not file.exists():
                _write_atomically(self.control_folder, file.name, json.dumps(updated).encode())

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        value = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda queues: queues if value in queues else [value, *queues])

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        filesystem.virtual.Channel._delete(self, queue, exchange, routing_key, pattern, *args, **kwargs)
        value = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        self._update_table(exchange, lambda queues: [q for q in queues if q != value])


class Transport(filesystem.Transport):
    """kombu's filesystem transport with the :class:`Channel` above."""

    Channel = Channel
