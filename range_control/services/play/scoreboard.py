"""Scoreboards (public and organiser), a team's ledger and the CTFtime feed.

A board is computed from the raw records by ``domain.scoring`` and cached per process under the
event's ``score_generation``, which every score-changing transaction bumps (solves, awards, hint
unlocks, team and challenge changes), plus the cut-off in force. A wrong flag bumps nothing, so
it never throws the cache away; a solve bumps it in its own transaction, so it shows at once.
Everything in a snapshot is immutable: it is shared by every thread of the process.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core import metrics
from range_control.core.clock import iso
from range_control.core.errors import NotFound
from range_control.domain.scoring import (
    AwardRec,
    Board,
    ChallengeValue,
    GradeRec,
    SolveRec,
    TeamRec,
    UnlockRec,
    compute_board,
)
from range_control.domain.visibility import is_visible
from range_control.services.defence import scores as defence_scores
from range_control.services.event.event import EventView, current_in
from range_control.services.whitecell.publication import grade_records
from range_control.specs.api.play import CtftimeOut, LedgerOut
from range_control.store.models import Award, Challenge, Hint, HintUnlock, Solve, Team

_lock = threading.Lock()


def value_of(ch: Any) -> ChallengeValue:
    """The scoring view of a challenge (any row or record with the same columns)."""
    return ChallengeValue(
        id=ch.id,
        slug=ch.slug,
        name=ch.name,
        type=ch.type,
        value=ch.value,
        minimum=ch.minimum,
        decay=ch.decay,
        function=ch.decay_function,
    )


@dataclass(frozen=True, slots=True)
class ChallengeInfo:
    """What boards and catalog listings need of a challenge: plain values, no ORM row."""

    id: int
    slug: str
    name: str
    category: str
    visible: bool
    prerequisites: tuple[str, ...]
    tags: tuple[str, ...]
    score: ChallengeValue
    translations: dict[str, dict[str, str]]  # {lang: {name}}: names only, shown to anyone


def names_in(translations: dict[str, Any] | None) -> dict[str, dict[str, str]]:
    """A challenge's translated names, the only translated text a locked or listed challenge
    shows (descriptions and hints stay behind the challenge's own checks)."""
    return {
        lang: {"name": t["name"]}
        for lang, t in (translations or {}).items()
        if isinstance(t, dict) and t.get("name")
    }


@dataclass(frozen=True)
class Snapshot:
    event: EventView
    board: Board
    public: bool
    challenges: dict[int, ChallengeInfo]
    body: bytes  # GET /scoreboard JSON
    etag: str


_CHALLENGES = select(
    Challenge.id,
    Challenge.slug,
    Challenge.name,
    Challenge.category,
    Challenge.type,
    Challenge.value,
    Challenge.minimum,
    Challenge.decay,
    Challenge.decay_function,
    Challenge.admin_state,
    Challenge.phase_state,
    Challenge.spec_state,
    Challenge.prerequisites,
    Challenge.tags,
    Challenge.translations,
)
_TEAMS = select(Team.id, Team.name, Team.country).where(Team.disabled.is_(False)).order_by(Team.id)
_SOLVES = select(Solve.id, Solve.team_id, Solve.challenge_id, Solve.created_at)
_AWARDS = select(Award.id, Award.team_id, Award.value, Award.created_at, Award.reason)
_UNLOCKS = select(
    HintUnlock.id,
    HintUnlock.team_id,
    Hint.challenge_id,
    HintUnlock.cost,
    HintUnlock.created_at,
    Hint.title,
).join(Hint, Hint.id == HintUnlock.hint_id)


def _compute(
    c: Connection, ev: EventView, cutoff: datetime | None, event: str
) -> tuple[Board, dict[int, ChallengeInfo]]:
    challenges = {
        r.id: ChallengeInfo(
            r.id,
            r.slug,
            r.name,
            r.category,
            is_visible(r),
            tuple(r.prerequisites or ()),
            tuple(r.tags or ()),
            value_of(r),
            names_in(r.translations),
        )
        for r in c.execute(_CHALLENGES)
    }
    board = compute_board(
        teams=[TeamRec(*r) for r in c.execute(_TEAMS)],
        challenges=[info.score for info in challenges.values()],
        solves=[SolveRec(*r) for r in c.execute(_SOLVES)],
        awards=[AwardRec(*r) for r in c.execute(_AWARDS)],
        unlocks=[
            UnlockRec(i, t, ch, cost, at, title or "")
            for i, t, ch, cost, at, title in c.execute(_UNLOCKS)
        ],
        grades=_grades(c),
        entries=defence_scores.ledger(c, event),
        cutoff=cutoff,
        points_fixed_at_solve=ev.points_fixed_at_solve,
        first_blood_bonus=ev.first_blood_bonus,
    )
    return board, challenges


def _grades(c: Connection) -> list[GradeRec]:
    with Session(bind=c) as s:
        return grade_records(s)


def _standings_body(ev: EventView, board: Board, public: bool) -> bytes:
    doc = {
        "standings": [
            {
                "pos": r.pos,
                "team": r.team,
                "team_id": r.team_id,
                "country": r.country,
                "score": r.score,
                "solves": r.solves,
                "last_solve_at": iso(r.last_solve_at),
            }
            for r in board.standings
        ],
        "frozen": public and ev.frozen,
        "freeze_at": iso(ev.freeze_at),
        "state": ev.state,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def snapshot(ctx: Range, *, public: bool = True) -> Snapshot:
    """The current board, from cache when nothing that changes a score has happened."""
    with ctx.store.read_conn() as c:
        return snapshot_in(c, ctx, public=public)


def snapshot_in(c: Connection, ctx: Range, *, public: bool = True) -> Snapshot:
    """``snapshot`` in the caller's transaction (the event read there; the board computed there
    when the cache does not hold it)."""
    ev = current_in(c, ctx, ctx.clock.now())
    cutoff = ev.freeze_at if (public and ev.frozen) else None
    key = ("board", public, ev.generation, cutoff, ev.state)  # the body carries the state
    cached = ctx.cache.get("board", {}).get(key)
    if cached is not None:
        metrics.SCOREBOARD_HIT.inc()
        return cached
    with _lock:
        cached = ctx.cache.get("board", {}).get(key)
        if cached is not None:
            metrics.SCOREBOARD_HIT.inc()
            return cached
        metrics.SCOREBOARD_MISS.inc()
        board, challenges = _compute(c, ev, cutoff, ctx.event_slug)
        body = _standings_body(ev, board, public)
        snap = Snapshot(
            event=ev,
            board=board,
            public=public,
            challenges=challenges,
            body=body,
            etag=hashlib.sha256(body).hexdigest()[:32],
        )
        # Keep only the newest entry per view (public / organiser).
        store = {k: v for k, v in ctx.cache.get("board", {}).items() if k[1] != public}
        store[key] = snap
        ctx.cache["board"] = store
        return snap


def ledger(ctx: Range, team_id: int, *, public: bool = True) -> LedgerOut:
    """Why a team has its score: every entry with the points it gives now."""
    snap = snapshot(ctx, public=public)
    for row in snap.board.standings:
        if row.team_id == team_id:
            return LedgerOut(
                team=row.team,
                country=row.country,
                pos=row.pos,
                score=row.score,
                frozen=snap.public and snap.event.frozen,
                entries=row.ledger,  # type: ignore[arg-type]  # read from attributes
            )
    raise NotFound("team {team_id} not found", team_id=team_id)


def ctftime(ctx: Range) -> CtftimeOut:
    """CTFtime's scoreboard feed: standings with per-task points and times."""
    snap = snapshot(ctx, public=True)
    # CTFtime requires every taskStats key to be in tasks: a challenge hidden after teams
    # solved it leaves both (its points stay in the score).
    names = {c.slug: c.name for c in snap.challenges.values() if c.visible}
    tasks = sorted(names.values())
    standings = []
    for row in snap.board.standings:
        stats: dict[str, dict[str, int]] = {}
        for e in row.ledger:  # a graded task is a task too: its grades' points, its time
            if e.kind in ("solve", "grade", "late") and e.challenge in names:
                stat = stats.setdefault(names[e.challenge], {"points": 0, "time": 0})
                stat["points"] += e.points
                stat["time"] = max(stat["time"], int(e.at.timestamp()))
        standings.append({"pos": row.pos, "team": row.team, "score": row.score, "taskStats": stats})
    return CtftimeOut.model_validate({"tasks": tasks, "standings": standings})
