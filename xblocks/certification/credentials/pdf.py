"""The printable certificate: one A4 landscape page in English, French or Arabic with a QR code to verify it.

reportlab draws glyphs in the order given and knows nothing of Arabic joining, so Arabic text is shaped
(``arabic_reshaper``: contextual presentation forms) and reordered for display (``python-bidi``) before
it is drawn; the shipped DejaVu Sans carries the Arabic glyphs (licence in ``fonts/``).

What the page *says* must still be the logical text (decision 0080): search, copy-paste, indexers and
screen readers read the text layer, not the glyphs.

- The fonts' ``ToUnicode`` maps each presentation-form glyph to its base letter (U+FEB7 -> U+0634),
  so an extractor that puts a right-to-left run back into logical order (poppler's ``pdftotext``,
  pypdf) gives the logical letters. A ligature glyph (lam-alef) maps to its letters in visual order,
  because poppler reverses the letters of a right-to-left run *after* expanding ligatures (pypdf
  reverses glyphs, so it shows those two letters swapped; the structure tree below has the exact text).
- The page is a tagged PDF (``StructTreeRoot``, ``MarkInfo``, catalog ``/Lang``): every line is a
  structure element whose ``/ActualText`` is the logical string, which is what assistive technology
  reads; decoration is marked as artifacts; the logo, signatures and QR code are figures with ``/Alt``.
- The document information (Title, Author, Subject) is logical text: viewers lay it out themselves.

Logo and signatures come from the track's or the school's branding (``xblocks.certification.branding``),
already cleaned; raster images are drawn, an SVG logo or signature is left out of the PDF (reportlab
draws no SVG) but still shows on the web pages.
"""

from __future__ import annotations

import io
import re
import unicodedata
from functools import lru_cache
from importlib import resources

import arabic_reshaper
import pypdf
import qrcode
from bidi.algorithm import get_display
from django.utils import translation
from pypdf.generic import (
    ArrayObject,
    BooleanObject,
    DictionaryObject,
    NameObject,
    NumberObject,
    TextStringObject,
)
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import SUBSETN, TTFont, makeToUnicodeCMap
from reportlab.pdfgen import canvas

from xblocks.certification.credentials.data import CertificateVerification
from xblocks.core import images
from xblocks.core.i18n import gettext as _

LANGUAGES = ("en", "fr", "ar")
FONT, FONT_BOLD = "KafaatDejaVuSans", "KafaatDejaVuSans-Bold"
_ARABIC = re.compile("[\u0600-\u06ff\u0750-\u077f\u08a0-\u08ff\ufb50-\ufdff\ufe70-\ufeff]")


def _presentation_form(code: int) -> bool:
    return 0xFB50 <= code <= 0xFDFF or 0xFE70 <= code <= 0xFEFF


def logical_unicode(code: int) -> str:
    """What a glyph drawn for ``code`` means: a presentation form's base letters, else the character.

    A ligature (lam-alef) gives its letters reversed: the glyph run is in visual order and extractors
    reverse right-to-left runs letter by letter after expanding each glyph (see the module docstring).
    """
    char = chr(code)
    if not _presentation_form(code):
        return char
    letters = unicodedata.normalize("NFKC", char)
    return letters[::-1] if len(letters) > 1 else letters


class LogicalTTFont(TTFont):
    """A TrueType font whose ToUnicode CMap names logical letters for Arabic presentation forms."""

    def addObjects(self, doc):  # noqa: N802 (reportlab's name)
        subsets = [list(subset) for subset in self.state[doc].subsets]
        super().addObjects(doc)
        for number, subset in enumerate(subsets):
            base = b"".join((SUBSETN(number), b"+", self.face.name, self.face.subfontNameX)).decode("pdfdoc")
            stream = doc.idToObject.get("toUnicodeCMap:" + base)
            if stream is None:
                continue
            cmap = makeToUnicodeCMap(base, subset)
            head, rest = cmap.split("beginbfchar\n", 1)
            tail = rest.split("endbfchar", 1)[1]
            pairs = [
                f"<{index:02X}> <{logical_unicode(code).encode('utf-16-be').hex().upper()}>"
                for index, code in enumerate(subset)
            ]
            stream.content = head + "beginbfchar\n" + "\n".join(pairs) + "\nendbfchar" + tail


@lru_cache(maxsize=1)
def register_fonts() -> None:
    for name, filename in ((FONT, "DejaVuSans.ttf"), (FONT_BOLD, "DejaVuSans-Bold.ttf")):
        with resources.as_file(resources.files(__package__).joinpath("fonts", filename)) as path:
            pdfmetrics.registerFont(LogicalTTFont(name, str(path)))


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


class _Tags:
    """Marked content on the page and the structure elements that will point at it (one per MCID)."""

    def __init__(self, pdf: canvas.Canvas, language: str):
        self.pdf, self.language, self.elements = pdf, language, []

    def begin(self, role: str, *, text: str = "", alt: str = "") -> None:
        self.pdf.addLiteral(f"/{role} <</MCID {len(self.elements)}>> BDC")
        self.elements.append((role, text.translate(_BIDI_CONTROLS), alt))

    def end(self) -> None:
        self.pdf.addLiteral("EMC")

    def artifact(self) -> None:
        self.pdf.addLiteral("/Artifact BMC")


def _tag_structure(data: bytes, tags: _Tags, title: str) -> bytes:
    """Add the structure tree (Document > H1/P/Figure, each pointing at its MCID), /Lang and MarkInfo."""
    writer = pypdf.PdfWriter(clone_from=pypdf.PdfReader(io.BytesIO(data)))
    page = writer.pages[0]
    root = writer.root_object
    lang = TextStringObject(tags.language)
    tree = DictionaryObject({NameObject("/Type"): NameObject("/StructTreeRoot")})
    tree_ref = writer._add_object(tree)  # pylint: disable=protected-access
    document = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/StructElem"),
            NameObject("/S"): NameObject("/Document"),
            NameObject("/P"): tree_ref,
            NameObject("/Lang"): lang,
            NameObject("/T"): TextStringObject(title),
        }
    )
    document_ref = writer._add_object(document)  # pylint: disable=protected-access
    kids = ArrayObject()
    for mcid, (role, text, alt) in enumerate(tags.elements):
        element = DictionaryObject(
            {
                NameObject("/Type"): NameObject("/StructElem"),
                NameObject("/S"): NameObject(f"/{role}"),
                NameObject("/P"): document_ref,
                NameObject("/Pg"): page.indirect_reference,
                NameObject("/K"): NumberObject(mcid),
            }
        )
        if text:
            element[NameObject("/ActualText")] = TextStringObject(text)
        if alt:
            element[NameObject("/Alt")] = TextStringObject(alt)
        kids.append(writer._add_object(element))  # pylint: disable=protected-access
    document[NameObject("/K")] = kids
    tree[NameObject("/K")] = document_ref
    parents = DictionaryObject({NameObject("/Nums"): ArrayObject([NumberObject(0), ArrayObject(kids)])})
    tree[NameObject("/ParentTree")] = writer._add_object(parents)  # pylint: disable=protected-access
    tree[NameObject("/ParentTreeNextKey")] = NumberObject(1)
    page[NameObject("/StructParents")] = NumberObject(0)
    page[NameObject("/Tabs")] = NameObject("/S")
    root[NameObject("/StructTreeRoot")] = tree_ref
    root[NameObject("/MarkInfo")] = DictionaryObject({NameObject("/Marked"): BooleanObject(True)})
    root[NameObject("/Lang")] = lang
    root[NameObject("/ViewerPreferences")] = DictionaryObject({NameObject("/DisplayDocTitle"): BooleanObject(True)})
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _raster(uri: str) -> ImageReader | None:
    """A cleaned PNG data URI as something reportlab draws; None for SVG (not drawn in the PDF)."""
    try:
        media_type, data = images.from_data_uri(uri)
    except images.ImageRefused:
        return None
    return ImageReader(io.BytesIO(data)) if media_type == "image/png" else None


def _draw_image(pdf: canvas.Canvas, reader: ImageReader, x: float, y: float, box_w: float, box_h: float, align: str):
    width, height = reader.getSize()
    scale = min(box_w / width, box_h / height)
    drawn_w, drawn_h = width * scale, height * scale
    left = {"left": x, "right": x + box_w - drawn_w}.get(align, x + (box_w - drawn_w) / 2)
    pdf.drawImage(reader, left, y, drawn_w, drawn_h, mask="auto")


def render(facts: CertificateVerification, language: str = "en", look: dict | None = None) -> bytes:
    """One-page tagged PDF of a certificate's facts in ``language`` (unknown languages fall back to English).

    ``look`` is the certificate's branding (logo, signatures) in ``branding.clean``'s form.
    """
    register_fonts()
    look = look or {}
    language = language if language in LANGUAGES else "en"
    buffer = io.BytesIO()
    width, height = landscape(A4)
    with translation.override(language):
        rtl = language == "ar"
        pdf = canvas.Canvas(buffer, pagesize=(width, height), pageCompression=1, lang=language)
        tags = _Tags(pdf, language)
        title = str(_("Certificate %(number)s") % {"number": facts.number})
        # Logical text: viewers shape and order the document information themselves.
        pdf.setTitle(title)
        pdf.setAuthor(facts.issuer_name)
        pdf.setSubject(facts.track_title)
        pdf.setCreator("Kafaat")

        margin = 48
        tags.artifact()
        pdf.setStrokeColor(colors.HexColor("#1f4e79"))
        pdf.setLineWidth(3)
        pdf.rect(margin / 2, margin / 2, width - margin, height - margin)
        tags.end()

        logo = _raster(look.get("logo", ""))
        if logo is not None:
            tags.begin("Figure", alt=str(_("Logo of %(issuer)s") % {"issuer": facts.issuer_name}))
            box_x = width - margin * 1.5 - 120 if rtl else margin * 1.5
            _draw_image(pdf, logo, box_x, height - margin * 1.5 - 55, 120, 55, "right" if rtl else "left")
            tags.end()
        text_width = width - 3 * margin - (2 * 130 if logo is not None else 0)

        def centred(text: str, y: float, size: float, bold: bool = False, colour: str = "#1b1b1b", role="P") -> None:
            font = FONT_BOLD if bold else FONT
            shown = visual(text)
            tags.begin(role, text=str(text))
            pdf.setFont(font, _fit(pdf, shown, font, size, text_width))
            pdf.setFillColor(colors.HexColor(colour))
            pdf.drawCentredString(width / 2, y, shown)
            tags.end()

        def line(text: str, x: float, y: float, right: bool) -> None:
            tags.begin("P", text=str(text))
            (pdf.drawRightString if right else pdf.drawString)(x, y, visual(text))
            tags.end()

        centred(facts.issuer_name, height - 95, 18, colour="#1f4e79")
        centred(_("Certificate"), height - 140, 34, bold=True, colour="#1f4e79", role="H1")
        centred(_("This certifies that"), height - 180, 14)
        centred(facts.holder_name, height - 220, 28, bold=True)
        centred(_("has met every requirement of the certification track"), height - 255, 14)
        centred(facts.track_title, height - 290, 22, bold=True)
        centred(_("Version %(version)s") % {"version": facts.track_version}, height - 312, 11, colour="#555555")

        if facts.status and facts.status != "active":
            label = {
                "revoked": _("REVOKED"),
                "suspended": _("SUSPENDED"),
                "expired": _("EXPIRED"),
            }.get(facts.status, facts.status.upper())
            centred(label, height - 340, 16, bold=True, colour="#b00020")

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
        y = height - 372
        column_start = margin * 2
        for label, value in details:
            # Translatable, so that French puts its non-breaking space before the colon.
            text = _("%(label)s: %(value)s") % {"label": label, "value": value}
            pdf.setFont(FONT, 12)
            pdf.setFillColor(colors.HexColor("#1b1b1b"))
            line(text, width - margin * 2 if rtl else column_start, y, rtl)
            y -= 20

        qr_size = 110
        qr_x = margin * 1.5 if rtl else width - margin * 1.5 - qr_size
        signatures = list(look.get("signatures") or ())
        if signatures:
            band_start = qr_x + qr_size + 30 if rtl else column_start
            band_end = width - margin * 2 if rtl else qr_x - 30
            slot = (band_end - band_start) / len(signatures)
            ordered = list(reversed(signatures)) if rtl else signatures
            for index, signature in enumerate(ordered):
                left = band_start + index * slot
                centre = left + slot / 2
                image = _raster(signature.get("image", ""))
                if image is not None:
                    tags.begin("Figure", alt=str(_("Signature of %(name)s") % {"name": signature["name"]}))
                    _draw_image(pdf, image, left + 10, 124, slot - 20, 34, "centre")
                    tags.end()
                tags.artifact()
                pdf.setStrokeColor(colors.HexColor("#555555"))
                pdf.setLineWidth(0.6)
                pdf.line(left + 15, 120, left + slot - 15, 120)
                tags.end()
                pdf.setFillColor(colors.HexColor("#1b1b1b"))
                for text, font, size, y_text in (
                    (signature["name"], FONT_BOLD, 10, 107),
                    (signature.get("role", ""), FONT, 9, 95),
                ):
                    if not text:
                        continue
                    shown = visual(text)
                    tags.begin("P", text=text)
                    pdf.setFont(font, _fit(pdf, shown, font, size, slot - 10))
                    pdf.drawCentredString(centre, y_text, shown)
                    tags.end()

        tags.begin("Figure", alt=str(_("QR code linking to %(url)s") % {"url": facts.verification_url}))
        _qr(pdf, facts.verification_url, qr_x, margin * 1.5 + 20, qr_size)
        tags.end()
        pdf.setFont(FONT, 8)
        pdf.setFillColor(colors.HexColor("#555555"))
        scan = _("Scan to verify")
        tags.begin("P", text=str(scan))
        pdf.drawCentredString(qr_x + qr_size / 2, margin * 1.5 + 6, visual(scan))
        tags.end()
        pdf.setFont(FONT, 9)
        line(
            _("Verify this certificate at %(url)s") % {"url": ltr(facts.verification_url)},
            width - margin * 2 if rtl else column_start,
            margin * 1.5 + 10 - 8,
            rtl,
        )
        if facts.credential_id:
            pdf.setFont(FONT, 7)
            line(facts.credential_id, width - margin * 2 if rtl else column_start, margin * 1.5 - 6, rtl)
        pdf.showPage()
        pdf.save()
    return _tag_structure(buffer.getvalue(), tags, title)
