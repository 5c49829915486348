"""Which team instances of live challenges should exist: the reconciler's desired state.

These use cases only write the ``instances`` table; ``orchestrator.reconciler`` makes the engine
agree. Organisers bring environments up and down for every team (or filtered); the scenario's
warm-up and teardown will drive the same table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select

from range_control.services.context import Range
from range_control.services.errors import NotFound
from range_control.services.events import audit
from range_control.store.models import Challenge, Instance, Team


@dataclass(frozen=True)
class Selection:
    team: str | None = None  # name or id
    challenge: str | None = None  # slug


def _teams(s: Any, sel: Selection) -> list[Team]:
    q = select(Team).where(Team.disabled.is_(False)).order_by(Team.id)
    if sel.team is not None:
        ref = sel.team
        q = q.where(Team.id == int(ref)) if ref.isdigit() else q.where(Team.name == ref)
    teams = list(s.scalars(q))
    if sel.team is not None and not teams:
        raise NotFound(f"team {sel.team!r} not found (or disabled)")
    return teams


def _live(s: Any, sel: Selection) -> list[Challenge]:
    q = select(Challenge).order_by(Challenge.slug)
    if sel.challenge is not None:
        q = q.where(Challenge.slug == sel.challenge)
    found = list(s.scalars(q))
    if sel.challenge is not None and not found:
        raise NotFound(f"challenge {sel.challenge!r} not found")
    live = [c for c in found if (c.spec or {}).get("environment")]
    if sel.challenge is not None and not live:
        raise NotFound(f"challenge {sel.challenge!r} has no environment")
    # With no filter, only open challenges; naming one brings it up even while it is closed.
    return live if sel.challenge is not None else [c for c in live if c.visible]


def up(rng: Range, sel: Selection, actor: str) -> int:
    """Make every selected team's instance of every selected live challenge desired."""
    now = rng.clock.now()
    added = 0
    with rng.store.write() as s:
        teams = _teams(s, sel)
        challenges = _live(s, sel)
        have = set(s.execute(select(Instance.team_id, Instance.challenge_id)).all())
        for t in teams:
            for c in challenges:
                if (t.id, c.id) not in have:
                    s.add(Instance(team_id=t.id, challenge_id=c.id, origin="organiser",
                                   created_at=now))  # fmt: skip
                    added += 1
        audit(s, rng, actor, "env.up", team=sel.team, challenge=sel.challenge, added=added)
    return added


def down(rng: Range, sel: Selection, actor: str) -> int:
    with rng.store.write() as s:
        q = delete(Instance)
        if sel.team is not None:
            q = q.where(Instance.team_id.in_([t.id for t in _teams(s, sel)]))
        if sel.challenge is not None:
            ch = s.scalar(select(Challenge.id).where(Challenge.slug == sel.challenge))
            if ch is None:
                raise NotFound(f"challenge {sel.challenge!r} not found")
            q = q.where(Instance.challenge_id == ch)
        removed = s.execute(q).rowcount or 0
        audit(s, rng, actor, "env.down", team=sel.team, challenge=sel.challenge, removed=removed)
    return removed


@dataclass(frozen=True)
class InstanceView:
    id: int
    team: str
    challenge: str
    state: str
    health: str | None
    restarts: int
    expires_at: datetime | None
    last_error: str | None


def status(rng: Range) -> list[InstanceView]:
    with rng.store.read() as s:
        rows = s.execute(
            select(Instance, Team.name, Challenge.slug)
            .join(Team, Team.id == Instance.team_id)
            .join(Challenge, Challenge.id == Instance.challenge_id)
            .order_by(Team.name, Challenge.slug)
        )
        return [
            InstanceView(
                i.id, team, slug, i.state, i.health, i.restarts, i.expires_at, i.last_error
            )  # fmt: skip
            for i, team, slug in rows
        ]
