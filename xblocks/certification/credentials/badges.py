"""Badge artwork per domain (SVG and PNG from one drawing) and Open Badges 3.0 baking.

One drawing, two renderers: each domain's emblem is a list of simple shapes (polygons, circles,
ellipses, lines, rounded rectangles) drawn on a 512×512 medal, written out as SVG for the web and
drawn with Pillow for the PNG, so both files show the same badge. The track's name sits on the
ribbon: in the SVG as text the viewer shapes (right to left for Arabic), in the PNG shaped and
ordered like the PDF's text (``pdf.visual``) and drawn with DejaVu Sans.

Baking follows OB 3.0 §5.3: in SVG an ``<openbadges:credential>`` element (namespace
``https://purl.imsglobal.org/ob/v3p0``) right inside the root holds the signed credential as JSON in
a CDATA section; in PNG an ``iTXt`` chunk with keyword ``openbadgecredential`` (uncompressed, no
language tag) holds the same JSON, before ``IEND``.
"""

from __future__ import annotations

import io
import json
import re
import struct
import zlib
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from xml.sax.saxutils import escape, quoteattr

DOMAINS = ("cybersecurity", "data", "ai", "cloud", "devops", "software-testing")
SIZE = 512
OB3_NS = "https://purl.imsglobal.org/ob/v3p0"
PNG_KEYWORD = b"openbadgecredential"
_RTL = re.compile("[\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc]")


@dataclass(frozen=True)
class Shape:
    kind: str  # polygon | circle | ellipse | line | rect
    points: tuple[float, ...]  # polygon/line: x y pairs; circle: cx cy r; ellipse: cx cy rx ry; rect: x y w h rx
    fill: str = ""
    stroke: str = ""
    width: float = 0


@dataclass(frozen=True)
class Design:
    primary: str
    accent: str
    emblem: tuple[Shape, ...]


W, L = "#ffffff", "#e8f1f8"


def _cloud(colour: str) -> tuple[Shape, ...]:
    return (
        Shape("circle", (220, 190, 42), colour),
        Shape("circle", (272, 172, 54), colour),
        Shape("circle", (318, 200, 36), colour),
        Shape("rect", (180, 196, 176, 40, 20), colour),
    )


DESIGNS = {
    # A shield with a keyhole.
    "cybersecurity": Design(
        "#12355b",
        "#2a9d8f",
        (
            Shape("polygon", (256, 110, 330, 138, 324, 214, 256, 262, 188, 214, 182, 138), W),
            Shape("circle", (256, 170, 16), "#12355b"),
            Shape("polygon", (248, 176, 264, 176, 270, 222, 242, 222), "#12355b"),
        ),
    ),
    # A database cylinder with a bar chart.
    "data": Design(
        "#3d2c8d",
        "#f4a261",
        (
            Shape("rect", (196, 126, 120, 112, 0), W),
            Shape("ellipse", (256, 238, 60, 18), W),
            Shape("ellipse", (256, 126, 60, 18), L, "#3d2c8d", 3),
            Shape("line", (196, 164, 256, 180, 316, 164), "", "#3d2c8d", 3),
            Shape("line", (196, 202, 256, 218, 316, 202), "", "#3d2c8d", 3),
        ),
    ),
    # A small neural network: three layers of nodes.
    "ai": Design(
        "#5a189a",
        "#ff9f1c",
        (
            *(
                Shape("line", (x1, y1, x2, y2), "", L, 3)
                for x1, y1 in ((196, 140), (196, 190), (196, 240))
                for x2, y2 in ((256, 160), (256, 220))
            ),
            *(Shape("line", (256, y, 316, 190), "", L, 3) for y in (160, 220)),
            *(Shape("circle", (196, y, 14), W) for y in (140, 190, 240)),
            *(Shape("circle", (256, y, 14), W) for y in (160, 220)),
            Shape("circle", (316, 190, 16), "#ff9f1c"),
        ),
    ),
    # A cloud over a server rack line.
    "cloud": Design(
        "#0077b6",
        "#0096c7",
        (*_cloud(W), Shape("line", (200, 258, 312, 258), "", L, 6), Shape("circle", (256, 258, 8), L)),
    ),
    # A loop of two rings with an arrow: build, ship, run, again.
    "devops": Design(
        "#1b4332",
        "#f77f00",
        (
            Shape("circle", (214, 190, 40), "", W, 14),
            Shape("circle", (298, 190, 40), "", W, 14),
            Shape("polygon", (330, 146, 352, 178, 318, 178), "#f77f00"),
        ),
    ),
    # A checklist with a tick.
    "software-testing": Design(
        "#7b2cbf",
        "#2dc653",
        (
            Shape("rect", (196, 116, 120, 150, 12), W),
            Shape("line", (218, 150, 294, 150), "", "#c8b6e2", 6),
            Shape("line", (218, 178, 294, 178), "", "#c8b6e2", 6),
            Shape("line", (214, 214, 242, 240, 300, 190), "", "#2dc653", 12),
        ),
    ),
    # A star, for tracks that prove no catalogue skill.
    "default": Design(
        "#264653",
        "#e9c46a",
        (
            Shape(
                "polygon",
                (256, 112, 276, 168, 336, 170, 288, 206, 306, 262, 256, 228, 206, 262, 224, 206, 176, 170, 236, 168),
                "#e9c46a",
            ),
        ),
    ),
}


def domain_of(proves: tuple[str, ...] | list[str]) -> str:
    """The domain of a track: the one most of its proven skills (``domain.skill``) belong to."""
    counts: dict[str, int] = {}
    for skill in proves or ():
        domain = str(skill).split(".", 1)[0]
        if domain in DOMAINS:
            counts[domain] = counts.get(domain, 0) + 1
    return max(counts, key=lambda domain: (counts[domain], -DOMAINS.index(domain))) if counts else "default"


def _lines(title: str) -> tuple[list[str], int]:
    """The title on at most three lines of about 22 characters, and a font size that fits the ribbon."""
    words, lines, current = str(title).split(), [], ""
    for word in words:
        candidate = f"{current} {word}".strip()
        if len(candidate) > 22 and current:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    if len(lines) > 3:
        lines = [*lines[:2], " ".join(lines[2:])]
        if len(lines[2]) > 24:
            lines[2] = lines[2][:23].rstrip() + "…"
    longest = max((len(line) for line in lines), default=1)
    size = int(min(34 if len(lines) == 1 else 28, 700 / max(longest, 1)))
    return lines or [""], max(size, 14)


def _ribbon(lines: list[str], size: int) -> tuple[float, float, list[float]]:
    """Ribbon top and height, and each line's baseline."""
    height = max(96, len(lines) * size * 1.25 + 36)
    top = 330 - height / 2 + 10
    first = top + (height - len(lines) * size * 1.25) / 2 + size
    return top, height, [first + index * size * 1.25 for index in range(len(lines))]


def _svg_shape(shape: Shape) -> str:
    stroke = ""
    if shape.stroke:
        stroke = (
            f' stroke="{shape.stroke}" stroke-width="{shape.width:g}" stroke-linecap="round" stroke-linejoin="round"'
        )
    fill = "none" if shape.kind == "line" else (shape.fill or "none")
    paint = f' fill="{fill}"{stroke}'
    p = shape.points
    points = " ".join(f"{value:g}" for value in p)
    if shape.kind == "polygon":
        return f'<polygon points="{points}"{paint}/>'
    if shape.kind == "line":
        return f'<polyline points="{points}"{paint}/>'
    if shape.kind == "circle":
        return f'<circle cx="{p[0]:g}" cy="{p[1]:g}" r="{p[2]:g}"{paint}/>'
    if shape.kind == "ellipse":
        return f'<ellipse cx="{p[0]:g}" cy="{p[1]:g}" rx="{p[2]:g}" ry="{p[3]:g}"{paint}/>'
    return f'<rect x="{p[0]:g}" y="{p[1]:g}" width="{p[2]:g}" height="{p[3]:g}" rx="{p[4]:g}"{paint}/>'


def svg(title: str, domain: str) -> str:
    """The badge of a track as an SVG document (512×512), its name on the ribbon."""
    design = DESIGNS.get(domain, DESIGNS["default"])
    lines, size = _lines(title)
    top, height, baselines = _ribbon(lines, size)
    rtl = bool(_RTL.search(title))
    text_attrs = (
        f'x="256" text-anchor="middle" font-family="DejaVu Sans, Noto Sans Arabic, Segoe UI, Arial, sans-serif" '
        f'font-size="{size}" font-weight="bold" fill="#ffffff"' + (' direction="rtl"' if rtl else "")
    )
    texts = "".join(
        f'<text y="{y:g}" {text_attrs}>{escape(line)}</text>' for line, y in zip(lines, baselines, strict=True)
    )
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{SIZE}" height="{SIZE}" viewBox="0 0 {SIZE} {SIZE}" '
        f'role="img" aria-label={quoteattr(title)}>',
        f"<title>{escape(title)}</title>",
        f'<circle cx="256" cy="256" r="246" fill="{design.primary}"/>',
        f'<circle cx="256" cy="256" r="226" fill="none" stroke="{design.accent}" stroke-width="8"/>',
        *(_svg_shape(shape) for shape in design.emblem),
        f'<rect x="28" y="{top:g}" width="456" height="{height:g}" rx="14" fill="{design.accent}"/>',
        f'<rect x="28" y="{top:g}" width="456" height="{height:g}" rx="14" fill="#000000" fill-opacity="0.18"/>',
        texts,
        "</svg>",
    ]
    return "\n".join(parts)


@lru_cache(maxsize=1)
def _font_path() -> str:
    with resources.as_file(resources.files(__package__).joinpath("fonts", "DejaVuSans-Bold.ttf")) as path:
        return str(path)


def png(title: str, domain: str) -> bytes:
    """The same badge drawn with Pillow (the PNG to bake)."""
    from PIL import Image, ImageDraw, ImageFont  # pylint: disable=import-outside-toplevel

    from xblocks.certification.credentials.pdf import visual  # pylint: disable=import-outside-toplevel

    design = DESIGNS.get(domain, DESIGNS["default"])
    scale = 2  # draw at twice the size and shrink: smooth edges without an anti-aliasing renderer
    image = Image.new("RGBA", (SIZE * scale, SIZE * scale), (0, 0, 0, 0))
    draw = ImageDraw.Draw(image)

    def s(values):
        return [value * scale for value in values]

    def circle(cx, cy, r, fill=None, outline=None, width=0):
        draw.ellipse(s((cx - r, cy - r, cx + r, cy + r)), fill=fill, outline=outline, width=int(width * scale))

    circle(256, 256, 246, fill=design.primary)
    circle(256, 256, 226, outline=design.accent, width=8)
    for shape in design.emblem:
        p = shape.points
        if shape.kind == "polygon":
            draw.polygon(s(p), fill=shape.fill or None, outline=shape.stroke or None)
        elif shape.kind == "line":
            draw.line(s(p), fill=shape.stroke, width=int(shape.width * scale), joint="curve")
            for x, y in zip(p[::2], p[1::2], strict=True):  # round caps
                circle(x, y, shape.width / 2, fill=shape.stroke)
        elif shape.kind == "circle":
            circle(p[0], p[1], p[2], fill=shape.fill or None, outline=shape.stroke or None, width=shape.width)
        elif shape.kind == "ellipse":
            draw.ellipse(
                s((p[0] - p[2], p[1] - p[3], p[0] + p[2], p[1] + p[3])),
                fill=shape.fill or None,
                outline=shape.stroke or None,
                width=int(shape.width * scale),
            )
        else:
            draw.rounded_rectangle(s((p[0], p[1], p[0] + p[2], p[1] + p[3])), radius=p[4] * scale, fill=shape.fill)
    lines, size = _lines(title)
    top, height, baselines = _ribbon(lines, size)
    ribbon = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(ribbon).rounded_rectangle(s((28, top, 484, top + height)), radius=14 * scale, fill=design.accent)
    image.alpha_composite(ribbon)
    shade = Image.new("RGBA", image.size, (0, 0, 0, 0))
    ImageDraw.Draw(shade).rounded_rectangle(s((28, top, 484, top + height)), radius=14 * scale, fill=(0, 0, 0, 46))
    image.alpha_composite(shade)
    draw = ImageDraw.Draw(image)
    font = ImageFont.truetype(_font_path(), size * scale, layout_engine=ImageFont.Layout.BASIC)
    for line, baseline in zip(lines, baselines, strict=True):
        draw.text((256 * scale, baseline * scale), visual(line), font=font, fill="#ffffff", anchor="ms")
    image = image.resize((SIZE, SIZE), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    image.save(out, format="PNG", optimize=True)
    return out.getvalue()


def bake_svg(artwork: str, credential: dict) -> str:
    """The SVG with the signed credential in an ``<openbadges:credential>`` element (OB 3.0 §5.3.2)."""
    body = json.dumps(credential, ensure_ascii=False, indent=2).replace("]]>", "]]]]><![CDATA[>")
    root_end = artwork.index(">", artwork.index("<svg")) + 1
    opening = artwork[:root_end]
    if "xmlns:openbadges" not in opening:
        opening = opening[:-1] + f' xmlns:openbadges="{OB3_NS}">'
    element = f"\n<openbadges:credential><![CDATA[\n{body}\n]]></openbadges:credential>"
    return opening + element + artwork[root_end:]


def _chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def bake_png(artwork: bytes, credential: dict) -> bytes:
    """The PNG with an ``iTXt`` chunk ``openbadgecredential`` holding the credential (OB 3.0 §5.3.1)."""
    if not artwork.startswith(b"\x89PNG\r\n\x1a\n") or artwork[-12:-8] != b"\0\0\0\0" or artwork[-8:-4] != b"IEND":
        raise ValueError("not a PNG ending with IEND")
    text = json.dumps(credential, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    # keyword, NUL, compression flag 0, method 0, empty language tag, NUL, empty translated keyword, NUL
    itxt = PNG_KEYWORD + b"\0" + b"\0\0" + b"\0" + b"\0" + text
    return artwork[:-12] + _chunk(b"iTXt", itxt) + artwork[-12:]
