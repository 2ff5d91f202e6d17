"""The demo's private files under ``var/``: a per-install secret key, and folders and files only the owner reads.

The database holds every learner's lab parameters and the secret key derives their flags, so neither
may be readable by another account on the machine, and the key must not be a value anyone can look up
in this repository. Everything here is created atomically with its final mode (never created open
and tightened after) and reused as it is on the next start.
"""

from __future__ import annotations

import os
import pathlib
import secrets
import stat

KEY_FILE = "secret-key"


def private_dir(path: pathlib.Path) -> pathlib.Path:
    """``path`` as a folder only its owner can enter (created 0700; an existing one is tightened to 0700)."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if stat.S_IMODE(path.stat().st_mode) != 0o700:
        path.chmod(0o700)
    return path


def private_file(path: pathlib.Path) -> pathlib.Path:
    """``path`` as a file only its owner reads and writes (created empty 0600 if missing; else tightened to 0600).

    SQLite gives its journal and WAL files the mode of the database file, so creating the database
    file 0600 before Django opens it keeps those private too.
    """
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    except FileExistsError:
        if stat.S_IMODE(os.lstat(path).st_mode) & 0o077:
            os.chmod(path, 0o600, follow_symlinks=False)
    return path


def secret_key(var_dir: pathlib.Path) -> str:
    """This install's secret key: made once (256 random bits, file 0600, written atomically), then reused.

    Two processes starting at once (the web server and the worker) agree: the key is written to a
    temporary file and linked into place, and whoever loses the race reads the winner's key.
    """
    path = var_dir / KEY_FILE
    try:
        return _read_key(path)
    except FileNotFoundError:
        pass
    tmp = var_dir / f".{KEY_FILE}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="ascii") as handle:
            handle.write(secrets.token_urlsafe(48) + "\n")
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)  # fails if another process got there first: then theirs is the key
        except FileExistsError:
            pass
    finally:
        os.unlink(tmp)
    return _read_key(path)


def _read_key(path: pathlib.Path) -> str:
    fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    with os.fdopen(fd, encoding="ascii") as handle:
        info = os.fstat(handle.fileno())
        if not stat.S_ISREG(info.st_mode) or info.st_uid != os.getuid() or stat.S_IMODE(info.st_mode) & 0o077:
            raise PermissionError(
                f"{path} must be a regular file of this user with mode 0600; remove it to make a new one"
            )
        key = handle.read(4096).strip()
    if len(key) < 32:
        raise PermissionError(f"{path} holds no usable key; remove it to make a new one")
    return key
