"""The committee report's two files, drawn from a ``Dashboard`` already suppressed for its reader.

The PDF is laid out with reportlab (the certificate's fonts and Arabic shaping, lent by the credentials
api) with the dashboard's bar charts drawn from the same figures as their tables; the XLSX is written by
the exports' sheet writer (every text cell neutralised). Both read only ``Figure.shown`` for the tables
and ``Figure.value`` for the bars, so a suppressed count is never drawn, as on the page.
"""

from __future__ import annotations

import datetime
import io
import textwrap
from collections.abc import Callable
from html import escape

from reportlab.graphics.charts.barcharts import HorizontalBarChart
from reportlab.graphics.shapes import Drawing, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from xblocks.certification.credentials import api as credentials_api
from xblocks.certification.exports import api as exports_api
from xblocks.core.i18n import gettext as _
from xblocks.partnership.data import Dashboard, Figure

Progress = Callable[[int], None]


def sections(board: Dashboard, *, months: int = 12) -> list[tuple[str, list[str], list[list[str]]]]:
    """The report's tables, ``(title, headers, rows)``, as the viewer may see them (cells as shown); the coverage
    history keeps its last ``months`` months (the PDF's page holds six, the XLSX all twelve)."""
    shown_months = board.coverage_months[-months:]
    skipped = len(board.coverage_months) - len(shown_months)
    group = {
        "school": _("School"),
        "cohort_kind": _("Cohort kind"),
        "domain": _("Domain"),
        "track": _("Track"),
        "period": _("Year"),
    }[board.group_by]
    indicator_headers = [
        group,
        _("Enrolled"),
        _("Active (30 days)"),
        _("Certified"),
        _("Certification rate"),
        _("Median days to certificate"),
        _("Lab pass rate"),
        _("Placed within 6 months"),
        _("Integration rate"),
    ]

    def indicator_row(row) -> list[str]:
        return [
            row.label,
            row.enrolled.shown,
            row.active.shown,
            row.certified.shown,
            row.certification_rate.shown,
            row.median_days_to_certificate.shown,
            row.lab_pass_rate.shown,
            row.placed.shown,
            row.integration_rate.shown,
        ]

    coverage_headers = [_("Domain"), _("Needed"), _("Verified supply"), _("Pipeline"), _("Gap")]
    return [
        (
            _("Indicators by %(group)s") % {"group": group},
            indicator_headers,
            [indicator_row(row) for row in board.rows] + [indicator_row(board.totals)],
        ),
        (
            _("Coverage by domain"),
            coverage_headers,
            [[r.label, r.demand.shown, r.supply.shown, r.pipeline.shown, r.gap.shown] for r in board.domains],
        ),
        (
            _("Gap to each need by its date"),
            [_("Need"), _("Role"), _("By"), _("Needed"), _("Verified supply"), _("Pipeline"), _("Gap")],
            [
                [
                    r.label,
                    r.role_kind,
                    r.by_date.isoformat() if r.by_date else "",
                    r.demand.shown,
                    r.supply.shown,
                    r.pipeline.shown,
                    r.gap.shown,
                ]
                for r in board.needs
            ],
        ),
        (
            _("Hours, renewals and expiries by %(group)s") % {"group": group},
            [
                group,
                _("Hours at school"),
                _("Median hours at school per learner"),
                _("Hours at the company"),
                _("Median hours at the company per learner"),
                _("Expiring within 90 days"),
                _("Expired"),
                _("Renewed"),
            ],
            [
                [
                    r.label,
                    r.school_hours.shown,
                    r.school_hours_median.shown,
                    r.company_hours.shown,
                    r.company_hours_median.shown,
                    r.expiring.shown,
                    r.expired.shown,
                    r.renewed.shown,
                ]
                for r in (*board.rows, board.totals)
            ],
        ),
        (
            _("From enrolment to placement"),
            [_("Stage"), _("Count"), _("Share of enrolled")],
            [[r.label, r.figures[0].shown, r.figures[1].shown] for r in board.funnel],
        ),
        (
            _("Verified supply against each need, month by month"),
            [_("Need"), _("By"), _("Target")] + [m.strftime("%Y-%m") for m in shown_months],
            [
                [
                    r.label,
                    r.by_date.isoformat() if r.by_date else "",
                    r.figures[0].shown,
                    *(f.shown for f in r.figures[1 + skipped :]),
                ]
                for r in board.coverage_history
            ],
        ),
        (_("Offers"), [_("Offers"), _("Count")], [[r.label, r.figures[0].shown] for r in board.offers]),
        *(
            (
                title,
                [
                    first,
                    _("Offers published"),
                    _("Places offered"),
                    _("Placements"),
                    _("Hire"),
                    _("Work-study"),
                    _("Internship"),
                ],
                [[r.label, *(f.shown for f in r.figures)] for r in rows],
            )
            for title, first, rows in (
                (_("Offers and placements by school"), _("School"), board.outcomes_by_school),
                (_("Offers and placements by domain"), _("Domain"), board.outcomes_by_domain),
            )
        ),
        (_("Projects"), [_("Projects"), _("Count")], [[r.label, r.figures[0].shown] for r in board.projects]),
    ]


def charts(board: Dashboard) -> list[tuple[str, list[tuple[str, Figure]], float | None]]:
    """The report's bar charts: ``(title, [(label, figure)], maximum)``, the same rows as the tables."""
    return [
        (_("Enrolled"), [(row.label, row.enrolled) for row in board.rows], None),
        (_("Certification rate (%)"), [(row.label, row.certification_rate) for row in board.rows], 100),
        (_("Integration rate (%)"), [(row.label, row.integration_rate) for row in board.rows], 100),
        (_("From enrolment to placement"), [(row.label, row.figures[0]) for row in board.funnel], None),
        (_("Gap to each need by its date"), [(row.label, row.gap) for row in board.needs], None),
    ]


def _chart(title: str, rows: list[tuple[str, Figure]], maximum: float | None, font: str, text) -> Drawing:
    height = 30 + 18 * max(1, len(rows))
    drawing = Drawing(170 * mm, height + 20)
    drawing.add(String(0, height + 8, text(title), fontName=font, fontSize=11))
    chart = HorizontalBarChart()
    chart.x, chart.y, chart.width, chart.height = 60 * mm, 10, 95 * mm, height - 10
    # a suppressed figure has no bar (value 0 drawn as nothing); its label carries what the table shows
    chart.data = [
        [float(figure.value) if figure.value is not None else 0.0 for _label, figure in reversed(rows)] or [0]
    ]
    chart.categoryAxis.categoryNames = [text(f"{label[:28]} ({figure.shown})") for label, figure in reversed(rows)] or [
        ""
    ]
    chart.categoryAxis.labels.fontName = font
    chart.categoryAxis.labels.fontSize = 7
    chart.categoryAxis.labels.boxAnchor = "e"
    chart.valueAxis.labels.fontName = font
    chart.valueAxis.labels.fontSize = 7
    chart.valueAxis.valueMin = 0
    values = [figure.value for _label, figure in rows if figure.value is not None]
    chart.valueAxis.valueMax = float(maximum or max(values, default=0) or 1)
    chart.bars[0].fillColor = colors.HexColor("#1d5fa8")
    drawing.add(chart)
    return drawing


def _cell(value, style: ParagraphStyle, width: float, rtl: bool, text) -> Paragraph:
    """A table cell that wraps inside its column. Arabic is shaped and reordered for display line by line
    (wrapped first in reading order: reportlab would break an already reordered line from the wrong end)."""
    raw = str(value)
    if rtl and raw:
        per_line = max(4, int((width - 6) / (style.fontSize * 0.55)))
        lines = textwrap.wrap(raw, per_line, break_long_words=False) or [raw]
        return Paragraph("<br/>".join(escape(text(line)) for line in lines), style)
    return Paragraph(escape(text(raw)), style)


def render_pdf(
    board: Dashboard, *, title: str, period: str, language: str, progress: Progress = lambda _p: None
) -> bytes:
    font, bold = credentials_api.pdf_fonts()
    text = credentials_api.pdf_text
    rtl = language == "ar"
    align = 2 if rtl else 0  # TA_RIGHT / TA_LEFT
    body = ParagraphStyle("body", fontName=font, fontSize=9, leading=12, alignment=align)
    heading = ParagraphStyle("heading", fontName=bold, fontSize=13, leading=17, alignment=align, spaceBefore=8)
    big = ParagraphStyle("title", fontName=bold, fontSize=18, leading=22, alignment=align)
    out = io.BytesIO()
    document = SimpleDocTemplate(
        out, pagesize=A4, leftMargin=15 * mm, rightMargin=15 * mm, topMargin=15 * mm, bottomMargin=15 * mm, title=title
    )
    story: list = [Paragraph(text(title), big), Paragraph(text(period), body)]
    if board.suppressed_below:
        note = _("Aggregates only: counts below %(n)d are shown as “< %(n)d”.") % {"n": board.suppressed_below}
        story.append(Paragraph(text(note), body))
    story.append(Spacer(1, 6 * mm))
    for chart_title, rows, maximum in charts(board):
        if rows:
            story.append(KeepTogether([_chart(chart_title, rows, maximum, font, text), Spacer(1, 4 * mm)]))
    progress(40)
    cell_style = ParagraphStyle("cell", fontName=font, fontSize=7.5, leading=9, alignment=align)
    head_style = ParagraphStyle("head", fontName=bold, fontSize=6.5, leading=8, alignment=align)
    width = A4[0] - 30 * mm
    for section_title, headers, rows in sections(board, months=6):
        # cells are paragraphs so that long labels and headers wrap inside the page's width
        first = (38 * mm if len(headers) > 6 else 55 * mm) if len(headers) > 2 else width / 2
        widths = [first] + [(width - first) / max(1, len(headers) - 1)] * (len(headers) - 1)
        cells = [[_cell(h, head_style, w, rtl, text) for h, w in zip(headers, widths, strict=True)]] + [
            [_cell(cell, cell_style, w, rtl, text) for cell, w in zip(row, widths, strict=True)] for row in rows
        ]
        if rtl:
            cells, widths = [list(reversed(row)) for row in cells], list(reversed(widths))
        table = Table(cells, colWidths=widths, repeatRows=1, hAlign="RIGHT" if rtl else "LEFT")
        table.setStyle(
            TableStyle(
                [
                    ("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef6")),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story += [Paragraph(text(section_title), heading), table]
    document.build(story)
    return out.getvalue()


def render_xlsx(board: Dashboard, *, title: str, period: str) -> bytes:
    out = io.BytesIO()
    summary = (_("Report"), [title, period], [[_("Generated"), datetime.date.today().isoformat()]])
    sheets = [summary] + [(section_title[:31], headers, rows) for section_title, headers, rows in sections(board)]
    exports_api.write_sheets(sheets, out)
    return out.getvalue()
