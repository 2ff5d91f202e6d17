"""Bar charts as data for an SVG template: geometry only, mirrored for right-to-left languages.

Each chart is drawn from the same rows its data table lists; a suppressed figure (value None) gets no
bar, and the table says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from xblocks.partnership.data import Figure

WIDTH = 640
LABEL_WIDTH = 220
VALUE_WIDTH = 60
BAR_HEIGHT = 22
GAP = 8


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str
    x: float
    y: float
    width: float
    label_x: float
    value_x: float
    text_y: float


@dataclass(frozen=True)
class BarChart:
    title: str
    width: int
    height: int
    bars: tuple[Bar, ...]
    label_anchor: str  # "start" or "end" in SVG coordinates (which do not flip with dir)
    value_anchor: str
    maximum: float


def bar_chart(
    title: str, rows: list[tuple[str, Figure]], *, rtl: bool = False, maximum: float | None = None
) -> BarChart:
    """Horizontal bars, one per row; labels on the reading side (right in Arabic), bars growing away from them."""
    values = [figure.value for _label, figure in rows if figure.value is not None]
    top = float(maximum if maximum is not None else max(values, default=0)) or 1.0
    span = WIDTH - LABEL_WIDTH - VALUE_WIDTH
    bars = []
    for index, (label, figure) in enumerate(rows):
        y = GAP + index * (BAR_HEIGHT + GAP)
        length = 0.0 if figure.value is None else span * float(figure.value) / top
        if rtl:
            x = WIDTH - LABEL_WIDTH - length
            label_x, value_x = WIDTH - 4, x - 4
        else:
            x = LABEL_WIDTH
            label_x, value_x = LABEL_WIDTH - 4, LABEL_WIDTH + length + 4
        bars.append(Bar(label, figure.shown, x, y, length, label_x, value_x, y + BAR_HEIGHT * 0.7))
    height = GAP + len(rows) * (BAR_HEIGHT + GAP)
    return BarChart(
        title,
        WIDTH,
        height,
        tuple(bars),
        label_anchor="end",
        value_anchor="start" if not rtl else "end",
        maximum=top,
    )
