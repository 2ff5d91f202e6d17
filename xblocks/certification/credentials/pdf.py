"""The printable certificate: one A4 landscape page in English, French or Arabic with a QR code to verify it.

reportlab draws glyphs in logical order and knows nothing of Arabic joining, so Arabic text is shaped
(``arabic_reshaper``: contextual presentation forms) and reordered for display (``python-bidi``) before
it is drawn; the shipped DejaVu Sans carries the Arabic glyphs (licence in ``fonts/``).
"""

from __future__ import annotations

import io
import re
from functools import lru_cache
from importlib import resources

import arabic_reshaper
import qrcode
from bidi.algorithm import get_display
from django.utils import translation
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen import canvas

from xblocks.certification.credentials.data import CertificateVerification
from xblocks.core.i18n import gettext as _

LANGUAGES = ("en", "fr", "ar")
FONT, FONT_BOLD = "KafaatDejaVuSans", "KafaatDejaVuSans-Bold"
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


@lru_cache(maxsize=1)
def register_fonts() -> None:
    for name, filename in ((FONT, "DejaVuSans.ttf"), (FONT_BOLD, "DejaVuSans-Bold.ttf")):
        with resources.as_file(resources.files(__package__).joinpath("fonts", filename)) as path:
            pdfmetrics.registerFont(TTFont(name, str(path)))


_BIDI_CONTROLS = dict.fromkeys(map(ord, "\u202a\u202b\u202c\u202d\u202e"))


def ltr(text: str) -> str:
    """Embed a left-to-right run (a URL, a number) in a sentence that may be right to left.

    Without it the bidi algorithm moves a URL's trailing slash to the far end of an Arabic line.
    """
    return f"\u202a{text}\u202c"


def visual(text: str) -> str:
    """Text ready to draw: Arabic runs shaped and the line put in visual order; other text unchanged."""
    text = str(text or "")
    if not _ARABIC.search(text):
        return text.translate(_BIDI_CONTROLS)
    return get_display(arabic_reshaper.reshape(text)).translate(_BIDI_CONTROLS)


def _qr(pdf: canvas.Canvas, url: str, x: float, y: float, size: float) -> None:
    code = qrcode.QRCode(error_correction=qrcode.constants.ERROR_CORRECT_M, border=0)
    code.add_data(url)
    code.make(fit=True)
    matrix = code.get_matrix()
    cell = size / len(matrix)
    pdf.setFillColor(colors.black)
    for row_index, row in enumerate(matrix):
        for col_index, dark in enumerate(row):
            if dark:
                pdf.rect(x + col_index * cell, y + size - (row_index + 1) * cell, cell, cell, stroke=0, fill=1)


def _fit(pdf: canvas.Canvas, text: str, font: str, size: float, width: float) -> float:
    while size > 8 and pdf.stringWidth(text, font, size) > width:
        size -= 1
    return size


def render(facts: CertificateVerification, language: str = "en") -> bytes:
    """One-page PDF of a certificate's facts in ``language`` (unknown languages fall back to English)."""
    register_fonts()
    language = language if language in LANGUAGES else "en"
    buffer = io.BytesIO()
    width, height = landscape(A4)
    with translation.override(language):
        rtl = language == "ar"
        pdf = canvas.Canvas(buffer, pagesize=(width, height), pageCompression=1)
        pdf.setTitle(visual(_("Certificate %(number)s") % {"number": facts.number}))
        pdf.setAuthor(visual(facts.issuer_name))
        pdf.setSubject(visual(facts.track_title))
        pdf.setCreator("Kafaat")

        margin = 48
        pdf.setStrokeColor(colors.HexColor("#1f4e79"))
        pdf.setLineWidth(3)
        pdf.rect(margin / 2, margin / 2, width - margin, height - margin)

        def centred(text: str, y: float, size: float, bold: bool = False, colour: str = "#1b1b1b") -> None:
            font = FONT_BOLD if bold else FONT
            shown = visual(text)
            pdf.setFont(font, _fit(pdf, shown, font, size, width - 3 * margin))
            pdf.setFillColor(colors.HexColor(colour))
            pdf.drawCentredString(width / 2, y, shown)

        centred(facts.issuer_name, height - 95, 18, colour="#1f4e79")
        centred(_("Certificate"), height - 140, 34, bold=True, colour="#1f4e79")
        centred(_("This certifies that"), height - 180, 14)
        centred(facts.holder_name, height - 220, 28, bold=True)
        centred(_("has met every requirement of the certification track"), height - 255, 14)
        centred(facts.track_title, height - 290, 22, bold=True)
        centred(_("Version %(version)s") % {"version": facts.track_version}, height - 312, 11, colour="#555555")

        details = [
            (_("Certificate number"), ltr(facts.number)),
            (
                _("Hours"),
                _("%(hours)s h (%(required)s h required)")
                % {"hours": f"{facts.hours:g}", "required": f"{facts.hours_required:g}"},
            ),
            (_("Valid from"), ltr(facts.valid_from.isoformat()) if facts.valid_from else ""),
            (_("Valid until"), ltr(facts.valid_until.isoformat()) if facts.valid_until else _("No expiry")),
        ]
        y = height - 360
        column_start, column_end = margin * 2, width - margin * 2 - 150
        for label, value in details:
            # Translatable, so that French puts its non-breaking space before the colon.
            line = _("%(label)s: %(value)s") % {"label": label, "value": value}
            shown = visual(line)
            pdf.setFont(FONT, 12)
            pdf.setFillColor(colors.HexColor("#1b1b1b"))
            if rtl:
                pdf.drawRightString(width - margin * 2, y, shown)
            else:
                pdf.drawString(column_start, y, shown)
            y -= 20

        if facts.status and facts.status != "active":
            pdf.setFont(FONT_BOLD, 16)
            pdf.setFillColor(colors.HexColor("#b00020"))
            label = {
                "revoked": _("REVOKED"),
                "suspended": _("SUSPENDED"),
                "expired": _("EXPIRED"),
            }.get(facts.status, facts.status.upper())
            pdf.drawCentredString(width / 2, y - 10, visual(label))

        qr_size = 110
        qr_x = margin * 1.5 if rtl else width - margin * 1.5 - qr_size
        _qr(pdf, facts.verification_url, qr_x, margin * 1.5 + 20, qr_size)
        pdf.setFont(FONT, 8)
        pdf.setFillColor(colors.HexColor("#555555"))
        pdf.drawCentredString(qr_x + qr_size / 2, margin * 1.5 + 6, visual(_("Scan to verify")))
        verify_line = visual(_("Verify this certificate at %(url)s") % {"url": ltr(facts.verification_url)})
        pdf.setFont(FONT, 9)
        if rtl:
            pdf.drawRightString(width - margin * 2, margin * 1.5 + 10, verify_line)
        else:
            pdf.drawString(column_start, margin * 1.5 + 10, verify_line)
        if facts.credential_id:
            pdf.setFont(FONT, 7)
            pdf.drawString(column_start if not rtl else column_end - 200, margin * 1.5 - 4, facts.credential_id)
        pdf.showPage()
        pdf.save()
    return buffer.getvalue()
