"""What the pages show, computed once per change: the board view (ranking, first bloods, solve
matrix, score-over-time chart as SVG), markdown made safe, times, login limits, sessions."""

from __future__ import annotations

import hashlib
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import nh3
from flask import Flask, current_app, flash, request
from flask.sessions import SecureCookieSessionInterface
from limits import parse as parse_limit
from limits.storage import MemoryStorage
from limits.strategies import MovingWindowRateLimiter
from markdown_it import MarkdownIt
from markupsafe import Markup

from range_control.clock import iso
from range_control.services import events, scenario, scoreboard
from range_control.services.context import Range
from range_control.services.errors import ServiceError

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).enable("table")
_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li", "a", "h1", "h2",
    "h3", "h4", "hr", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
MAX_MARKDOWN = 100_000


def markdown(text: str | None) -> Markup:
    """CommonMark with raw HTML off, then sanitised (nh3/ammonia) as a second wall."""
    html = _md.render((text or "")[:MAX_MARKDOWN])
    clean = nh3.clean(
        html, tags=_TAGS, attributes={"a": {"href", "title"}},
        url_schemes={"http", "https", "mailto"}, link_rel="noopener noreferrer",
    )  # fmt: skip
    return Markup(clean)  # noqa: S704 - sanitised just above


def when(value: datetime | str | None) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value.replace("T", " ").replace("Z", " UTC")
    return value.strftime("%Y-%m-%d %H:%M:%S UTC")


def country_flag(code: str | None) -> str:
    """ISO 3166 alpha-2 to its flag (two regional-indicator letters): no image set to vendor;
    where the system has no flag glyphs, the letters show instead."""
    if not code or len(code) != 2 or not code.isalpha():
        return ""
    return "".join(chr(0x1F1E6 + ord(c) - ord("A")) for c in code.upper())


def install_filters(app: Flask) -> None:
    app.jinja_env.filters["flag"] = country_flag
    app.jinja_env.filters["markdown"] = markdown
    app.jinja_env.filters["when"] = when
    app.jinja_env.filters["iso"] = iso
    app.session_interface = _SessionInterface()
    app.extensions["login_limiter"] = LoginLimiter()


class _SessionInterface(SecureCookieSessionInterface):
    """Session cookies are Secure whenever the request came over TLS (ProxyFix included).

    The JSON API authenticates by bearer token and never uses the session: its requests (flag
    attempts, scoreboard polls) skip reading and signing a cookie altogether."""

    def get_cookie_secure(self, app: Flask) -> bool:
        return bool(app.config.get("SESSION_COOKIE_SECURE")) or request.is_secure

    def open_session(self, app: Flask, request: Any) -> Any:
        if request.path.startswith("/api/"):
            return None  # Flask uses a null session: nothing read, nothing written back
        return super().open_session(app, request)


class LoginLimiter:
    """Login attempts per client address: a moving window (``limits``, in memory per process:
    with N gunicorn workers a client gets at most N times the limit)."""

    def __init__(self, limit: str = "10/minute") -> None:
        self.item = parse_limit(limit)
        self._pid = -1
        self._limiter: MovingWindowRateLimiter | None = None

    @property
    def limiter(self) -> MovingWindowRateLimiter:
        # Made in the worker that uses it: the storage runs an expiry thread, and a thread does
        # not survive the fork of a preloading server (gunicorn --preload).
        if self._limiter is None or self._pid != os.getpid():
            self._limiter, self._pid = MovingWindowRateLimiter(MemoryStorage()), os.getpid()
        return self._limiter

    def hit(self, scope: str, key: str) -> int | None:
        """Count one attempt; None when allowed, else the seconds until the next one."""
        if self.limiter.hit(self.item, scope, key):
            return None
        reset = self.limiter.get_window_stats(self.item, scope, key).reset_time
        return max(1, int(reset - datetime.now().timestamp()) + 1)


@contextmanager
def flash_errors() -> Iterator[None]:
    """A form's action: a refusal by the service (bad input, conflict, limit, ...) becomes a
    message on the page the user is sent back to, never an error page."""
    try:
        yield
    except ServiceError as exc:
        flash(exc.message, "error")


def login_limiter() -> LoginLimiter:
    return current_app.extensions["login_limiter"]


# --- the board ----------------------------------------------------------------------------
PALETTE = 10


@dataclass
class Row:
    pos: int
    team_id: int
    team: str
    country: str | None
    score: int
    solves: int
    last_solve_at: datetime | None
    solved: set[str] = field(default_factory=set)
    first_bloods: set[str] = field(default_factory=set)


@dataclass
class BoardView:
    event: Any
    phase_title: str | None
    next_at: datetime | None
    rows: list[Row]
    columns: list[tuple[str, str, int, int]]  # slug, name, value, solves
    first_blood: dict[str, str]  # slug -> team
    chart: Markup
    announcements: list[dict[str, Any]]
    key: str
    marker: tuple[Any, ...] = ()


_cache_lock = threading.Lock()


def board_view(rng: Range, *, announcements: int = 5) -> BoardView:
    """The public board as pages show it; rebuilt only when something shown changed. A page
    view costs one small read (the marker) while nothing changes."""
    marker = events.page_marker(rng)
    cached = rng.cache.get("web_board")
    if cached is not None and cached.marker == marker:
        return cached
    snap = scoreboard.snapshot(rng, public=True)
    ann = scenario.announcements(rng, limit=announcements)
    ev, st = scenario.state(rng)  # fresh: the snapshot's event is as of its last score change
    phase = st.phase.title if st is not None and st.phase is not None else None
    next_at = st.next_at if st is not None else None
    key_src = f"{snap.etag}|{ev.state}|{phase}|{iso(next_at)}|{iso(ev.ends_at)}|" + ",".join(
        str(a["id"]) for a in ann
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:32]
    if cached is not None and cached.key == key:
        cached.marker = marker
        return cached
    with _cache_lock:
        visible = sorted((c for c in snap.challenges.values() if c.visible),
                         key=lambda c: (c.category, c.name))  # fmt: skip
        names = {c.id: c.name for c in snap.challenges.values()}
        slugs = {c.id: c.slug for c in snap.challenges.values()}
        teams = {r.team_id: r.team for r in snap.board.standings}
        first_blood = {
            slugs[cid]: teams[st_.first_blood_team_id]
            for cid, st_ in snap.board.challenges.items()
            if st_.first_blood_team_id in teams and cid in slugs
        }
        rows = []
        for r in snap.board.standings:
            row = Row(r.pos, r.team_id, r.team, r.country, r.score, r.solves, r.last_solve_at)
            for e in r.ledger:
                if e.kind == "solve" and e.challenge:
                    row.solved.add(e.challenge)
                elif e.kind == "first_blood" and e.challenge:
                    row.first_bloods.add(e.challenge)
            row.first_bloods |= {s for s, t in first_blood.items() if t == r.team}
            rows.append(row)
        columns = [(c.slug, names[c.id], snap.board.challenges[c.id].value,
                    snap.board.challenges[c.id].solves) for c in visible]  # fmt: skip
        view = BoardView(
            event=ev, phase_title=phase, next_at=next_at, rows=rows, columns=columns,
            first_blood=first_blood, chart=chart_svg(snap.board.standings[:10], ev),
            announcements=ann, key=key, marker=marker,
        )  # fmt: skip
        rng.cache["web_board"] = view
        return view


def chart_svg(top: list[Any], ev: events.EventView, width: int = 720, height: int = 260) -> Markup:
    """Score over time of the top teams: one step line each, server-rendered SVG (no script).

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
        return Markup('<p class="muted">No points scored yet.</p>')
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
        f'aria-label="Score over time of the top {len(series)} teams">',
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
        parts.append(f'<rect class="key {cls}" x="{width - pad_r + 10}" y="{ly}" width="10" '
                     f'height="10"/><text class="legend" x="{width - pad_r + 26}" y="{ly + 9}">'
                     f"{r.pos}. {name} ({r.score})</text>")  # fmt: skip
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text in it is escaped or a number
