"""Scoreboards (public and organiser), the CTFtime feed, and a team's view of the catalog.

A board is computed from the raw records by ``domain.scoring`` and cached per process under the
event's ``score_generation``, which every score-changing transaction bumps (solves, awards, hint
unlocks, team and challenge changes), plus the cut-off in force. A wrong flag bumps nothing, so
it never throws the cache away; a solve bumps it in its own transaction, so it shows at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.clock import iso
from range_control.domain.scoring import (
    AwardRec,
    Board,
    ChallengeValue,
    SolveRec,
    TeamRec,
    UnlockRec,
    compute_board,
)
from range_control.services.context import Range
from range_control.services.errors import NotFound
from range_control.services.events import EventView, current
from range_control.store.models import Award, Challenge, Hint, HintUnlock, Solve, Team

_lock = threading.Lock()


def value_of(ch: Any) -> ChallengeValue:
    """The scoring view of a challenge (an ORM row or a plain row with the same columns)."""
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


@dataclass(frozen=True)
class Snapshot:
    event: EventView
    board: Board
    public: bool
    challenges: dict[int, Challenge]
    body: bytes  # GET /scoreboard JSON
    etag: str


def _compute(
    s: Session, ev: EventView, cutoff: datetime | None
) -> tuple[Board, dict[int, Challenge]]:
    teams = [
        TeamRec(t.id, t.name, t.country)
        for t in s.scalars(select(Team).where(Team.disabled.is_(False)).order_by(Team.id))
    ]
    challenges = {c.id: c for c in s.scalars(select(Challenge))}
    solves = [
        SolveRec(i, t, c, at)
        for i, t, c, at in s.execute(
            select(Solve.id, Solve.team_id, Solve.challenge_id, Solve.created_at)
        )
    ]
    awards = [
        AwardRec(i, t, v, at, r)
        for i, t, v, at, r in s.execute(
            select(Award.id, Award.team_id, Award.value, Award.created_at, Award.reason)
        )
    ]
    unlocks = [
        UnlockRec(i, t, c, cost, at, title or "")
        for i, t, c, cost, at, title in s.execute(
            select(
                HintUnlock.id,
                HintUnlock.team_id,
                Hint.challenge_id,
                HintUnlock.cost,
                HintUnlock.created_at,
                Hint.title,
            ).join(Hint, Hint.id == HintUnlock.hint_id)
        )
    ]
    board = compute_board(
        teams=teams,
        challenges=[value_of(c) for c in challenges.values()],
        solves=solves,
        awards=awards,
        unlocks=unlocks,
        cutoff=cutoff,
        points_fixed_at_solve=ev.points_fixed_at_solve,
        first_blood_bonus=ev.first_blood_bonus,
    )
    for c in challenges.values():
        s.expunge(c)
    return board, challenges


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


def snapshot(rng: Range, *, public: bool = True) -> Snapshot:
    """The current board, from cache when nothing that changes a score has happened."""
    ev = current(rng)
    cutoff = ev.freeze_at if (public and ev.frozen) else None
    key = ("board", public, ev.generation, cutoff, ev.state)  # the body carries the state
    cached = rng.cache.get("board", {}).get(key)
    if cached is not None:
        return cached
    with _lock:
        cached = rng.cache.get("board", {}).get(key)
        if cached is not None:
            return cached
        with rng.store.read() as s:
            board, challenges = _compute(s, ev, cutoff)
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
        store = {k: v for k, v in rng.cache.get("board", {}).items() if k[1] != public}
        store[key] = snap
        rng.cache["board"] = store
        return snap


def ledger(rng: Range, team_id: int, *, public: bool = True) -> dict[str, Any]:
    snap = snapshot(rng, public=public)
    for row in snap.board.standings:
        if row.team_id == team_id:
            return {
                "team": row.team,
                "country": row.country,
                "pos": row.pos,
                "score": row.score,
                "frozen": snap.public and snap.event.frozen,
                "entries": [
                    {
                        "kind": e.kind,
                        "challenge": e.challenge,
                        "points": e.points,
                        "at": iso(e.at),
                        "why": e.why,
                    }
                    for e in row.ledger
                ],
            }
    raise NotFound(f"team {team_id} not found")


def ctftime(rng: Range) -> dict[str, Any]:
    """CTFtime's scoreboard feed: standings with per-task points and times."""
    snap = snapshot(rng, public=True)
    tasks = sorted(c.name for c in snap.challenges.values() if c.visible)
    names = {c.slug: c.name for c in snap.challenges.values()}
    standings = []
    for row in snap.board.standings:
        stats: dict[str, dict[str, int]] = {}
        for e in row.ledger:
            if e.kind == "solve" and e.challenge in names:
                stats[names[e.challenge]] = {"points": e.points, "time": int(e.at.timestamp())}
        standings.append({"pos": row.pos, "team": row.team, "score": row.score, "taskStats": stats})
    return {"tasks": tasks, "standings": standings}
