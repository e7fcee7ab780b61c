"""The overview's daily chart as inline SVG drawn on the server.

Dialogues per day as bars (left axis), the day's upsell attempt rate in % as a line
with markers (right axis, 0-100). A Bokeh figure did the same with dozens of models, a
canvas and their views in the browser (31 of the overview's 191 ms of server CPU alone,
measured in process at 100 000 dialogues); this is one HTML pane with nothing to run.
"""

from __future__ import annotations

import math
from typing import Any

from dashboard import safe
from dashboard import strings as S

WIDTH, HEIGHT = 1000, 260
LEFT, RIGHT, TOP, BOTTOM = 56, 48, 30, 28  # room for the axes' labels and the legend
BAR = "#1f77b4"
RATE = "#d62728"


def _step(top: int) -> int:
    """A round whole tick step for an axis from 0 to `top` (1, 2, 5 x 10^n)."""
    raw = max(top, 4) / 4
    power = 10 ** math.floor(math.log10(raw))
    return int(next(m * power for m in (1, 2, 5, 10) if m * power >= raw))


def trend_svg(rows: list[dict[str, Any]]) -> safe.Html:
    """The chart of `rows` (day, dialogues, attempt_rate), oldest day first."""
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    step = _step(max(r["dialogues"] for r in rows))
    top = max(step, math.ceil(max(r["dialogues"] for r in rows) / step) * step)
    slot = plot_w / len(rows)
    label_every = max(1, math.ceil(len(rows) / 16))  # at most ~16 day labels

    def y(value: float, scale: float) -> float:
        return TOP + plot_h - value / scale * plot_h

    parts: list[safe.Html] = []
    for tick in range(0, top + 1, step):
        parts.append(
            safe.html(
                '<line x1="{x1}" x2="{x2}" y1="{y}" y2="{y}" stroke="#e5e5e5"/>'
                '<text x="{tx}" y="{ty}" text-anchor="end">{label}</text>',
                x1=LEFT,
                x2=LEFT + plot_w,
                y=f"{y(tick, top):.1f}",
                tx=LEFT - 6,
                ty=f"{y(tick, top) + 4:.1f}",
                label=f"{tick:,}".replace(",", "\u00a0"),
            )
        )
    for pct in (0, 25, 50, 75, 100):
        parts.append(
            safe.html(
                '<text x="{x}" y="{y}">{pct}</text>',
                x=LEFT + plot_w + 6,
                y=f"{y(pct, 100) + 4:.1f}",
                pct=pct,
            )
        )
    points = []
    for i, r in enumerate(rows):
        x = LEFT + slot * i
        bar = min(slot * 0.7, 48.0)
        parts.append(
            safe.html(
                '<rect x="{x}" y="{y}" width="{w}" height="{h}" fill="{c}" fill-opacity="0.5">'
                "<title>{tip}</title></rect>",
                x=f"{x + (slot - bar) / 2:.1f}",
                y=f"{y(r['dialogues'], top):.1f}",
                w=f"{bar:.1f}",
                h=f"{r['dialogues'] / top * plot_h:.1f}",
                c=BAR,
                tip=f"{r['day']:%d.%m}: {r['dialogues']} {S.TREND_DIALOGUES}",
            )
        )
        if i % label_every == 0:
            parts.append(
                safe.html(
                    '<text x="{x}" y="{y}" text-anchor="middle">{day}</text>',
                    x=f"{x + slot / 2:.1f}",
                    y=HEIGHT - 8,
                    day=f"{r['day']:%d.%m}",
                )
            )
        if r["attempt_rate"] is not None:
            points.append((x + slot / 2, y(r["attempt_rate"] * 100, 100), r))
    if len(points) > 1:
        parts.append(
            safe.html(
                '<polyline points="{p}" fill="none" stroke="{c}" stroke-width="2"/>',
                p=" ".join(f"{px:.1f},{py:.1f}" for px, py, _ in points),
                c=RATE,
            )
        )
    for px, py, r in points:
        parts.append(
            safe.html(
                '<circle cx="{x}" cy="{y}" r="4" fill="{c}"><title>{tip}</title></circle>',
                x=f"{px:.1f}",
                y=f"{py:.1f}",
                c=RATE,
                tip=f"{r['day']:%d.%m}: {round(r['attempt_rate'] * 100)}%",
            )
        )
    legend = safe.html(
        '<rect x="{x}" y="6" width="14" height="10" fill="{bar}" fill-opacity="0.5"/>'
        '<text x="{tx}" y="15">{dialogues}</text>'
        '<line x1="{lx}" x2="{lx2}" y1="11" y2="11" stroke="{rate}" stroke-width="2"/>'
        '<text x="{ltx}" y="15">{attempt}</text>',
        x=LEFT,
        tx=LEFT + 20,
        bar=BAR,
        dialogues=S.TREND_DIALOGUES,
        lx=LEFT + 120,
        lx2=LEFT + 140,
        ltx=LEFT + 146,
        rate=RATE,
        attempt=S.TREND_ATTEMPT,
    )
    return safe.html(
        '<svg class="trend" viewBox="0 0 {w} {h}" width="100%" role="img" '
        'style="max-width:{w}px;font:12px sans-serif;fill:#444">{legend}{parts}</svg>',
        w=WIDTH,
        h=HEIGHT,
        legend=legend,
        parts=safe.join(parts),
    )
