"""What a team sees of the catalog: the list, one challenge with its hints, its own standing."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from range_control.services.context import Range
from range_control.services.errors import NotFound
from range_control.services.hints import hints_for
from range_control.services.scoreboard import snapshot
from range_control.store.models import Challenge, Solve


def team_challenges(rng: Range, team_id: int) -> list[dict[str, Any]]:
    """The catalog as a team sees it: values and solve counts from the public board."""
    snap = snapshot(rng, public=True)
    with rng.store.read() as s:
        mine = set(s.scalars(select(Solve.challenge_id).where(Solve.team_id == team_id)))
    slugs_solved = {snap.challenges[c].slug for c in mine if c in snap.challenges}
    out = []
    for ch in sorted(snap.challenges.values(), key=lambda c: (c.category, c.value, c.name)):
        if not ch.visible:
            continue
        state = snap.board.challenges[ch.id]
        locked_by = [p for p in ch.prerequisites if p not in slugs_solved]
        out.append(
            {
                "slug": ch.slug,
                "name": ch.name,
                "category": ch.category,
                "value": state.value,
                "solves": state.solves,
                "solved_by_me": ch.id in mine,
                "locked": bool(locked_by),
                "requires": list(ch.prerequisites),
                "tags": list(ch.tags),
            }
        )
    return out


def challenge_detail(rng: Range, team_id: int, slug: str) -> dict[str, Any]:
    snap = snapshot(rng, public=True)
    with rng.store.read() as s:
        ch = s.scalar(select(Challenge).where(Challenge.slug == slug))
        if ch is None or not ch.visible:
            raise NotFound(f"challenge {slug!r} not found")
        solved = s.scalar(
            select(Solve.id).where(Solve.team_id == team_id, Solve.challenge_id == ch.id)
        )
        state = snap.board.challenges.get(ch.id)
        return {
            "slug": ch.slug,
            "name": ch.name,
            "category": ch.category,
            "author": ch.author,
            "description": ch.description,
            "value": state.value if state else ch.value,
            "solves": state.solves if state else 0,
            "solved_by_me": solved is not None,
            "files": [f.rsplit("/", 1)[-1] for f in ch.files],
            "connection_info": ch.connection_info,
            "max_attempts": ch.max_attempts,
            "requires": list(ch.prerequisites),
            "tags": list(ch.tags),
            "hints": hints_for(s, team_id, ch.id),
        }
