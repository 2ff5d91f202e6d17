"""Reading files that may be hostile (lab OLX, track files, CSV imports, credentials): refused before reading.

A path can name a FIFO (``open`` blocks, ``read`` never ends), a device (``/dev/zero`` behind a symlink
never ends either), a sparse file that claims terabytes, or just a file far over the limit. Each is
refused from ``fstat`` of the opened descriptor, before a byte is read; a regular file that grows
while we read is cut off one byte past the limit. The same descriptor is checked and read, so
swapping the file between the check and the read changes nothing.
"""

from __future__ import annotations

import os
import stat

from xblocks.core.i18n import gettext as _

_CHUNK = 1 << 16


class FileRefused(ValueError):
    """The file was not read: not a regular file, over the limit, or unreadable; ``str()`` says which."""


def _kind(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return _("a named pipe (FIFO)")
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return _("a device")
    if stat.S_ISDIR(mode):
        return _("a folder")
    if stat.S_ISSOCK(mode):
        return _("a socket")
    return _("not a regular file")


def too_large(size: int, limit: int) -> str:
    """The message for a file (or upload) of ``size`` bytes over ``limit`` bytes."""
    return _("%(size)d bytes; the limit is %(limit)d bytes") % {"size": size, "limit": limit}


def read_limited(path: str | os.PathLike, limit: int) -> bytes:
    """The bytes of the regular file at ``path`` if it holds at most ``limit`` of them; FileRefused otherwise."""
    try:
        # O_NONBLOCK: opening a FIFO with no writer would otherwise wait forever.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | os.O_CLOEXEC)
    except OSError as error:
        raise FileRefused(_("cannot open it: %(reason)s") % {"reason": error.strerror or error}) from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise FileRefused(_("refused: it is %(kind)s, not a regular file") % {"kind": _kind(info.st_mode)})
        if info.st_size > limit:
            raise FileRefused(_("refused before reading: %(size)s") % {"size": too_large(info.st_size, limit)})
        os.set_blocking(fd, True)
        chunks, total = [], 0
        while total <= limit:
            chunk = os.read(fd, min(_CHUNK, limit + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
        if total > limit:  # it grew while we read
            raise FileRefused(_("refused: it grew past %(limit)d bytes while being read") % {"limit": limit})
        return b"".join(chunks)
    except OSError as error:
        raise FileRefused(_("cannot read it: %(reason)s") % {"reason": error.strerror or error}) from None
    finally:
        os.close(fd)


def read_text_limited(path: str | os.PathLike, limit: int) -> str:
    """``read_limited`` decoded as UTF-8 (a BOM is dropped); FileRefused when it is not UTF-8."""
    raw = read_limited(path, limit)
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRefused(_("it is not UTF-8 text (byte %(position)d)") % {"position": error.start}) from None


def read_stream_limited(stream, limit: int) -> bytes:
    """At most ``limit`` bytes from a binary stream (standard input, an upload); FileRefused past that."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise FileRefused(_("refused: more than %(limit)d bytes") % {"limit": limit})
    return data


# Room for the multipart envelope around an upload of the largest accepted size.
_MULTIPART_SLACK = 64 * 1024


def body_too_large(request, limit: int) -> bool:
    """Whether the request announces more than ``limit`` bytes (+ the multipart envelope): checked before any read.

    Django parses a multipart body (spooling every file to disk) as soon as anything touches
    ``request.POST`` or ``request.FILES``, the CSRF check included; so this runs first.
    """
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return True
    return length > limit + _MULTIPART_SLACK
