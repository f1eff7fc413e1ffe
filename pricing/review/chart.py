"""Competitor prices over time as a server-rendered SVG.

Server-side SVG needs no chart library, no build step and no script, so it lives happily under
the strict CSP; the template draws it with presentation attributes only. History is
change-only (each observation is a state valid over an interval), which is exactly a step line.
Out-of-stock intervals are drawn dotted and marked with a red strip under the plot.

Every price on the axis is in our product's currency: routes_products converts competitor
prices first (pricing.review.currency) and the chart keeps the original beside each converted
point, for its tooltip.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal

from pricing.review.web import as_utc

PALETTE = [
    "#2563eb",
    "#d97706",
    "#059669",
    "#7c3aed",
    "#db2777",
    "#0891b2",
    "#65a30d",
    "#9333ea",
    "#ea580c",
    "#0d9488",
]
WIDTH, HEIGHT = 960, 320
LEFT, RIGHT, TOP, BOTTOM = 64, 16, 16, 36
STRIP = 5  # height of one series' stock-out strip


@dataclass(slots=True)
class Step:
    start: datetime
    end: datetime
    price: Decimal | None  # in our currency: what the axis shows
    out_of_stock: bool
    original: Decimal | None = None  # the competitor's own price, when it was converted
    currency: str | None = None  # ... and its currency


@dataclass(slots=True)
class Series:
    name: str
    steps: list[Step]
    color: str = "#000"
    note: str = ""  # for the legend, e.g. "GBP converted at 1.27"
    lines: list[str] = field(default_factory=list)  # in-stock path data
    dotted: list[str] = field(default_factory=list)  # out-of-stock path data
    stockouts: list[tuple[float, float]] = field(default_factory=list)  # (x, width)
    points: list[tuple[float, float, str]] = field(default_factory=list)  # (x, y, tooltip)
    strip_y: float = 0.0


@dataclass(slots=True)
class Chart:
    width: int
    height: int
    plot: tuple[float, float, float, float]  # x, y, w, h
    series: list[Series]
    ours: list[str]
    xticks: list[tuple[float, str]]
    yticks: list[tuple[float, str]]
    empty: bool


def _nice_step(span: float, count: int = 5) -> float:
    raw = span / max(count, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    for mult in (1, 2, 2.5, 5, 10):
        if raw <= mult * magnitude:
            return mult * magnitude
    return 10 * magnitude


def build_chart(
    series: list[Series],
    ours: list[Step],
    start: datetime,
    end: datetime,
    currency: str | None = None,
) -> Chart:
    """Lay out ``series`` (one per competitor offer) and our own price between start and end.

    Every price must already be in ``currency``, ours: one axis, one currency.
    """
    start, end = as_utc(start), as_utc(end)
    # Trim the empty days before the first competitor observation: a week of history in a
    # 90-day window would otherwise be a sliver at the right edge.
    first = min((as_utc(s.start) for ser in series for s in ser.steps), default=None)
    if first is not None and first > start:
        start = max(start, first - max(timedelta(hours=1), (end - first) * 0.05))
    prices = [float(s.price) for ser in series for s in ser.steps if s.price is not None]
    prices += [float(s.price) for s in ours if s.price is not None]
    px, py = LEFT, TOP
    pw, ph = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    height = HEIGHT + len(series) * (STRIP + 2) + 4  # one stock-out strip per series below the axis
    if not prices or end <= start:
        return Chart(WIDTH, height, (px, py, pw, ph), series, [], [], [], True)

    lo, hi = min(prices), max(prices)
    pad = (hi - lo) * 0.08 or max(hi * 0.05, 1.0)
    lo, hi = max(0.0, lo - pad), hi + pad
    step = _nice_step(hi - lo)
    lo = step * int(lo / step)
    span_t = (end - start).total_seconds()

    def x(t: datetime) -> float:
        t = min(max(as_utc(t), start), end)
        return round(px + pw * (t - start).total_seconds() / span_t, 1)

    def y(v: Decimal) -> float:
        return round(py + ph - ph * (float(v) - lo) / (hi - lo), 1)

    for i, ser in enumerate(series):
        ser.color = PALETTE[i % len(PALETTE)]
        ser.strip_y = py + ph + BOTTOM + i * (STRIP + 2)
        for s in ser.steps:
            if as_utc(s.end) < start or as_utc(s.start) > end:
                continue
            x1, x2 = x(s.start), max(x(s.end), x(s.start) + 1)
            if s.out_of_stock:
                ser.stockouts.append((x1, round(x2 - x1, 1)))
            if s.price is not None:
                (ser.dotted if s.out_of_stock else ser.lines).append(f"M{x1},{y(s.price)}H{x2}")
                # A dot where each observed state begins: a state seen once is still visible.
                ser.points.append((x1, y(s.price), _tooltip(s, currency)))

    our_path = []
    for s in ours:
        if s.price is not None and as_utc(s.end) >= start:
            our_path.append(f"M{x(s.start)},{y(s.price)}H{x(s.end)}")

    yticks, v = [], lo
    while v <= hi + 1e-9:
        yticks.append((y(Decimal(str(v))), f"{v:,.2f}"))
        v += step
    xticks = [(x(t), label) for t, label in _time_ticks(start, end)]
    return Chart(WIDTH, height, (px, py, pw, ph), series, our_path, xticks, yticks, False)


def _tooltip(step: Step, currency: str | None) -> str:
    """'958.99 GBP = 1217.92 USD from 03 Nov 10:00': the original always beside a conversion."""
    ours = f"{step.price:.2f}" + (f" {currency}" if currency else "")
    if step.original is not None:
        ours = f"{step.original:.2f} {step.currency} = {ours}"
    return f"{ours} from {as_utc(step.start):%d %b %H:%M}"


def _time_ticks(start: datetime, end: datetime, count: int = 6) -> list[tuple[datetime, str]]:
    """About ``count`` round times between start and end: days, or hours for short spans."""
    hours = (end - start).total_seconds() / 3600
    if hours >= 48:
        every, fmt = timedelta(days=max(1, round(hours / 24 / count))), "%d %b"
        t = start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    else:
        step = next((h for h in (1, 2, 3, 4, 6, 12, 24) if hours / h <= count), 24)
        every, fmt = timedelta(hours=step), "%d %b %H:%M"
        t = start.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        if hours < 1:
            every, t = timedelta(minutes=10), start.replace(second=0, microsecond=0)
            fmt = "%H:%M"
    ticks = []
    while t < end and len(ticks) < 4 * count:
        if t > start:
            ticks.append((t, t.strftime(fmt)))
        t += every
    return ticks
