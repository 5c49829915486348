"""Score over time as a server-rendered SVG: no script, no external asset."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from markupsafe import Markup

from range_control.services.event import event

PALETTE = 10


def chart_svg(
    top: list[Any], ev: event.EventView, width: int = 720, height: int = 260
) -> Markup | None:
    """Score over time of the top teams: one step line each, server-rendered SVG (no script);
    None before any point. Named by the element ``#chart-title`` (the page's heading, in the
    reader's language: the SVG is shared by every language).

    Points are what each entry gives now (retroactive decay moves earlier points too)."""
    series = []
    for r in top:
        pts, total = [], 0
        for e in sorted(r.ledger, key=lambda e: e.at):
            total += e.points
            pts.append((e.at, total))
        series.append((r, pts))
    times = [t for _, pts in series for t, _ in pts]
    if not times:
        return None
    t0 = min([*times, *([ev.starts_at] if ev.starts_at else [])])
    t1 = max(times)
    span = max((t1 - t0).total_seconds(), 1.0)
    top_score = max([s for _, pts in series for _, s in pts] + [1])
    pad_l, pad_b, pad_t, pad_r = 48, 24, 10, 150

    def x(t: datetime) -> float:
        return pad_l + (t - t0).total_seconds() / span * (width - pad_l - pad_r)

    def y(v: float) -> float:
        return height - pad_b - v / top_score * (height - pad_b - pad_t)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" '
        'aria-labelledby="chart-title">',
        f'<line class="axis" x1="{pad_l}" y1="{height - pad_b}" x2="{width - pad_r}" '
        f'y2="{height - pad_b}"/>',
        f'<line class="axis" x1="{pad_l}" y1="{pad_t}" x2="{pad_l}" y2="{height - pad_b}"/>',
        f'<text class="tick" x="{pad_l - 6}" y="{pad_t + 4}" text-anchor="end">{top_score}</text>',
        f'<text class="tick" x="{pad_l - 6}" y="{height - pad_b}" text-anchor="end">0</text>',
        f'<text class="tick" x="{pad_l}" y="{height - 6}">{t0:%H:%M}</text>',
        f'<text class="tick" x="{width - pad_r}" y="{height - 6}" text-anchor="end">{t1:%H:%M}'
        "</text>",
    ]
    for i, (r, pts) in enumerate(series):
        coords = [f"{x(t0):.1f},{y(0):.1f}"]
        prev = 0
        for t, v in pts:
            coords.append(f"{x(t):.1f},{y(prev):.1f}")
            coords.append(f"{x(t):.1f},{y(v):.1f}")
            prev = v
        coords.append(f"{x(t1):.1f},{y(prev):.1f}")
        cls = f"s{i % PALETTE}"
        parts.append(f'<polyline class="line {cls}" points="{" ".join(coords)}"/>')
        ly = pad_t + 4 + i * 18
        name = Markup.escape(r.team)
        parts.append(
            f'<rect class="key {cls}" x="{width - pad_r + 10}" y="{ly}" width="10" '
            f'height="10"/><text class="legend" x="{width - pad_r + 26}" y="{ly + 9}">'
            f"{r.pos}. {name} ({r.score})</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped or a number
