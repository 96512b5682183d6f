"""Server-rendered SVG charts: a lead's scores over time, and transitions per minute.

Plain functions from numbers to SVG text. Every label is escaped; every chart says what it
shows in its <title> and <desc>, and the page beside it carries the numbers as a table.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from html import escape
from typing import Any

# Colour and dash both tell the lines apart, so the chart reads without colour too.
SERIES_STYLE = {
    "interest": ("#1f6fb4", "", 1.8),
    "intent": ("#c2410c", "7 4", 1.8),
    "negative": ("#6b5fb3", "2 3", 1.6),
    "total": ("#111111", "", 2.8),
}
SERIES_LABEL = {"interest": "Interest", "intent": "Intent", "negative": "Negative", "total": "Total (engagement)"}
THRESHOLD_COLOUR = {"interest": "#1f6fb4", "intent": "#c2410c", "total": "#111111"}


@dataclass(frozen=True)
class Frame:
    """The plot area inside the SVG and the data ranges it maps."""

    width: float
    height: float
    left: float
    top: float
    right: float
    bottom: float
    t0: float
    t1: float
    y0: float
    y1: float

    @property
    def plot_width(self) -> float:
        return self.width - self.left - self.right

    @property
    def plot_height(self) -> float:
        return self.height - self.top - self.bottom

    def x(self, t: float) -> float:
        return self.left + (t - self.t0) / (self.t1 - self.t0) * self.plot_width

    def y(self, value: float) -> float:
        return self.top + (self.y1 - value) / (self.y1 - self.y0) * self.plot_height

    def value_at(self, y: float) -> float:
        """The inverse of :meth:`y`: what a plotted height stands for."""
        return self.y1 - (y - self.top) / self.plot_height * (self.y1 - self.y0)


def nice_step(span: float, ticks: int = 5) -> float:
    raw = span / max(ticks, 1)
    magnitude = 10 ** math.floor(math.log10(raw)) if raw > 0 else 1.0
    for multiple in (1, 2, 2.5, 5, 10):
        if raw <= multiple * magnitude:
            return multiple * magnitude
    return 10 * magnitude


def _time_label(t: float, span: float) -> str:
    moment = datetime.fromtimestamp(t, timezone.utc)
    if span <= 20 * 3600:  # within a day: the time alone never repeats
        return moment.strftime("%H:%M")
    if span <= 8 * 86_400:  # ticks less than two days apart: the day alone would repeat
        return moment.strftime("%d %b %H:%M")
    return moment.strftime("%d %b")


def _number(value: float) -> str:
    return f"{value:g}" if value == int(value) else f"{value:.1f}"


def score_chart(document: dict[str, Any], width: int = 820, height: int = 340) -> str:
    """The lead's component scores over time, with its thresholds and its events, as SVG."""
    series = document["series"]
    times: Sequence[float] = series["t"]
    t1 = times[-1]
    t0 = times[0] if times[0] < t1 else t1 - 3600.0
    values = [v for part in SERIES_STYLE for v in series[part]]
    thresholds = document["thresholds"]
    top = max([*values, *(t["promote"] for t in thresholds), 10.0])
    bottom = min([*values, 0.0])
    step = nice_step(top - bottom)
    y1 = math.ceil(top * 1.08 / step) * step
    y0 = math.floor(bottom / step) * step if bottom < 0 else 0.0
    frame = Frame(width, height, left=48, top=14, right=132, bottom=46, t0=t0, t1=t1, y0=y0, y1=y1)
    lead = document["lead"]
    now = {part: series[part][-1] for part in SERIES_STYLE}

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart score-chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="chart-title chart-desc" '
        f'data-t0="{t0!r}" data-t1="{t1!r}" data-y0="{y0!r}" data-y1="{y1!r}" '
        f'data-plot="{frame.left} {frame.top} {frame.plot_width} {frame.plot_height}">',
        f'<title id="chart-title">Scores of {escape(lead["lead_id"])} over time</title>',
        f'<desc id="chart-desc">{escape(_describe(document, now))}</desc>',
        _grid(frame, step),
        _thresholds(frame, thresholds),
        _event_marks(frame, document),
    ]
    for part, (colour, dash, stroke) in SERIES_STYLE.items():
        points = " ".join(f"{frame.x(t):.2f},{frame.y(v):.2f}" for t, v in zip(times, series[part]))
        dashes = f' stroke-dasharray="{dash}"' if dash else ""
        parts.append(
            f'<polyline class="series series-{part}" data-series="{part}" data-now="{now[part]!r}" fill="none" '
            f'stroke="{colour}" stroke-width="{stroke}"{dashes} stroke-linejoin="round" points="{points}"/>'
        )
    parts.append(
        f'<circle class="now" cx="{frame.x(t1):.2f}" cy="{frame.y(now["total"]):.2f}" r="4" fill="#111111">'
        f'<title>Total now: {now["total"]:.2f}</title></circle>'
    )
    parts.append("</svg>")
    return "".join(parts)


def _describe(document: dict[str, Any], now: dict[str, float]) -> str:
    events = [e for e in document["events"] if e["signal"]]
    return (
        f"Line chart from {document['series']['t'] and _iso(document['series']['t'][0])} to now. "
        f"Now: total {now['total']:.2f}, interest {now['interest']:.2f}, intent {now['intent']:.2f}, "
        f"negative {now['negative']:.2f}. {len(events)} scored events are marked along the time axis; "
        "each adds points that then decay. Dashed horizontal lines are the thresholds to climb (↑) "
        "and dotted ones the thresholds to fall back below (↓)."
    )


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, timezone.utc).strftime("%Y-%m-%d %H:%M UTC")


def _grid(frame: Frame, step: float) -> str:
    out = ['<g class="grid" font-size="11" fill="#444">']
    value = frame.y0
    while value <= frame.y1 + 1e-9:
        y = frame.y(value)
        out.append(f'<line x1="{frame.left}" x2="{frame.left + frame.plot_width}" y1="{y:.2f}" y2="{y:.2f}" '
                   f'stroke="#e3e3e3"/>')
        out.append(f'<text x="{frame.left - 6}" y="{y + 4:.2f}" text-anchor="end">{_number(value)}</text>')
        value += step
    span = frame.t1 - frame.t0
    for i in range(6):
        t = frame.t0 + span * i / 5
        x = frame.x(t)
        out.append(f'<line x1="{x:.2f}" x2="{x:.2f}" y1="{frame.top}" y2="{frame.top + frame.plot_height}" '
                   f'stroke="#f0f0f0"/>')
        anchor = "start" if i == 0 else "end" if i == 5 else "middle"
        out.append(f'<text class="tick-x" x="{x:.2f}" y="{frame.top + frame.plot_height + 16}" text-anchor="{anchor}">'
                   f'{escape(_time_label(t, span))}</text>')
    out.append(f'<text x="{frame.left}" y="{frame.height - 6}" fill="#555">time (UTC) — '
               f'{escape(_iso(frame.t0))} to {escape(_iso(frame.t1))}</text>')
    out.append(f'<rect x="{frame.left}" y="{frame.top}" width="{frame.plot_width}" height="{frame.plot_height}" '
               f'fill="none" stroke="#999"/>')
    out.append("</g>")
    return "".join(out)


def _thresholds(frame: Frame, thresholds: list[dict[str, Any]]) -> str:
    """One line per distinct threshold value; rungs sharing a value share its line and label."""
    lines: dict[tuple[float, str], list[dict[str, Any]]] = {}
    for rung in thresholds:
        lines.setdefault((rung["promote"], "promote"), []).append(rung)
        lines.setdefault((rung["demote"], "demote"), []).append(rung)
    out = ['<g class="thresholds" font-size="11">']
    label_ys: list[float] = []
    for (value, which), rungs in sorted(lines.items(), key=lambda item: -item[0][0]):
        if not frame.y0 <= value <= frame.y1:
            continue
        y = frame.y(value)
        colour = THRESHOLD_COLOUR[rungs[0]["on"]] if len({r["on"] for r in rungs}) == 1 else "#333333"
        dash = "8 4" if which == "promote" else "2 4"
        names = "/".join(r["rung"].upper() if r["rung"] != "warm" else "warm" for r in rungs)
        arrow = "↑" if which == "promote" else "↓"
        label_y = y + 4
        while any(abs(label_y - other) < 12 for other in label_ys):
            label_y += 12
        label_ys.append(label_y)
        on = ", ".join(sorted({r["on"] for r in rungs}))
        out.append(
            f'<line class="threshold" data-threshold="{escape(names)} {which}" data-value="{value!r}" '
            f'x1="{frame.left}" x2="{frame.left + frame.plot_width}" y1="{y:.2f}" y2="{y:.2f}" stroke="{colour}" '
            f'stroke-dasharray="{dash}" stroke-width="1.2" opacity="0.8"><title>{escape(names)} {which} at '
            f'{_number(value)} ({escape(on)})</title></line>'
        )
        out.append(f'<text x="{frame.left + frame.plot_width + 6}" y="{label_y:.2f}" fill="{colour}">'
                   f'{arrow}{_number(value)} {escape(names)}</text>')
    out.append("</g>")
    return "".join(out)


def _event_marks(frame: Frame, document: dict[str, Any]) -> str:
    base = frame.top + frame.plot_height
    out = ['<g class="events">']
    for event in document["events"]:
        if not event["signal"] or not frame.t0 <= event["t"] <= frame.t1:
            continue
        x = frame.x(event["t"])
        out.append(f'<path class="event-mark" d="M{x:.2f},{base - 9:.2f} l4,8 h-8 z" fill="#555">'
                   f'<title>{escape(event["signal"])} at {escape(event["at"])}</title></path>')
    for move in document["moves"]:
        if not frame.t0 <= move["t"] <= frame.t1:
            continue
        x = frame.x(move["t"])
        label = f'{move["from_stage"]}→{move["to_stage"]}, {move["from_temperature"]}→{move["to_temperature"]}'
        out.append(f'<line class="move-mark" x1="{x:.2f}" x2="{x:.2f}" y1="{frame.top}" y2="{base}" '
                   f'stroke="#b91c1c" stroke-width="1" stroke-dasharray="1 3"><title>{escape(label)} at '
                   f'{escape(move["at"])}</title></line>')
    out.append("</g>")
    return "".join(out)


def transitions_chart(per_minute: Sequence[tuple[float, int]], width: int = 360, height: int = 90) -> str:
    """Bars of stage transitions per minute, oldest to newest."""
    peak = max([count for _, count in per_minute] + [1])
    bar = (width - 30) / max(len(per_minute), 1)
    counts = ", ".join(str(count) for _, count in per_minute)
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart transitions-chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-labelledby="tpm-title tpm-desc">',
        '<title id="tpm-title">Stage transitions per minute</title>',
        f'<desc id="tpm-desc">Over the last {len(per_minute)} minutes, oldest first: {escape(counts)}.</desc>',
        f'<text x="0" y="12" font-size="10" fill="#555">{peak}</text>',
        f'<line x1="24" x2="{width}" y1="{height - 14}" y2="{height - 14}" stroke="#999"/>',
    ]
    for index, (minute, count) in enumerate(per_minute):
        h = (height - 30) * count / peak
        x = 26 + index * bar
        out.append(f'<rect x="{x:.1f}" y="{height - 14 - h:.1f}" width="{max(bar - 2, 1):.1f}" height="{h:.1f}" '
                   f'fill="#1f6fb4"><title>{escape(_iso(minute))}: {count}</title></rect>')
    out.append(f'<text x="24" y="{height - 2}" font-size="10" fill="#555">−{len(per_minute)} min</text>')
    out.append(f'<text x="{width}" y="{height - 2}" font-size="10" fill="#555" text-anchor="end">now</text>')
    out.append("</svg>")
    return "".join(out)
