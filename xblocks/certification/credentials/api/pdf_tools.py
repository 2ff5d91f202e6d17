"""The PDF tooling of the printable certificate, lent to other apps' documents (the committee's report).

Fonts carrying Latin and Arabic glyphs, registered once, and the shaping that puts Arabic text in visual
order before reportlab draws it (see ``credentials.pdf``).
"""

from __future__ import annotations

from xblocks.certification.credentials import pdf


def pdf_fonts() -> tuple[str, str]:
    """The names of the regular and bold fonts, registered with reportlab (idempotent)."""
    pdf.register_fonts()
    return pdf.FONT, pdf.FONT_BOLD


def pdf_text(text: str) -> str:
    """``text`` ready to draw: Arabic runs shaped and the line in visual order, other text unchanged."""
    return pdf.visual(text)
