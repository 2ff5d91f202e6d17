"""Per-learner lab parameters: the kinds an author may declare, values derived from a secret seed, substitution.

A session's values come from ``HMAC-SHA256(seed, name)``, so they are stable for one seed (a
restarted worker renders the same lab) and unrelated between seeds (a flag copied from another
learner does not match). Every kind produces characters from a shell- and Markdown-safe alphabet
(letters, digits, ``_``, ``-``, ``{``, ``}``), so substituting a value into a script cannot inject code.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

# ``{{ lab.param.port }}``; spaces inside the braces are optional.
REFERENCE = re.compile(r"\{\{\s*lab\.param\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
# Anything that looks like a lab template expression, to flag typos such as ``{{ lab.params.x }}``.
EXPRESSION = re.compile(r"\{\{\s*lab\.[^{}]*\}\}")
NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,31}$")
PREFIX = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class Kind(enum.StrEnum):
    WORD = "word"
    NUMBER = "number"
    PORT = "port"
    FLAG = "flag"
    HEX = "hex"


@dataclass(frozen=True)
class KindSpec:
    """What a kind accepts: its option names with defaults and bounds (inclusive)."""

    options: Mapping[str, int | str]
    bounds: Mapping[str, tuple[int, int]]


KINDS: dict[Kind, KindSpec] = {
    Kind.WORD: KindSpec(options={}, bounds={}),
    Kind.NUMBER: KindSpec(options={"min": 0, "max": 9999}, bounds={"min": (-(10**9), 10**9), "max": (-(10**9), 10**9)}),
    # Unprivileged ports only: the learner must be able to bind the port without root.
    Kind.PORT: KindSpec(options={"min": 10000, "max": 19999}, bounds={"min": (1024, 65535), "max": (1024, 65535)}),
    Kind.FLAG: KindSpec(options={"prefix": "KAFAAT", "length": 16}, bounds={"length": (8, 64)}),
    Kind.HEX: KindSpec(options={"length": 16}, bounds={"length": (4, 64)}),
}

# Short, unambiguous, lower-case English words; 128 of them give 7 bits per word.
WORDS = (
    "amber",
    "anchor",
    "apple",
    "arrow",
    "aspen",
    "atlas",
    "badger",
    "bamboo",
    "beacon",
    "birch",
    "bison",
    "blossom",
    "breeze",
    "brook",
    "cactus",
    "canyon",
    "cedar",
    "cherry",
    "cinder",
    "cobalt",
    "comet",
    "coral",
    "cotton",
    "crane",
    "crystal",
    "cypress",
    "dahlia",
    "delta",
    "desert",
    "dolphin",
    "dune",
    "eagle",
    "ember",
    "falcon",
    "fern",
    "fjord",
    "forest",
    "fossil",
    "galaxy",
    "garnet",
    "geyser",
    "ginger",
    "glacier",
    "granite",
    "harbor",
    "hazel",
    "heron",
    "hollow",
    "horizon",
    "indigo",
    "island",
    "ivory",
    "jade",
    "jasmine",
    "juniper",
    "kayak",
    "kernel",
    "kestrel",
    "lagoon",
    "lantern",
    "lemon",
    "lilac",
    "linden",
    "lotus",
    "lynx",
    "magnet",
    "maple",
    "marble",
    "meadow",
    "meteor",
    "mint",
    "monsoon",
    "mosaic",
    "nectar",
    "nimbus",
    "oasis",
    "ocean",
    "olive",
    "onyx",
    "orbit",
    "orchid",
    "otter",
    "palm",
    "panther",
    "pebble",
    "pepper",
    "pine",
    "planet",
    "plume",
    "prairie",
    "quartz",
    "quill",
    "raven",
    "reef",
    "ridge",
    "river",
    "saffron",
    "sage",
    "sapphire",
    "sequoia",
    "shadow",
    "sierra",
    "silver",
    "sparrow",
    "spruce",
    "summit",
    "sunset",
    "talon",
    "thistle",
    "thunder",
    "tiger",
    "topaz",
    "tulip",
    "tundra",
    "valley",
    "velvet",
    "violet",
    "walnut",
    "willow",
    "winter",
    "zephyr",
    "zinc",
    "yarrow",
    "yucca",
    "wren",
    "walrus",
    "vortex",
    "tamarind",
)


def option_defaults(kind: Kind) -> dict[str, int | str]:
    return dict(KINDS[kind].options)


def _stream(seed: bytes, name: str, length: int) -> bytes:
    """``length`` pseudo-random bytes bound to one seed and one parameter name (HMAC counter mode)."""
    out = b""
    counter = 0
    while len(out) < length:
        out += hmac.new(
            seed, b"kafaat-lab-param\x00" + name.encode() + b"\x00" + counter.to_bytes(4, "big"), hashlib.sha256
        ).digest()
        counter += 1
    return out[:length]


def _in_range(seed: bytes, name: str, low: int, high: int) -> int:
    # 64 random bits reduced modulo a span below 2**32: the bias is under 2**-32, irrelevant here.
    value = int.from_bytes(_stream(seed, name, 8), "big")
    return low + value % (high - low + 1)


def generate_value(kind: Kind | str, name: str, seed: bytes, options: Mapping[str, int | str]) -> str:
    """The value of one parameter for one seed; ``options`` are the kind's resolved options."""
    kind = Kind(kind)
    if kind == Kind.WORD:
        data = _stream(seed, name, 3)
        return WORDS[data[0] % len(WORDS)] + "-" + WORDS[data[1] % len(WORDS)] + f"-{data[2] % 100:02d}"
    if kind in (Kind.NUMBER, Kind.PORT):
        return str(_in_range(seed, name, int(options["min"]), int(options["max"])))
    length = int(options["length"])
    digest = _stream(seed, name, (length + 1) // 2).hex()[:length]
    if kind == Kind.HEX:
        return digest
    return f"{options['prefix']}{{{digest}}}"


def derive_seed(secret: str | bytes, *context: str | int) -> bytes:
    """A session seed from a server secret and what identifies the session (e.g. user and block ids).

    Callers store the result (or recompute it) so a session renders the same values every time.
    """
    key = secret.encode() if isinstance(secret, str) else bytes(secret)
    message = "\x00".join(str(part) for part in context).encode()
    return hmac.new(key, b"kafaat-lab-seed\x00" + message, hashlib.sha256).digest()


def references(text: str) -> list[tuple[str, int]]:
    """Every ``{{ lab.param.NAME }}`` in ``text`` as ``(NAME, character offset)``."""
    return [(match.group(1), match.start()) for match in REFERENCE.finditer(text or "")]


def malformed(text: str) -> list[tuple[str, int]]:
    """Lab expressions that are not parameter references (typos), as ``(expression, offset)``."""
    return [
        (match.group(0), match.start())
        for match in EXPRESSION.finditer(text or "")
        if not REFERENCE.fullmatch(match.group(0))
    ]


def substitute(text: str, values: Mapping[str, str]) -> str:
    """Replace every reference with its value; a reference to an unknown name raises ``KeyError``."""
    if not text or "{{" not in text:
        return text
    return REFERENCE.sub(lambda match: values[match.group(1)], text)


def names_used(texts: Iterable[str]) -> set[str]:
    return {name for text in texts for name, _offset in references(text)}
