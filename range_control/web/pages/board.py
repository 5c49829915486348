"""The public board as pages show it (ranking, first bloods, solve matrix, chart), computed once
per change and shared by every request of the process."""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from range_control.context import Range
from range_control.core.clock import iso
from range_control.services.event import announcements, scenario
from range_control.services.event import event as events
from range_control.services.play import scoreboard
from range_control.specs.api.event import AnnouncementOut
from range_control.web.pages.chart import chart_svg


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
    phase_translations: dict[str, dict[str, str]]
    next_at: datetime | None
    rows: list[Row]
    columns: list[tuple[str, str, int, int, dict[str, Any]]]  # slug, name, value, solves, names
    first_blood: dict[str, str]  # slug -> team
    chart: Any  # Markup, None before any point
    announcements: list[AnnouncementOut]
    key: str
    marker: tuple[Any, ...] = ()


_cache_lock = threading.Lock()


def board_view(ctx: Range, *, shown: int = 5) -> BoardView:
    """The public board as pages show it; rebuilt only when something shown changed. A page
    view costs one small read (the marker) while nothing changes."""
    marker = events.page_marker(ctx)
    cached = ctx.cache.get("web_board")
    if cached is not None and cached.marker == marker:
        return cached
    snap = scoreboard.snapshot(ctx, public=True)
    ann = announcements.recent(ctx, limit=shown)
    w = scenario.where(ctx)  # fresh: the snapshot's event is as of its last score change
    ev, st = w.view, w.at
    phase = st.phase.title if st is not None and st.phase is not None else None
    phase_translations = scenario.phase_translations(w)
    next_at = st.next_at if st is not None else None
    key_src = f"{snap.etag}|{ev.state}|{phase}|{iso(next_at)}|{iso(ev.ends_at)}|" + ",".join(
        str(a.id) for a in ann
    )
    key = hashlib.sha256(key_src.encode()).hexdigest()[:32]
    if cached is not None and cached.key == key:
        cached.marker = marker
        return cached
    with _cache_lock:
        visible = sorted(
            (c for c in snap.challenges.values() if c.visible), key=lambda c: (c.category, c.name)
        )
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
        columns = [
            (
                c.slug,
                c.name,
                snap.board.challenges[c.id].value,
                snap.board.challenges[c.id].solves,
                c.translations,
            )
            for c in visible
        ]
        view = BoardView(
            event=ev,
            phase_title=phase,
            phase_translations=phase_translations,
            next_at=next_at,
            rows=rows,
            columns=columns,
            first_blood=first_blood,
            chart=chart_svg(snap.board.standings[:10], ev),
            announcements=ann,
            key=key,
            marker=marker,
        )
        ctx.cache["web_board"] = view
        return view
