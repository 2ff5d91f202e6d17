"""Bar charts as data for an SVG template: geometry only, mirrored for right-to-left languages.

Each chart is drawn from the same rows its data table lists; a suppressed figure (value None) gets no
bar, and the table says why.
"""

from __future__ import annotations

from dataclasses import dataclass

from xblocks.partnership.data import Figure

WIDTH = 640


def _n(value: float) -> str:
    """A coordinate as SVG reads it: the template would print a float with the language's decimal comma."""
    return f"{value:.1f}"


LABEL_WIDTH = 220
VALUE_WIDTH = 60
BAR_HEIGHT = 22
GAP = 8


@dataclass(frozen=True)
class Bar:
    label: str
    shown: str
    x: str  # coordinates as text (see ``_n``)
    y: str
    width: str
    label_x: str
    value_x: str
    text_y: str
    drawn: bool = True  # False for a suppressed or zero figure: no bar


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
        bars.append(
            Bar(
                label,
                figure.shown,
                _n(x),
                _n(y),
                _n(length),
                _n(label_x),
                _n(value_x),
                _n(y + BAR_HEIGHT * 0.7),
                bool(length),
            )
        )
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


FUNNEL_HEIGHT = 34
PALETTE = ("#1d5fa8", "#b3541e", "#2e7d32", "#6a1b9a", "#00838f", "#ad1457", "#5d4037", "#455a64")


@dataclass(frozen=True)
class FunnelStage:
    label: str
    shown: str
    x: str
    y: str
    width: str
    label_x: str
    value_x: str
    text_y: str
    drawn: bool = True


@dataclass(frozen=True)
class Funnel:
    title: str
    width: int
    height: int
    stages: tuple[FunnelStage, ...]
    label_anchor: str


def funnel_chart(title: str, rows: list[tuple[str, Figure, Figure]], *, rtl: bool = False) -> Funnel:
    """Centred bars, widest first, each as wide as its count against the first stage's; the label on the reading
    side, the count and share in the middle. A suppressed stage has no bar, only what the table shows."""
    top = next((float(count.value) for _label, count, _share in rows if count.value), 0.0) or 1.0
    span = WIDTH - LABEL_WIDTH - 8
    centre = WIDTH - LABEL_WIDTH - span / 2 if rtl else LABEL_WIDTH + span / 2
    stages = []
    for index, (label, count, share) in enumerate(rows):
        y = GAP + index * (FUNNEL_HEIGHT + GAP)
        width = 0.0 if count.value is None else span * min(1.0, float(count.value) / top)
        shown = count.shown if share.value is None else f"{count.shown} ({share.shown})"
        label_x = WIDTH - 4 if rtl else LABEL_WIDTH - 8
        stages.append(
            FunnelStage(
                label,
                shown,
                _n(centre - width / 2),
                _n(y),
                _n(width),
                _n(label_x),
                _n(centre),
                _n(y + FUNNEL_HEIGHT * 0.62),
                bool(width),
            )
        )
    return Funnel(title, WIDTH, GAP + len(rows) * (FUNNEL_HEIGHT + GAP), tuple(stages), "end")


@dataclass(frozen=True)
class Series:
    label: str
    colour: str
    points: str  # SVG polyline points, suppressed months left out
    target_y: str
    target_x1: str
    target_x2: str
    target_shown: str
    dots: tuple[tuple[str, str, str], ...]


@dataclass(frozen=True)
class LineChart:
    title: str
    width: int
    height: int
    series: tuple[Series, ...]
    ticks: tuple[tuple[str, str], ...]  # (y, value) of the horizontal grid
    months: tuple[tuple[str, str], ...]  # (x, label) under the axis
    left: str
    right: str
    month_y: str
    value_anchor: str  # of the grid's values, beside the plot on the reading side
    tick_x: str


def coverage_chart(
    title: str, months: list[str], series: list[tuple[str, int, str, list[Figure]]], *, rtl: bool = False
) -> LineChart:
    """Verified supply of each need month by month (a line) against its target (a dashed line at the count,
    labelled with its date). Time runs in the reading direction: right to left in Arabic."""
    height, top_margin, bottom_margin, side = 260, 16, 36, 48
    left, right = side, WIDTH - 32  # room for the last month's label, centred on its point
    bottom = height - bottom_margin
    values = [f.value for _l, _t, _d, figures in series for f in figures if f.value is not None]
    values += [target for _l, target, _d, _f in series]
    top = float(max(values, default=0)) or 1.0

    def x_of(index: int) -> float:
        step = (right - left) / max(1, len(months) - 1)
        x = left + index * step
        return WIDTH - x if rtl else x

    def y_of(value: float) -> float:
        return bottom - (bottom - top_margin) * value / top

    drawn = []
    for n, (label, target, by_date, figures) in enumerate(series):
        points = [(x_of(i), y_of(float(f.value)), f.shown) for i, f in enumerate(figures) if f.value is not None]
        drawn.append(
            Series(
                label,
                PALETTE[n % len(PALETTE)],
                " ".join(f"{x:.1f},{y:.1f}" for x, y, _s in points),
                _n(y_of(target)),
                _n(min(x_of(0), x_of(len(months) - 1))),
                _n(max(x_of(0), x_of(len(months) - 1))),
                f"{target} ({by_date})",
                tuple((_n(x), _n(y), shown) for x, y, shown in points),
            )
        )
    ticks = tuple((_n(y_of(top * k / 4)), f"{top * k / 4:g}") for k in range(5))
    labels = tuple((_n(x_of(i)), month) for i, month in enumerate(months) if i % 2 == (len(months) - 1) % 2)
    return LineChart(
        title,
        WIDTH,
        height,
        tuple(drawn),
        ticks,
        labels,
        _n(WIDTH - right if rtl else left),
        _n(WIDTH - left if rtl else right),
        _n(bottom + 18),
        "start" if rtl else "end",
        _n(WIDTH - left + 4 if rtl else left - 4),
    )
