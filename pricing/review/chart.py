"""Competitor prices over time as a server-rendered SVG.

Server-side SVG needs no chart library, no build step and no script, so it lives happily under
the strict CSP; the template draws it with presentation attributes only. History is
change-only (each observation is a state valid over an interval), which is exactly a step line.
Out-of-stock intervals are drawn dotted and marked with a red strip under the plot.
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
    price: Decimal | None
    out_of_stock: bool


@dataclass(slots=True)
class Series:
    name: str
    steps: list[Step]
    color: str = "#000"
    lines: list[str] = field(default_factory=list)  # in-stock path data
    dotted: list[str] = field(default_factory=list)  # out-of-stock path data
    stockouts: list[tuple[float, float]] = field(default_factory=list)  # (x, width)
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


def build_chart(series: list[Series], ours: list[Step], start: datetime, end: datetime) -> Chart:
    """Lay out ``series`` (one per competitor offer) and our own price between start and end."""
    start, end = as_utc(start), as_utc(end)
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

    our_path = []
    for s in ours:
        if s.price is not None and as_utc(s.end) >= start:
            our_path.append(f"M{x(s.start)},{y(s.price)}H{x(s.end)}")

    yticks, v = [], lo
    while v <= hi + 1e-9:
        yticks.append((y(Decimal(str(v))), f"{v:,.2f}"))
        v += step
    days = max(1, round(span_t / 86400 / 6))
    xticks, t = [], start.replace(hour=0, minute=0, second=0, microsecond=0) + timedelta(days=1)
    while t < end:
        xticks.append((x(t), t.strftime("%d %b")))
        t += timedelta(days=days)
    return Chart(WIDTH, height, (px, py, pw, ph), series, our_path, xticks, yticks, False)
