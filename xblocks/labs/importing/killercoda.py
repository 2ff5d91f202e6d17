"""Killercoda (and Katacoda) scenario folders turned into ``<kafaat_lab>`` OLX, with everything dropped named.

A scenario is a folder with ``index.json``, Markdown texts, shell scripts (``verify``, ``background``,
``foreground``) and an ``assets/`` folder. The folder is untrusted input: every path it names is
resolved inside it (no ``..``, no absolute paths, no symbolic link anywhere on the way), every file is
read through ``read_limited`` (a FIFO, a device or an oversized file is refused before a byte is read),
and every text must be one XML can carry. What is produced is OLX text, and each lab is parsed back
with ``parse_lab`` before it is handed out, so an import cannot emit a lab ``kafaat lab validate``
would refuse.

The mapping (docs/authoring-labs.md, *Importing Killercoda scenarios*): Killercoda learners are root
in ``/root``; an imported lab gives the learner sudo and opens their terminal as root in ``/root``, so
commands, ``~`` and verify scripts (checks as root, from ``/root``) mean what they meant there.
"""

from __future__ import annotations

import base64
import fnmatch
import json
import os
import pathlib
import posixpath
import re
import stat
from dataclasses import dataclass, field
from typing import Any

from xblocks.core.files import FileRefused, read_limited
from xblocks.core.i18n import gettext as _
from xblocks.core.xml import MAX_XML_BYTES
from xblocks.labs.definition import (
    ID_PATTERN,
    MAX_FILE_CHARS,
    MAX_FILES,
    MAX_SCRIPT_CHARS,
    MAX_STEPS,
    MAX_TEXT_CHARS,
    LabDefinitionError,
    parse_lab,
    path_problem,
)

MAX_INDEX_BYTES = 256 * 1024
MAX_IMAGE_BYTES = 24 * 1024  # an image inlined as a data: URI (a third larger once in base64)
MAX_IMAGES_CHARS = 40 * 1024  # all the inlined images of one text, within the 64 KiB cap of a text
INDEX_KEYS = {"title", "description", "details", "backend", "interface", "environment"}
MAX_SCENARIOS = 100
MAX_ASSET_ENTRIES = 2000  # entries walked under assets/ before giving up (a huge tree is refused)
CHECK_TIMEOUT = "30s"  # a verify script that never ends is killed and fails the check
ROOT_HOME = "/root"
INTERRUPT_AFTER = 3  # seconds a solve lets a command run before the Ctrl-C of the next {{exec interrupt}}

# Killercoda images by what a rootless Kafaat machine can give.
KUBERNETES_IMAGE = re.compile(r"kubernetes|kubeadm|k3s|k8s|minikube|openshift", re.IGNORECASE)
DOCKER_IMAGE = re.compile(r"^(docker|dind|podman)", re.IGNORECASE)
LINUX_IMAGE = re.compile(r"^(ubuntu|debian|bash|linux)([:\-_.].*)?$", re.IGNORECASE)
# Commands that need a container engine or a cluster, in scripts and command blocks.
DOCKER_USE = re.compile(r"(?:^|[\s;&|(`$])(?:sudo\s+)?(docker(?:-compose)?|podman)\s+[a-z]", re.MULTILINE)
KUBERNETES_USE = re.compile(r"(?:^|[\s;&|(`$])(?:sudo\s+)?(kubectl|kubeadm|helm|k3s)\s+[a-z]", re.MULTILINE)

# Characters XML 1.0 cannot carry (tab, newline and carriage return aside), and the lab format's own syntax.
XML_FORBIDDEN = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")
LAB_EXPRESSION = re.compile(r"\{\{\s*lab\.")

FENCE = re.compile(r"^(?P<indent>[ \t]*)(?P<fence>```+|~~~+)(?P<info>[^`]*)$")
INLINE_ACTION = re.compile(r"`(?P<code>[^`\n]+)`\{\{(?P<action>[^{}\n]*)\}\}")
TRAFFIC = re.compile(r"\{\{\s*TRAFFIC_HOST(?P<host>\d+)_(?P<port>\d{1,5})\s*\}\}")
TRAFFIC_LINK = re.compile(r"\[(?P<text>[^\]\n]*)\]\(\s*(?P<target>\{\{\s*TRAFFIC_[A-Z0-9_]+\s*\}\})\s*\)")
# Katacoda wrote a port's address out: https://[[HOST_SUBDOMAIN]]-8080-[[KATACODA_HOST]].environments.katacoda.com/
KATACODA_ADDRESS = re.compile(
    r"https?://\[\[HOST_SUBDOMAIN\]\]-(?P<port>\d{1,5})-\[\[KATACODA_HOST\]\]\.environments\.katacoda\.com/?[^\s)\]]*"
)
SELECTOR = re.compile(r"\{\{\s*TRAFFIC_SELECTOR\s*\}\}")
IMAGE = re.compile(r"!\[(?P<alt>[^\]\n]*)\]\((?P<src>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
PLACEHOLDER = re.compile(r"\{\{[^{}\n]{0,80}\}\}")
DETAILS_OPEN = re.compile(r"<details\b[^>]*>", re.IGNORECASE)
DETAILS_CLOSE = re.compile(r"</details\s*>", re.IGNORECASE)
DETAILS_SUMMARY_CLOSE = re.compile(r"</summary\s*>", re.IGNORECASE)
MAX_DETAILS_DEPTH = 4
SUMMARY = re.compile(r"<summary\b[^>]*>(?P<text>.*?)</summary\s*>", re.IGNORECASE | re.DOTALL)
SOLUTION_SUMMARY = re.compile(r"solution|answer|solve", re.IGNORECASE)
LANGUAGE = re.compile(r"^[A-Za-z0-9_+.-]{1,32}$")
# Editor layouts of Killercoda (``interface.layout``) and Katacoda (``environment.uilayout``).
EDITOR_LAYOUT = re.compile(r"ide|editor|vscode|theia", re.IGNORECASE)


class ScenarioError(ValueError):
    """A scenario that cannot be imported; ``reasons`` are translated sentences, one per reason."""

    def __init__(self, reasons: list[str]):
        self.reasons = reasons
        super().__init__("; ".join(reasons))


@dataclass
class Note:
    """Something of the scenario that did not carry over as it was, and why."""

    item: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return {"item": self.item, "reason": self.reason}


@dataclass
class ImportedLab:
    folder: str
    title: str
    lab_key: str
    olx: str
    notes: list[Note] = field(default_factory=list)
    services: list[dict[str, str]] = field(default_factory=list)


@dataclass
class Refused:
    folder: str
    reasons: list[str]


@dataclass
class ImportResult:
    """What an import produced: the OLX (one lab, or a course structure of labs), and the report."""

    source: str
    olx: str = ""
    labs: list[ImportedLab] = field(default_factory=list)
    refused: list[Refused] = field(default_factory=list)
    course: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "source": self.source,
            "course": self.course,
            "labs": [
                {
                    "folder": lab.folder,
                    "title": lab.title,
                    "lab_key": lab.lab_key,
                    "services": lab.services,
                    "dropped": [note.as_dict() for note in lab.notes],
                }
                for lab in self.labs
            ],
            "refused": [{"folder": item.folder, "reasons": item.reasons} for item in self.refused],
        }


# ---------------------------------------------------------------------------------------------------
# Reading the folder without trusting it


def _climbs(relative: str) -> bool:
    parts = pathlib.PurePosixPath(relative).parts
    return relative.startswith(("/", "\\")) or ".." in parts or "\\" in relative or "\x00" in relative


class _Folder:
    """A scenario folder: every name resolved inside it, no link followed, every file read with a cap."""

    def __init__(self, root: pathlib.Path):
        self.root = root

    def path(self, relative: str, what: str) -> pathlib.Path:
        if not isinstance(relative, str) or not relative.strip():
            raise ScenarioError([_("%(what)s names no file.") % {"what": what}])
        if _climbs(relative):
            raise ScenarioError(
                [_("%(what)s names %(path)r, which is outside the scenario folder.") % {"what": what, "path": relative}]
            )
        path = self.root
        for part in pathlib.PurePosixPath(relative).parts:
            if part in ("", "."):
                continue
            path = path / part
            if path.is_symlink():
                raise ScenarioError(
                    [
                        _("%(what)s names %(path)r, which goes through a symbolic link; links are not followed.")
                        % {"what": what, "path": relative}
                    ]
                )
        return path

    def exists(self, relative: str) -> bool:
        try:
            return self.path(relative, relative).exists()
        except ScenarioError:
            return True  # let read() say why

    def read_bytes(self, relative: str, what: str, cap: int) -> bytes:
        path = self.path(relative, what)
        try:
            return read_limited(path, cap)
        except FileRefused as error:
            raise ScenarioError(
                [_("%(what)s (%(path)s): %(reason)s") % {"what": what, "path": relative, "reason": error}]
            ) from None

    def read(self, relative: str, what: str, cap: int) -> str:
        raw = self.read_bytes(relative, what, cap)
        try:
            text = raw.decode("utf-8-sig")
        except UnicodeDecodeError as error:
            raise ScenarioError(
                [
                    _("%(what)s (%(path)s) is not UTF-8 text (byte %(position)d).")
                    % {"what": what, "path": relative, "position": error.start}
                ]
            ) from None
        return _xml_text(text.replace("\r\n", "\n").replace("\r", "\n"), f"{what} ({relative})")


def _xml_text(text: str, what: str) -> str:
    match = XML_FORBIDDEN.search(text)
    if match:
        line = text.count("\n", 0, match.start()) + 1
        raise ScenarioError(
            [
                _("%(what)s holds the control character %(char)s on line %(line)d, which OLX cannot carry.")
                % {"what": what, "char": f"U+{ord(match.group(0)):04X}", "line": line}
            ]
        )
    if LAB_EXPRESSION.search(text):
        raise ScenarioError([_("%(what)s contains '{{ lab.', which Kafaat reads as a lab parameter.") % {"what": what}])
    return text


# ---------------------------------------------------------------------------------------------------
# OLX text


def _attr(value: Any) -> str:
    text = str(value)
    for old, new in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;"), ('"', "&quot;"), ("\n", "&#10;"), ("\t", "&#9;")):
        text = text.replace(old, new)
    return f'"{text}"'


def _attrs(pairs: list[tuple[str, Any]]) -> str:
    return "".join(f" {name}={_attr(value)}" for name, value in pairs if value is not None)


def _cdata(text: str) -> str:
    """Text in CDATA on its own lines; a ``]]>`` inside is split across two sections (XML's only way)."""
    return "<![CDATA[\n" + text.replace("]]>", "]]]]><![CDATA[>") + "\n]]>"


def _element(tag: str, attrs: list[tuple[str, Any]], text: str, indent: str) -> str:
    return f"{indent}<{tag}{_attrs(attrs)}>{_cdata(text)}</{tag}>"


def _slug(text: str, fallback: str) -> str:
    slug = re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-_")[:64].strip("-_")
    return slug if slug and ID_PATTERN.match(slug) else fallback


# ---------------------------------------------------------------------------------------------------
# Markdown


@dataclass
class _Converted:
    markdown: str
    hints: list[str]
    commands: list[tuple[str, bool]]  # {{exec}} commands in document order, hints included; True: Ctrl-C first
    ports: list[int]


class _Markdown:
    """Killercoda Markdown to Kafaat Markdown: actions on code to plain blocks (the page adds Copy and Run)."""

    def __init__(self, notes: list[Note], where: str, folder: _Folder | None = None, base: str = ""):
        self.notes = notes
        self.where = where
        self.machine_count = 1
        self.folder = folder
        self.base = base  # the folder of the Markdown file, inside the scenario: images are relative to it
        self.image_budget = MAX_IMAGES_CHARS
        self.depth = 0  # <details> inside <details>: bounded, so hostile nesting cannot exhaust the stack
        self.too_deep = False

    def note(self, item: str, reason: str) -> None:
        note = Note(f"{self.where}: {item}", reason)
        if note not in self.notes:  # a thing repeated a thousand times is named once
            self.notes.append(note)

    def convert(self, text: str) -> _Converted:
        out: list[str] = []
        hints: list[str] = []
        commands: list[tuple[str, bool]] = []
        ports: list[int] = []
        text = KATACODA_ADDRESS.sub(lambda m: "{{TRAFFIC_HOST1_" + m.group("port") + "}}", text)
        lines = text.split("\n")
        pending: list[str] = []  # commands of inline {{exec}} to show as blocks after their paragraph
        ends = self._details_ends(lines)
        index = 0
        while index < len(lines):
            line = lines[index]
            if DETAILS_OPEN.search(line) and not FENCE.match(line):
                end = None if self.depth >= MAX_DETAILS_DEPTH else ends.get(index)
                if self.depth >= MAX_DETAILS_DEPTH:
                    if not self.too_deep:
                        self.too_deep = True
                        self.note(
                            _("<details> nested more than %(cap)d deep") % {"cap": MAX_DETAILS_DEPTH},
                            _("kept as text"),
                        )
                elif end is None:
                    self.note(_("an unclosed <details> block"), _("kept as text; close it with </details>"))
                else:
                    block = "\n".join(lines[index : end + 1])
                    hint = self._hint(block, commands, ports)
                    if hint:
                        hints.append(hint)
                    index = end + 1
                    continue
            fence = FENCE.match(line)
            if fence:
                self._flush(out, pending)
                index = self._fence(lines, index, fence, out, commands)
                continue
            if not line.strip():
                self._flush(out, pending)
                if not out or out[-1].strip():
                    out.append("")
                index += 1
                continue
            converted_line = self._inline(line, pending, commands, ports)
            if converted_line.strip():
                out.append(converted_line)
            else:  # the line was only a command: its block takes its place
                self._flush(out, pending)
            index += 1
        self._flush(out, pending)
        return _Converted("\n".join(out).strip("\n"), hints, commands, ports)

    @staticmethod
    def _details_ends(lines: list[str]) -> dict[int, int]:
        """For each line opening a ``<details>``, the line that closes it; one pass (a stack), never quadratic.

        A block from line i ends at the first line j >= i where the opens minus closes of lines i..j
        fall to zero or below: with prefix sums P, the first j with P[j + 1] <= P[i].
        """
        prefix = [0]
        for line in lines:
            prefix.append(prefix[-1] + len(DETAILS_OPEN.findall(line)) - len(DETAILS_CLOSE.findall(line)))
        ends: dict[int, int] = {}
        waiting: list[int] = []  # their prefix values strictly increase from bottom to top
        for index, line in enumerate(lines):
            if DETAILS_OPEN.search(line):
                waiting.append(index)
            while waiting and prefix[index + 1] <= prefix[waiting[-1]]:
                ends[waiting.pop()] = index
        return ends

    def _hint(self, block: str, commands: list[tuple[str, bool]], ports: list[int]) -> str:
        inner = DETAILS_OPEN.sub("", block, count=1)
        closes = list(DETAILS_CLOSE.finditer(inner))
        if closes:
            inner = inner[: closes[-1].start()] + inner[closes[-1].end() :]
        summary = SUMMARY.search(inner) if DETAILS_SUMMARY_CLOSE.search(inner) else None
        title = re.sub(r"<[^>]*>", "", summary.group("text")).strip() if summary else ""
        body = SUMMARY.sub("", inner, count=1) if summary else inner
        self.depth += 1
        try:
            converted = self.convert(body)
        finally:
            self.depth -= 1
        commands.extend(converted.commands)
        ports.extend(converted.ports)
        parts = [f"**{title}**"] if title else []
        parts += [converted.markdown] + converted.hints
        return "\n\n".join(part for part in parts if part.strip()).strip()

    def _fence(
        self, lines: list[str], start: int, fence: re.Match, out: list[str], commands: list[tuple[str, bool]]
    ) -> int:
        marker, indent = fence.group("fence"), fence.group("indent")
        info = fence.group("info").strip()
        language = info.split()[0] if info.split() else ""
        if info and (len(info.split()) > 1 or "{" in info):
            self.note(_("code block options %(info)r") % {"info": info}, _("line highlights and options are dropped"))
        if language and not LANGUAGE.match(language):
            language = ""
        body: list[str] = []
        index = start + 1
        action = None
        closed = False
        while index < len(lines):
            stripped = lines[index].strip()
            rest = stripped.lstrip(marker[0]).strip()
            if len(stripped) - len(stripped.lstrip(marker[0])) >= len(marker) and (
                not rest or re.fullmatch(r"\{\{[^{}]*\}\}", rest)
            ):
                action = rest[2:-2].strip() if rest else None
                closed = True
                index += 1
                break
            line = lines[index]
            body.append(line[len(indent) :] if line.startswith(indent) else line.lstrip())
            index += 1
        if not closed:
            self.note(_("an unclosed code block"), _("closed at the end of the text"))
        code = self._local_addresses("\n".join(body))
        body = code.split("\n")
        kind = self._action(action, code)
        if kind in ("exec", "interrupt"):
            commands.append((code, kind == "interrupt"))
        if kind == "interrupt":
            out.append(_("*Press Ctrl-C in the terminal first, to stop what is running.*"))
            out.append("")
        out.append("```" + language)
        out.extend(body)
        out.append("```")
        return index

    def _local_addresses(self, code: str) -> str:
        """In commands, a traffic placeholder is the service's address seen from inside the lab."""

        def local(match: re.Match) -> str:
            port = int(match.group("port"))
            if int(match.group("host")) > self.machine_count or not 1 <= port <= 65535:
                return match.group(0)
            self.note(
                _("the address %(text)s in a command") % {"text": match.group(0)},
                _("written as http://127.0.0.1:%(port)s, the same service from inside the lab") % {"port": port},
            )
            return f"http://127.0.0.1:{port}"

        return TRAFFIC.sub(local, code)

    def _action(self, action: str | None, code: str) -> str:
        """What a ``{{...}}`` after code means: exec, interrupt, copy, plain (``{{}}`` or none), or dropped."""
        if action is None or action == "":
            return "plain"
        words = action.split()
        if words[0] in ("exec", "execute"):
            rest = [word for word in words[1:] if word != "interrupt"]
            if rest:
                self.note(
                    _("the action {{%(action)s}}") % {"action": action},
                    _("the terminal or machine it names is not carried; the command runs in the lab's terminal"),
                )
            return "interrupt" if "interrupt" in words[1:] else "exec"
        if words[0] == "copy":
            return "copy"
        self.note(_("the action {{%(action)s}}") % {"action": action}, _("Kafaat has no such action; dropped"))
        return "plain"

    def _inline(self, line: str, pending: list[str], commands: list[tuple[str, bool]], ports: list[int]) -> str:
        alone = INLINE_ACTION.fullmatch(line.strip())

        def action(match: re.Match) -> str:
            code = self._local_addresses(match.group("code"))
            kind = self._action(match.group("action").strip(), code)
            if kind in ("exec", "interrupt"):
                commands.append((code, kind == "interrupt"))
                if kind == "interrupt":
                    pending.append(_("*Press Ctrl-C in the terminal first, to stop what is running.*"))
                pending.append(code)
                return "" if alone else f"`{code}`"
            return f"`{code}`"

        line = INLINE_ACTION.sub(action, line)
        line = self._traffic(line, ports)
        line = IMAGE.sub(self._image, line)
        for match in PLACEHOLDER.finditer(line):
            self.note(
                _("the placeholder %(text)s") % {"text": match.group(0)},
                _("Kafaat has no such placeholder; kept as text"),
            )
        return line

    def _flush(self, out: list[str], pending: list[str]) -> None:
        if not pending:
            return
        if out and out[-1].strip():
            out.append("")
        for item in pending:
            if item.startswith("*"):
                out.extend([item, ""])
            else:
                out.extend(["```", item, "```", ""])
        pending.clear()

    def _traffic(self, line: str, ports: list[int]) -> str:
        def port_of(placeholder: str) -> str:
            match = TRAFFIC.fullmatch(placeholder.strip())
            if not match:
                return _("the service tabs beside the terminal")
            host, port = int(match.group("host")), int(match.group("port"))
            if host > self.machine_count or not 1 <= port <= 65535:
                self.note(
                    _("the link to port %(port)s of machine %(host)s") % {"port": port, "host": host},
                    _("the lab has no such machine; kept as text"),
                )
                return _("port %(port)s") % {"port": port}
            ports.append(port)
            return _("the **Port %(port)s** tab beside the terminal") % {"port": port}

        line = TRAFFIC_LINK.sub(lambda m: f"{m.group('text')} ({port_of(m.group('target'))})", line)
        line = TRAFFIC.sub(lambda m: port_of(m.group(0)), line)
        return SELECTOR.sub(lambda m: port_of(m.group(0)), line)

    def _image(self, match: re.Match) -> str:
        """A relative raster image becomes a data: URI when small (labs carry no static files); else its description."""
        src = match.group("src")
        if re.match(r"^https?://", src, re.IGNORECASE):
            return match.group(0)
        alt = match.group("alt").strip() or src
        item = _("the image %(src)s") % {"src": src}
        data, reason = self._image_data(src)
        if data is not None and len(data) > self.image_budget:
            data, reason = None, _("the text's images are over %(cap)d characters together") % {"cap": MAX_IMAGES_CHARS}
        if data is None:
            self.note(item, reason + "; " + _("replaced by its description"))
            return "*" + (_("(image: %(alt)s)") % {"alt": alt}) + "*"
        self.image_budget -= len(data)
        return f"![{match.group('alt')}]({data})"

    def _image_data(self, src: str) -> tuple[str | None, str]:
        if self.folder is None or re.match(r"^[a-z][a-z0-9+.-]*:", src, re.IGNORECASE):
            return None, _("only images in the scenario folder are imported")
        relative = posixpath.normpath(posixpath.join(self.base, src.split("#")[0].split("?")[0]))
        try:
            raw = self.folder.read_bytes(relative, _("the image"), MAX_IMAGE_BYTES)
        except ScenarioError as error:
            return None, "; ".join(error.reasons)
        kind = _raster_kind(raw)
        if kind is None:
            return None, _("only PNG, JPEG, GIF and WebP images are imported (an SVG can carry script)")
        return f"data:image/{kind};base64," + base64.b64encode(raw).decode("ascii"), ""


def _raster_kind(raw: bytes) -> str | None:
    """The image type from its first bytes, for the four raster formats browsers show: never trust a name."""
    if raw.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if raw.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if raw.startswith((b"GIF87a", b"GIF89a")):
        return "gif"
    if raw[:4] == b"RIFF" and raw[8:12] == b"WEBP":
        return "webp"
    return None


# ---------------------------------------------------------------------------------------------------
# One scenario


def _mode(chmod: Any, notes: list[Note], item: str) -> int:
    """An asset's mode from Killercoda's ``chmod`` (``+x``, ``u+w``, ``755``), applied to 0644."""
    mode = 0o644
    if chmod is None or chmod == "":
        return mode
    text = str(chmod).strip()
    if re.fullmatch(r"0?[0-7]{3,4}", text):
        mode = int(text, 8)
    else:
        for clause in text.split(","):
            match = re.fullmatch(r"([ugoa]*)([-+=])([rwx]*)", clause.strip())
            if not match:
                notes.append(Note(item, _("chmod %(value)r is not understood; the file is 0644") % {"value": text}))
                return 0o644
            who = match.group(1) or "a"
            bits = 0
            for perm, value in (("r", 4), ("w", 2), ("x", 1)):
                if perm in match.group(3):
                    for scope, shift in (("u", 6), ("g", 3), ("o", 0)):
                        if scope in who or "a" in who:
                            bits |= value << shift
            if match.group(2) == "+":
                mode |= bits
            elif match.group(2) == "-":
                mode &= ~bits
            else:
                mask = sum(7 << shift for scope, shift in (("u", 6), ("g", 3), ("o", 0)) if scope in who or "a" in who)
                mode = (mode & ~mask) | bits
    if mode & 0o6000:
        notes.append(Note(item, _("setuid and setgid bits are dropped: labs mount everything nosuid")))
        mode &= 0o1777
    return mode


def _target(raw: Any) -> str | None:
    if not isinstance(raw, str) or not raw.strip():
        return None
    target = raw.strip()
    if target == "~" or target.startswith("~/"):
        target = ROOT_HOME + target[1:]
    target = "/" + "/".join(part for part in target.split("/") if part)
    return target if target.startswith("/") else None


class _Scenario:
    def __init__(self, root: pathlib.Path, label: str, machine_image: str | None, knows_services: bool):
        self.folder = _Folder(root)
        self.label = label
        self.machine_image = machine_image
        self.knows_services = knows_services
        self.notes: list[Note] = []
        self.reasons: list[str] = []
        self.scanned: list[str] = []  # scripts and commands, scanned for container engines and clusters
        self.refused_image = ""  # "kubernetes" or "docker" when the image itself was refused

    def note(self, item: str, reason: str) -> None:
        self.notes.append(Note(item, reason))

    # index.json

    def index(self) -> dict:
        raw = self.folder.read("index.json", "index.json", MAX_INDEX_BYTES)
        try:
            data = json.loads(raw)
        except RecursionError:
            raise ScenarioError([_("index.json is nested too deeply.")]) from None
        except ValueError as error:
            raise ScenarioError(
                [
                    _("index.json is not valid JSON: %(reason)s (line %(line)s).")
                    % {"reason": getattr(error, "msg", error), "line": getattr(error, "lineno", "?")}
                ]
            ) from None
        if not isinstance(data, dict):
            raise ScenarioError([_("index.json must hold an object.")])
        return data

    @staticmethod
    def _object(data: Any, key: str) -> dict:
        value = data.get(key) if isinstance(data, dict) else None
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise ScenarioError([_("index.json: %(key)s must be an object.") % {"key": key}])
        return value

    @staticmethod
    def _string(data: dict, key: str, where: str) -> str | None:
        value = data.get(key)
        if value is None:
            return None
        if not isinstance(value, str):
            raise ScenarioError([_("index.json: %(where)s.%(key)s must be a string.") % {"where": where, "key": key}])
        return value

    def text(self, data: dict, key: str, where: str, cap: int, what: str) -> str | None:
        name = self._string(data, key, where)
        if not name:
            return None
        return self.folder.read(name, what, cap).strip("\n")

    # image

    def image(self, backend: dict, environment: dict) -> str:
        image_id = self._string(backend, "imageid", "backend") or self._string(environment, "imageid", "environment")
        image_id = (image_id or "ubuntu").strip()
        if KUBERNETES_IMAGE.search(image_id):
            self.reasons.append(
                _(
                    "The image %(image)s is a Kubernetes cluster (kubeadm one or two nodes): a cluster needs a "
                    "container runtime and kernel privileges that a rootless sandbox does not give."
                )
                % {"image": image_id}
            )
            self.refused_image = "kubernetes"
            return ""
        if DOCKER_IMAGE.search(image_id):
            self.reasons.append(
                _(
                    "The image %(image)s runs Docker in the lab: a container engine needs privileges that a "
                    "rootless sandbox does not give."
                )
                % {"image": image_id}
            )
            self.refused_image = "docker"
            return ""
        if LINUX_IMAGE.match(image_id):
            image = self.machine_image or "base"
            if image_id.lower() not in ("ubuntu", "debian", "bash", "linux"):
                self.note(
                    _("the image %(image)s") % {"image": image_id},
                    _("runs on the Kafaat image %(kafaat)s (Debian); release-specific packages may differ")
                    % {"kafaat": image},
                )
            return image
        if self.machine_image:
            self.note(
                _("the image %(image)s") % {"image": image_id},
                _("unknown to the importer; runs on %(kafaat)s as --machine-image asked")
                % {"kafaat": self.machine_image},
            )
            return self.machine_image
        self.reasons.append(
            _(
                "The image %(image)s is unknown to the importer; pass --machine-image NAME to run the scenario on "
                "a Kafaat image."
            )
            % {"image": image_id}
        )
        return ""

    # assets

    def assets(self, details: dict) -> list[str]:
        assets = self._object(details, "assets")
        files: list[str] = []
        if not assets:
            return files
        entries = self._walk_assets()
        seen: set[str] = set()
        for position, (machine, items) in enumerate(assets.items()):
            if position > 0:
                self.note(
                    _("the assets of %(machine)s") % {"machine": machine},
                    _("the lab has one machine; they are dropped"),
                )
                continue
            if not isinstance(items, list):
                raise ScenarioError(
                    [_("index.json: details.assets.%(machine)s must be a list.") % {"machine": machine}]
                )
            for item in items:
                files.extend(self._asset(item, entries, seen))
        if len(files) > MAX_FILES:
            raise ScenarioError(
                [
                    _("The scenario has %(count)d asset files; a lab holds at most %(cap)d.")
                    % {"count": len(files), "cap": MAX_FILES}
                ]
            )
        return files

    def _walk_assets(self) -> dict[str, pathlib.Path]:
        """Every regular file under assets/, by its path relative to it; links and specials are noted, not read."""
        found: dict[str, pathlib.Path] = {}
        if not self.folder.exists("assets"):
            return found
        base = self.folder.path("assets", _("the assets folder"))
        if not base.is_dir():
            return found
        count = 0
        for directory, dirnames, filenames in os.walk(base, followlinks=False):
            for name in sorted(dirnames + filenames):
                count += 1
                if count > MAX_ASSET_ENTRIES:
                    raise ScenarioError(
                        [_("The assets folder holds more than %(cap)d entries.") % {"cap": MAX_ASSET_ENTRIES}]
                    )
                path = pathlib.Path(directory) / name
                relative = path.relative_to(base).as_posix()
                info = path.lstat()
                if stat.S_ISLNK(info.st_mode):
                    self.note(
                        _("the asset %(path)s") % {"path": relative},
                        _("it is a symbolic link; links are not followed"),
                    )
                elif stat.S_ISREG(info.st_mode):
                    found[relative] = path
                elif not stat.S_ISDIR(info.st_mode):
                    self.note(_("the asset %(path)s") % {"path": relative}, _("it is not a regular file"))
            dirnames[:] = [name for name in dirnames if not (pathlib.Path(directory) / name).is_symlink()]
        return found

    def _asset(self, item: Any, entries: dict[str, pathlib.Path], seen: set[str]) -> list[str]:
        if not isinstance(item, dict):
            raise ScenarioError([_("index.json: each asset must be an object with file and target.")])
        pattern = item.get("file")
        if not isinstance(pattern, str) or not pattern.strip():
            raise ScenarioError([_("index.json: an asset has no file.")])
        pattern = pattern.strip().removeprefix("./")
        if _climbs(pattern):
            raise ScenarioError([_("The asset %(path)r is outside the scenario's assets folder.") % {"path": pattern}])
        self.unused(item, {"file", "target", "chmod"}, _("the asset %(path)s") % {"path": pattern})
        target = _target(item.get("target"))
        if target is None:
            raise ScenarioError([_("index.json: the asset %(path)s has no target folder.") % {"path": pattern}])
        matched: list[tuple[str, str]] = []  # (relative path, path under the target)
        # As the shell would copy it: the pattern matches whole path segments (a * stays inside one); a
        # folder it matches brings everything under it, placed under the folder's own name.
        depth = len(pattern.rstrip("/").split("/"))
        for relative in sorted(entries):
            parts = relative.split("/")
            if len(parts) < depth or not fnmatch.fnmatchcase("/".join(parts[:depth]), pattern.rstrip("/")):
                continue
            matched.append((relative, "/".join(parts[depth - 1 :])))
        if not matched:
            self.note(_("the asset %(path)s") % {"path": pattern}, _("no file in assets/ matches it"))
            return []
        out = []
        for relative, name in matched:
            path = f"{target.rstrip('/')}/{name}"
            what = _("the asset %(path)s") % {"path": relative}
            problem = path_problem(path)
            if problem:
                self.note(what, problem)
                continue
            if path in seen:
                self.note(what, _("another asset is already placed at %(path)s") % {"path": path})
                continue
            try:
                content = self.folder.read("assets/" + relative, what, MAX_FILE_CHARS)
            except ScenarioError as error:
                self.note(what, _("dropped: %(reason)s") % {"reason": "; ".join(error.reasons)})
                continue
            if len(content) > MAX_FILE_CHARS - 1:
                self.note(what, _("over the lab file cap of %(cap)d characters") % {"cap": MAX_FILE_CHARS})
                continue
            seen.add(path)
            mode = _mode(item.get("chmod"), self.notes, what)
            out.append(
                _element(
                    "file", [("path", path), ("mode", f"{mode:04o}"), ("owner", "root")], content.rstrip("\n"), "  "
                )
                if content.strip()
                else f"  <file{_attrs([('path', path), ('mode', f'{mode:04o}'), ('owner', 'root')])}/>"
            )
        return out

    # the lab

    def script(self, data: dict, key: str, where: str, what: str) -> str | None:
        text = self.text(data, key, where, MAX_SCRIPT_CHARS, what)
        if text is not None:
            self.scanned.append(text)
            if not text.strip():
                self.note(what, _("it is empty"))
                return None
        return text

    def unused(self, data: dict, known: set[str], where: str) -> None:
        """Name every field of ``data`` that the import does not carry (difficulty, time, IDE options...)."""
        for key in data:
            if key not in known:
                self.note(f"{where}.{key}" if where else str(key), _("Kafaat does not use this field; dropped"))

    def dashboards(self, environment: dict, ports: list[int]) -> dict[int, str]:
        """Katacoda's ``environment.dashboards`` (a tab per port, with its name) as service tabs."""
        labels: dict[int, str] = {}
        items = environment.get("dashboards")
        if not isinstance(items, list):
            return labels
        for item in items:
            port = item.get("port") if isinstance(item, dict) else None
            if isinstance(port, str) and port.isdigit():
                port = int(port)
            if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
                self.note(_("the dashboard %(item)r") % {"item": item}, _("it names no port; dropped"))
                continue
            name = item.get("name")
            if isinstance(name, str) and name.strip() and not XML_FORBIDDEN.search(name):
                labels[port] = name.strip()[:64]
            ports.append(port)
        return labels

    def build(self, lab_key: str) -> ImportedLab:
        data = self.index()
        details = self._object(data, "details")
        backend = self._object(data, "backend")
        environment = self._object(data, "environment")  # Katacoda
        interface = self._object(data, "interface")
        self.unused(data, INDEX_KEYS, "index.json")
        self.unused(details, {"intro", "steps", "finish", "assets"}, "details")
        self.unused(backend, {"imageid"}, "backend")
        self.unused(interface, {"layout"}, "interface")
        self.unused(environment, {"uilayout", "imageid", "dashboards", "showdashboard"}, "environment")
        title = (self._string(data, "title", "index") or "").strip() or self.label
        image = self.image(backend, environment)
        layout = self._string(interface, "layout", "interface") or self._string(environment, "uilayout", "environment")
        editor = bool(layout and EDITOR_LAYOUT.search(layout))
        if layout and not editor:
            self.note(_("the layout %(layout)s") % {"layout": layout}, _("the lab page has its own layout"))

        intro_data = self._object(details, "intro")
        intro_name = self._string(intro_data, "text", "details.intro") or ""
        markdown = _Markdown(self.notes, _("intro"), self.folder, posixpath.dirname(intro_name))
        self.unused(intro_data, {"text", "background", "foreground", "courseData", "code"}, "details.intro")
        intro_parts = []
        description = (self._string(data, "description", "index") or "").strip()
        if description:
            intro_parts.append(_xml_text(description, _("the description")))
        intro_text = self.text(intro_data, "text", "details.intro", MAX_TEXT_CHARS, _("the intro text"))
        ports: list[int] = []
        if intro_text:
            converted = markdown.convert(intro_text)
            intro_parts.append(converted.markdown)
            intro_parts.extend(converted.hints)
            ports.extend(converted.ports)
            self.scanned.extend(code for code, _interrupt in converted.commands)
        lab_setup = []
        background = self.script(intro_data, "background", "details.intro", _("the intro background script"))
        if background is None:
            background = self.script(intro_data, "courseData", "details.intro", _("the intro background script"))
        if background:
            lab_setup.append(background)
        foreground = self.script(intro_data, "foreground", "details.intro", _("the intro foreground script"))
        if foreground is None:
            foreground = self.script(intro_data, "code", "details.intro", _("the intro foreground script"))
        lab_foreground = foreground or ""

        steps_data = details.get("steps")
        if steps_data is None:
            steps_data = []
        if not isinstance(steps_data, list):
            raise ScenarioError([_("index.json: details.steps must be a list.")])
        if len(steps_data) > MAX_STEPS:
            raise ScenarioError(
                [
                    _("The scenario has %(count)d steps; a lab holds at most %(cap)d.")
                    % {"count": len(steps_data), "cap": MAX_STEPS}
                ]
            )
        steps = []
        graded = 0
        for number, step in enumerate(steps_data, start=1):
            xml, has_check, step_ports = self.step(step, number)
            steps.append(xml)
            graded += has_check
            ports.extend(step_ports)

        finish_data = self._object(details, "finish")
        self.unused(finish_data, {"text", "background", "foreground"}, "details.finish")
        finish_text = self.text(finish_data, "text", "details.finish", MAX_TEXT_CHARS, _("the finish text"))
        finish = ""
        if finish_text:
            finish_name = self._string(finish_data, "text", "details.finish") or ""
            converted = _Markdown(self.notes, _("finish"), self.folder, posixpath.dirname(finish_name)).convert(
                finish_text
            )
            finish = "\n\n".join([converted.markdown, *converted.hints]).strip()
            ports.extend(converted.ports)
        for key in ("background", "foreground"):
            if self._string(finish_data, key, "details.finish"):
                self.note(
                    _("the finish %(kind)s script") % {"kind": key},
                    _("nothing runs when a Kafaat lab is finished; dropped"),
                )
        files = self.assets(details)

        refused_image = self.refused_image
        for text in self.scanned:
            for kind, pattern, reason in (
                (
                    "docker",
                    DOCKER_USE,
                    _(
                        "The scenario runs %(command)s: a container engine needs privileges that a rootless "
                        "sandbox does not give."
                    ),
                ),
                (
                    "kubernetes",
                    KUBERNETES_USE,
                    _(
                        "The scenario runs %(command)s: it needs a Kubernetes cluster, which a rootless sandbox "
                        "cannot run."
                    ),
                ),
            ):
                match = pattern.search(text)
                if match and kind != refused_image:  # the image's own line already says it
                    line = reason % {"command": match.group(1)}
                    if line not in self.reasons:
                        self.reasons.append(line)
        if not steps:
            self.reasons.append(_("The scenario has no steps."))
        elif not graded:
            self.reasons.append(
                _("No step has a verify script: a Kafaat lab is graded by its checks; add a verify script to a step.")
            )
        if self.reasons:
            raise ScenarioError(self.reasons)

        services = []
        labels = self.dashboards(environment, ports)
        for port in dict.fromkeys(ports):
            services.append(
                {
                    "id": f"port-{port}",
                    "machine": "lab",
                    "port": str(port),
                    "path": "/",
                    "label": labels.get(port) or _("Port %(port)s") % {"port": port},
                    "kind": "web",
                }
            )
        if editor:
            # Kafaat's editor tab reads and writes as the learner; an imported lab's work is root's, in /root.
            self.note(
                _("the layout %(layout)s") % {"layout": layout},
                _("the editor tab works as the learner, and an imported lab's files are root's in /root; dropped"),
            )
        service_xml = []
        for service in services:
            if self.knows_services:
                service_xml.append(f"  <service{_attrs(list(service.items()))}/>")
            else:
                self.note(
                    _("the service tab %(label)s") % {"label": service["label"]},
                    _("this Kafaat does not know <service> yet; the tab is missing from the lab"),
                )

        lab_attrs = [
            ("display_name", title),
            ("lab_key", lab_key),
            ("image", image),
            ("sudo", "true"),
            ("time_limit", "60m"),
        ]
        lines = [f"<kafaat_lab{_attrs(lab_attrs)}>"]
        intro = "\n\n".join(part for part in intro_parts if part.strip()).strip()
        if intro:
            lines.append(_element("intro", [], intro, "  "))
        if lab_foreground:
            lines.append(_element("foreground", [], lab_foreground, "  "))
        lines.extend(service_xml)
        lines.append(
            _element(
                "file",
                [("path", "/home/learner/.bash_profile"), ("mode", "0644"), ("owner", "learner")],
                _ROOT_TERMINAL,
                "  ",
            )
        )
        lines.extend(files)
        for script in lab_setup:
            lines.append(_element("setup", [("user", "root")], script, "  "))
        lines.extend(steps)
        if finish:
            lines.append(_element("finish", [], finish, "  "))
        lines.append("</kafaat_lab>")
        olx = "\n".join(lines) + "\n"
        if len(olx.encode("utf-8")) > MAX_XML_BYTES:
            raise ScenarioError(
                [
                    _("The lab would be %(size)d bytes; a lab holds at most %(cap)d (large assets?).")
                    % {"size": len(olx.encode("utf-8")), "cap": MAX_XML_BYTES}
                ]
            )
        try:
            parse_lab(olx)
        except LabDefinitionError as error:
            raise ScenarioError(
                [_("The imported lab is not valid: %(problem)s") % {"problem": str(p)} for p in error.errors]
            ) from None
        return ImportedLab(
            folder=self.label,
            title=title,
            lab_key=lab_key,
            olx=olx,
            notes=self.notes,
            services=services if self.knows_services else [],
        )

    def step(self, step: Any, number: int) -> tuple[str, bool, list[int]]:
        if not isinstance(step, dict):
            raise ScenarioError([_("index.json: step %(number)d must be an object.") % {"number": number}])
        where = f"details.steps[{number - 1}]"
        self.unused(step, {"title", "text", "verify", "background", "foreground", "code"}, where)
        title = (self._string(step, "title", where) or "").strip() or _("Step %(number)d") % {"number": number}
        title = _xml_text(title, where)
        step_id = f"step{number}"
        text_name = self._string(step, "text", where) or ""
        text = self.text(step, "text", where, MAX_TEXT_CHARS, _("the text of step %(number)d") % {"number": number})
        if text is None:
            # Steps as folders (step1/text.md) are named in index.json; a missing "text" falls back to them.
            for candidate in (f"step{number}/text.md", f"step{number}.md"):
                if self.folder.exists(candidate):
                    text_name = candidate
                    text = self.folder.read(
                        candidate, _("the text of step %(number)d") % {"number": number}, MAX_TEXT_CHARS
                    )
                    break
        converted = _Markdown(
            self.notes, _("step %(number)d") % {"number": number}, self.folder, posixpath.dirname(text_name)
        ).convert(text or "")
        self.scanned.extend(code for code, _interrupt in converted.commands)
        what = _("the foreground script of step %(number)d") % {"number": number}
        foreground = self.script(step, "foreground", where, what)
        if foreground is None:
            foreground = self.script(step, "code", where, what)  # Katacoda
        instructions = converted.markdown.strip() or title
        background = self.script(
            step, "background", where, _("the background script of step %(number)d") % {"number": number}
        )
        verify = self.script(step, "verify", where, _("the verify script of step %(number)d") % {"number": number})
        lines = [
            f"  <step{_attrs([('id', step_id), ('title', title)])}>",
            _element("instructions", [], instructions, "    "),
        ]
        if foreground:
            lines.append(_element("foreground", [], foreground, "    "))
        if background:
            lines.append(_element("setup", [("user", "root")], background, "    "))
        if verify:
            lines.append(
                _element(
                    "check",
                    [("id", f"{step_id}-verify"), ("points", "1"), ("timeout", CHECK_TIMEOUT), ("user", "root")],
                    verify,
                    "    ",
                )
            )
        for hint in converted.hints[:19]:
            lines.append(_element("hint", [("cost", "0")], hint, "    "))
        if len(converted.hints) > 19:
            self.note(
                _("hints of step %(number)d past the 19th") % {"number": number},
                _("a step holds at most 20 checks and hints"),
            )
        if verify and converted.commands:
            solve = _solve(converted.commands)
            lines.append(_element("solve", [("user", "root")], solve, "    "))
        elif verify:
            self.note(
                _("step %(number)d") % {"number": number},
                _("no {{exec}} command in its text: no solve, so kafaat lab test cannot prove it"),
            )
        lines.append("  </step>")
        return "\n".join(lines), bool(verify), converted.ports


def _solve(commands: list[tuple[str, bool]]) -> str:
    """A step's ``{{exec}}`` commands as one script; a command the next one interrupts runs under ``timeout``.

    On Killercoda the learner stops such a command (``tail -f``, a server in the foreground) with the
    Ctrl-C that ``{{exec interrupt}}`` sends; a solve has no terminal, so it gets a few seconds instead.
    """
    lines = [_("# The step's {{exec}} commands, in order, as the learner would run them.")]
    for index, (code, _interrupt) in enumerate(commands):
        interrupted = index + 1 < len(commands) and commands[index + 1][1]
        if not interrupted:
            lines.append(code)
            continue
        delimiter = "KAFAAT_INTERRUPTED"
        while delimiter in code:
            delimiter += "_"
        lines.append(f"timeout -s INT {INTERRUPT_AFTER} bash <<'{delimiter}' || true\n{code}\n{delimiter}")
    return "\n".join(lines)


# The learner's login shell becomes root's, in /root, as on Killercoda (the lab gives the learner sudo).
_ROOT_TERMINAL = """# Imported from Killercoda, where the learner is root in /root: the terminal opens as root.
if [ -z "${KAFAAT_STAY_LEARNER:-}" ] && sudo -n true 2>/dev/null; then
  exec sudo -i
fi
[ -f ~/.bashrc ] && . ~/.bashrc"""


# ---------------------------------------------------------------------------------------------------
# Entry points


def knows_services() -> bool:
    """Whether this Kafaat's lab format has ``<service>`` (the services work may not be merged yet)."""
    probe = (
        '<kafaat_lab display_name="p"><service id="p" machine="lab" port="80" path="/" label="p" kind="web"/>'
        '<step id="s" title="s"><instructions>i</instructions><check id="c">true</check></step></kafaat_lab>'
    )
    try:
        parse_lab(probe)
    except LabDefinitionError:
        return False
    return True


def is_scenario(path: pathlib.Path) -> bool:
    return (path / "index.json").exists() or (path / "index.json").is_symlink()


def import_scenario(
    path: pathlib.Path, *, lab_key: str = "", machine_image: str | None = None, services: bool | None = None
) -> ImportedLab:
    """One scenario folder as one lab; ScenarioError says every reason it cannot be."""
    if path.is_symlink():
        raise ScenarioError([_("%(path)s is a symbolic link; links are not followed.") % {"path": path}])
    if not path.is_dir():
        raise ScenarioError([_("%(path)s is not a folder.") % {"path": path}])
    label = path.resolve().name
    scenario = _Scenario(path.resolve(), label, machine_image, knows_services() if services is None else services)
    return scenario.build(lab_key or _slug(label, "imported-lab"))


def _course_order(root: pathlib.Path) -> list[str]:
    """The scenario folders of a course: structure.json's order when it is there, else by name."""
    structure = root / "structure.json"
    if structure.exists() and not structure.is_symlink():
        try:
            data = json.loads(read_limited(structure, MAX_INDEX_BYTES).decode("utf-8"))
            items = data.get("items") if isinstance(data, dict) else None
            if isinstance(items, list):
                names = [item.get("path") for item in items if isinstance(item, dict)]
                return [name for name in names if isinstance(name, str) and name]
        except (FileRefused, ValueError, RecursionError):
            pass
    return sorted(child.name for child in root.iterdir() if child.is_dir() and not child.name.startswith("."))


def import_path(path: str | os.PathLike, *, machine_image: str | None = None) -> ImportResult:
    """A scenario folder (one lab) or a folder of scenarios (a course structure of labs)."""
    root = pathlib.Path(path)
    result = ImportResult(source=str(path))
    services = knows_services()
    if root.is_symlink() or not root.is_dir():
        result.refused.append(
            Refused(str(path), [_("%(path)s is not a folder (links are not followed).") % {"path": path}])
        )
        return result
    if is_scenario(root):
        try:
            lab = import_scenario(root, machine_image=machine_image, services=services)
        except ScenarioError as error:
            result.refused.append(Refused(root.resolve().name, error.reasons))
            return result
        result.labs.append(lab)
        result.olx = lab.olx
        return result
    result.course = True
    names = _course_order(root)
    keys: set[str] = set()
    for name in names[: MAX_SCENARIOS + 1]:
        if _climbs(name) or "/" in name.strip("/"):
            result.refused.append(
                Refused(name, [_("%(path)s is not a folder of this course; it is not read.") % {"path": name}])
            )
            continue
        child = root / name.strip("/")
        if len(result.labs) + len(result.refused) >= MAX_SCENARIOS:
            result.refused.append(
                Refused(name, [_("A course imports at most %(cap)d scenarios.") % {"cap": MAX_SCENARIOS}])
            )
            break
        if child.is_symlink():
            result.refused.append(
                Refused(name, [_("%(path)s is a symbolic link; links are not followed.") % {"path": name}])
            )
            continue
        if not child.is_dir() or not is_scenario(child):
            continue
        key = _slug(name, "imported-lab")
        while key in keys:
            key = key[:60] + "-" + str(len(keys))
        keys.add(key)
        try:
            result.labs.append(import_scenario(child, lab_key=key, machine_image=machine_image, services=services))
        except ScenarioError as error:
            result.refused.append(Refused(name, error.reasons))
    if not result.labs and not result.refused:
        result.refused.append(Refused(str(path), [_("No scenario (a folder with index.json) was found here.")]))
    title = root.resolve().name
    body = [f"<sequential{_attrs([('display_name', title), ('url_name', _slug(title, 'imported-course'))])}>"]
    for lab in result.labs:
        body.append(f"<vertical{_attrs([('display_name', lab.title), ('url_name', lab.lab_key)])}>")
        body.append(lab.olx.replace("<kafaat_lab ", f"<kafaat_lab url_name={_attr(lab.lab_key)} ", 1).rstrip("\n"))
        body.append("</vertical>")
    body.append("</sequential>")
    result.olx = "\n".join(body) + "\n"
    return result
