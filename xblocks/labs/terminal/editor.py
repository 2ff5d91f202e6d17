"""The editor service (``kind="editor"``): a file tree and a text editor on a machine's files under ``root``.

Served by the service proxy on the service's own origin, like any service tab, so the same token,
cookie and read-only rules hold; the files are read and written on the lab host through the engine
(``exec``/``read_file`` as checks, ``put_file``), always **as the learner**: the editor can do nothing
the learner's own shell could not. Paths are relative to ``root``; ``..``, absolute paths and control
characters are refused before anything runs, and inside the machine the real path (links resolved)
must still be under the real ``root``, so a link the learner plants never leads the editor out of it.
Reads and writes are capped (``EDITOR_MAX_FILE_BYTES``), listings too (``EDITOR_MAX_ENTRIES``).
"""

from __future__ import annotations

import html
import json
import pathlib

from django.utils import translation

from xblocks.core.i18n import gettext as _
from xblocks.labs.sandbox.base import SandboxError, User, get_backend

EDITOR_MAX_FILE_BYTES = 512 * 1024
EDITOR_MAX_ENTRIES = 1000
EDITOR_MAX_DEPTH = 6
API = "/_kafaat/editor/"
_ASSETS = pathlib.Path(__file__).resolve().parents[1] / "public" / "kafaat-editor"
EDITOR_SCRIPT = (_ASSETS / "editor.js").read_text(encoding="utf-8")
EDITOR_STYLE = (_ASSETS / "editor.css").read_text(encoding="utf-8")

# $1: root, $2: the path relative to it ("" for root itself). Prints the real path when it is under root.
CONFINE = r"""
root=$(realpath -e -- "$1") || { echo "no such folder" >&2; exit 3; }
target=$(realpath -e -- "$root/$2") || { echo "no such file" >&2; exit 4; }
case "$target/" in "$root"/*) ;; *) echo "outside the folder" >&2; exit 5 ;; esac
"""
LIST = (
    CONFINE
    + r"""
cd -- "$target" && find . -mindepth 1 -maxdepth "$3" \( -type d -printf 'd %s %P\n' -o -type f -printf 'f %s %P\n' \) \
  2>/dev/null | LC_ALL=C sort -k3 | head -n "$4"
"""
)
READ = (
    CONFINE
    + r"""
[ -f "$target" ] || { echo "not a file" >&2; exit 6; }
size=$(stat -c %s -- "$target")
[ "$size" -le "$3" ] || { echo "too large" >&2; exit 7; }
cat -- "$target"
"""
)
# A write goes to the parent folder's real path (under root), then put_file replaces the name with
# ``mv -T``: a link planted at the name is replaced, never followed.
PARENT = r"""
root=$(realpath -e -- "$1") || exit 3
parent=$(realpath -e -- "$(dirname -- "$root/$2")") || { echo "no such folder" >&2; exit 4; }
case "$parent/" in "$root"/*) ;; *) echo "outside the folder" >&2; exit 5 ;; esac
name=$(basename -- "$2")
[ ! -d "$parent/$name" ] || { echo "a folder" >&2; exit 6; }
printf '%s/%s' "$parent" "$name"
"""


class EditorError(Exception):
    """A refusal the editor shows the learner (``code`` for the page, ``status`` for HTTP)."""

    def __init__(self, code: str, status: int = 400):
        super().__init__(code)
        self.code, self.status = code, status


def relative_path(raw: object) -> str:
    """A path relative to the editor's root, or EditorError: no ``..``, nothing absolute, no control characters."""
    if not isinstance(raw, str) or len(raw) > 1024:
        raise EditorError("bad-path")
    if raw in ("", "."):
        return ""
    parts = raw.split("/")
    if raw.startswith("/") or any(part in ("", ".", "..") for part in parts):
        raise EditorError("bad-path")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in raw):
        raise EditorError("bad-path")
    return raw


_CODES = {
    3: ("no-root", 404),
    4: ("not-found", 404),
    5: ("outside", 403),
    6: ("not-a-file", 400),
    7: ("too-large", 413),
}


def _run(target, script: str, *args: str, limit: int = 64 * 1024):
    backend = get_backend(target.handle.backend)
    result = backend.exec(
        target.handle, script, user=User.LEARNER, args=args, timeout=20.0, output_limit=limit, check=True
    )
    if result.exit_code in _CODES:
        raise EditorError(*_CODES[result.exit_code])
    if not result.ok or result.truncated:
        raise EditorError("failed", 502)
    return result


def list_files(target) -> list[dict]:
    result = _run(
        target, LIST, target.root, "", str(EDITOR_MAX_DEPTH), str(EDITOR_MAX_ENTRIES), limit=EDITOR_MAX_ENTRIES * 1100
    )
    entries = []
    for line in result.stdout.splitlines():
        kind, _sep, rest = line.partition(" ")
        size, _sep, path = rest.partition(" ")
        if kind in ("d", "f") and path:
            entries.append({"path": path, "dir": kind == "d", "size": int(size) if size.isdigit() else 0})
    return entries


def read_file(target, path: str) -> str:
    result = _run(
        target, READ, target.root, relative_path(path), str(EDITOR_MAX_FILE_BYTES), limit=EDITOR_MAX_FILE_BYTES + 1
    )
    if "\x00" in result.stdout:
        raise EditorError("binary")
    return result.stdout


def write_file(target, path: str, content: bytes) -> None:
    relative = relative_path(path)
    if not relative:
        raise EditorError("bad-path")
    if len(content) > EDITOR_MAX_FILE_BYTES:
        raise EditorError("too-large", 413)
    destination = _run(target, PARENT, target.root, relative).stdout
    backend = get_backend(target.handle.backend)
    try:
        backend.put_file(target.handle, destination, content, user=User.LEARNER, mode=0o644)
    except SandboxError:
        raise EditorError("failed", 502) from None


def messages() -> dict[str, str]:
    return {
        "files": _("Files"),
        "save": _("Save"),
        "saved": _("Saved."),
        "choose": _("Choose a file to edit."),
        "read-only": _("Read-only view"),
        "bad-path": _("This path is not allowed."),
        "not-found": _("This file does not exist (any more)."),
        "no-root": _("The editor's folder does not exist in the lab yet."),
        "outside": _("This file is outside the editor's folder."),
        "not-a-file": _("This is not a file."),
        "too-large": _("This file is too large to edit here."),
        "binary": _("This is not a text file."),
        "failed": _("The lab did not answer. Try again."),
        "unsaved": _("Unsaved changes"),
    }


def page(lang: str, read_only: bool) -> bytes:
    """The editor's page: a file list and a text area, vanilla script, strings in the learner's language."""
    with translation.override(lang):
        strings = messages()
        direction = "rtl" if translation.get_language_bidi() else "ltr"
    data = html.escape(json.dumps({"strings": strings, "readOnly": read_only, "api": API}), quote=True)
    return f"""<!doctype html><html lang="{html.escape(lang)}" dir="{direction}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1"><title>{html.escape(strings["files"])}</title>
<style>{EDITOR_STYLE}</style></head><body data-editor="{data}">
<nav aria-label="{html.escape(strings["files"])}"><ul id="files"></ul></nav>
<main><header><span id="name"></span><span id="status" role="status" aria-live="polite"></span>
<button type="button" id="save" disabled>{html.escape(strings["save"])}</button></header>
<textarea id="text" spellcheck="false" aria-labelledby="name" disabled></textarea></main>
<script>{EDITOR_SCRIPT}</script></body></html>""".encode()
