"""The after-action report's formats: self-contained HTML (inline CSS with a print stylesheet,
the progression as inline SVG, no script, no external asset), JSON, and CSV files of the same
facts (standings, challenges, the teams' timelines, the organisers' actions)."""

from __future__ import annotations

import io
import json
from datetime import datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from markupsafe import Markup

from range_control.core.files import write_durably
from range_control.core.markup import markdown
from range_control.specs.text import CsvWriter

FORMATS = ("html", "json", "csv")
HERE = Path(__file__).resolve().parent
# Distinct on paper and for colour-blind readers (Okabe-Ito, then darker variants).
COLOURS = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#8B4513",
    "#4B0082",
    "#2F4F4F",
)
TOP = 10  # teams drawn on the progression chart (every team is in the tables)


def _t(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value.replace("Z", "+00:00")) if value else None


def svg_progression(doc: dict[str, Any], width: int = 900, height: int = 360) -> Markup:
    """Score against time, one line per team (the top ten), drawn on the server."""
    series = [s for s in doc["progression"] if s["points"]][:TOP]
    start = _t(doc["event"]["started_at"]) or _t(doc["event"]["generated_at"])
    end = _t(doc["event"]["ended_at"]) or _t(doc["event"]["generated_at"])
    title = "Score progression"
    if not series or start is None or end is None or end <= start:
        return Markup('<p class="muted">No score to plot yet.</p>')
    top = max(1, max(max(p[1] for p in s["points"]) for s in series))
    low = min(0, min(min(p[1] for p in s["points"]) for s in series))
    left, right, up, down = 56, 170, 16, 32
    w, h = width - left - right, height - up - down
    span = (end - start).total_seconds()

    def x(at: datetime) -> float:
        return left + w * max(0.0, min(1.0, (at - start).total_seconds() / span))

    def y(v: float) -> float:
        return up + h * (1 - (v - low) / (top - low))

    parts = [
        f'<svg viewBox="0 0 {width} {height}" '
        f'role="img" aria-labelledby="prog-title" class="chart">'
        f'<title id="prog-title">{title}</title>',
        f'<line x1="{left}" y1="{y(low):.1f}" x2="{left + w}" y2="{y(low):.1f}" '
        f'stroke="#333"/><line x1="{left}" y1="{up}" x2="{left}" y2="{up + h}" '
        f'stroke="#333"/>',
    ]
    for k in range(5):
        v = low + (top - low) * k / 4
        parts.append(
            f'<text x="{left - 6}" y="{y(v) + 4:.1f}" text-anchor="end" '
            f'font-size="11">{round(v)}</text>'
        )
    for k, when in enumerate((start, end)):
        parts.append(
            f'<text x="{left + w * k}" y="{height - 10}" text-anchor="middle" '
            f'font-size="11">{when:%d %b %H:%MZ}</text>'
        )
    for i, s in enumerate(series):
        colour = COLOURS[i % len(COLOURS)]
        pts = [(left, y(0))]
        for at, score in s["points"]:
            px = x(_t(at))  # type: ignore[arg-type]
            pts.append((px, pts[-1][1]))  # a step: the score holds until the next entry
            pts.append((px, y(score)))
        pts.append((left + w, pts[-1][1]))
        path = " ".join(f"{a:.1f},{b:.1f}" for a, b in pts)
        dash = ' stroke-dasharray="6 3"' if i >= len(COLOURS) // 2 else ""
        parts.append(
            f'<polyline fill="none" stroke="{colour}" stroke-width="2"{dash} points="{path}"/>'
        )
        ly = up + 14 * i + 10
        name = Markup.escape(s["team"])
        parts.append(
            f'<line x1="{left + w + 10}" y1="{ly - 4}" x2="{left + w + 30}" '
            f'y2="{ly - 4}" stroke="{colour}" stroke-width="2"{dash}/>'
            f'<text x="{left + w + 36}" y="{ly}" font-size="11">{s["pos"]}. {name}'
            f"</text>"
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped above


def _env() -> Environment:
    env = Environment(
        loader=FileSystemLoader(HERE),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["markdown"] = markdown
    env.filters["when"] = lambda v: (v or "").replace("T", " ")[:16] + ("Z" if v else "")
    env.filters["duration"] = _duration
    return env


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    minutes = int(seconds // 60)
    return f"{minutes // 60}h{minutes % 60:02d}" if minutes >= 60 else f"{minutes} min"


def html(doc: dict[str, Any]) -> str:
    return _env().get_template("template.html").render(doc=doc, chart=svg_progression(doc))


def csv_files(doc: dict[str, Any]) -> dict[str, str]:
    """The same facts, one CSV per table (cells that a spreadsheet would run as a formula are
    prefixed with ')."""

    def table(header: list[str], rows: list[list[Any]]) -> str:
        buf = io.StringIO()
        w = CsvWriter(buf)
        w.writerow(header)
        for row in rows:
            w.writerow(row)
        return buf.getvalue()

    events = [
        [
            t["name"],
            e["at"],
            e["kind"],
            e.get("challenge") or "",
            e.get("outcome") or "",
            e.get("points", ""),
            e.get("by") or "",
            e.get("submitted") or e.get("reason") or e.get("hint") or e.get("what") or "",
        ]
        for t in doc["teams"]
        for e in t["events"]
    ]
    return {
        "standings.csv": table(
            ["pos", "team", "country", "score", "solves"],
            [
                [r["pos"], r["team"], r["country"] or "", r["score"], r["solves"]]
                for r in doc["standings"]
            ],
        ),
        "challenges.csv": table(
            [
                "slug",
                "name",
                "category",
                "opened_at",
                "solves",
                "first_blood_team",
                "first_blood_at",
                "median_seconds_to_solve",
                "wrong_attempts",
                "hints_bought",
            ],
            [
                [
                    c["slug"],
                    c["name"],
                    c["category"],
                    c["opened_at"] or "",
                    c["solves"],
                    (c.get("first_blood") or {}).get("team", ""),
                    (c.get("first_blood") or {}).get("at", ""),
                    c.get("median_seconds_to_solve", c.get("seconds_to_solve")) or "",
                    c["wrong_attempts"],
                    c["hints_bought"],
                ]
                for c in doc["challenges"]
            ],
        ),
        "timeline.csv": table(
            ["team", "at", "kind", "challenge", "outcome", "points", "by", "detail"], events
        ),
        "organiser_actions.csv": table(
            ["at", "actor", "action", "detail"],
            [
                [a["at"], a["actor"], a["action"], json.dumps(a["detail"], ensure_ascii=False)]
                for a in doc["organiser_actions"]
            ],
        ),
    }


def write(doc: dict[str, Any], out: Path, formats: tuple[str, ...] = FORMATS) -> list[Path]:
    """The report's files in ``out`` (made if needed), each written whole then renamed."""
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, str] = {}
    if "html" in formats:
        files["report.html"] = html(doc)
    if "json" in formats:
        files["report.json"] = json.dumps(doc, ensure_ascii=False, indent=1)
    if "csv" in formats:
        files.update(csv_files(doc))
    written = []
    for name, text in files.items():
        write_durably(out / name, text.encode("utf-8"))
        written.append(out / name)
    return written
