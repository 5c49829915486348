"""Awards: points an organiser gives a team (negative: a penalty), with the reason teams see in
their ledger."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import InvalidInput
from range_control.services.audit import audit
from range_control.services.event.event import bump_generation
from range_control.services.people import teams
from range_control.specs.api.organiser import AwardOut
from range_control.store.models import (
    Award,
    Team,
)


def add_award(ctx: Range, team_ref: int | str, value: int, reason: str, actor: Actor) -> AwardOut:
    if not -1_000_000 <= value <= 1_000_000 or value == 0:
        raise InvalidInput("value: a non-zero whole number between -1000000 and 1000000")
    reason = reason.strip()
    if not 1 <= len(reason) <= 500:
        raise InvalidInput("reason: 1 to 500 characters (teams see it in their ledger)")
    with ctx.store.write() as s:
        team = teams.find(s, team_ref)
        award = Award(
            team_id=team.id,
            value=value,
            reason=reason,
            created_by=actor,
            created_at=ctx.clock.now(),
        )
        s.add(award)
        s.flush()
        audit(s, ctx, actor, "award.add", team=team.name, value=value, reason=reason)
        bump_generation(s, ctx)
        return _award(award, team.name)


def _award(a: Award, team: str) -> AwardOut:
    return AwardOut(
        id=a.id,
        team=team,
        team_id=a.team_id,
        value=a.value,
        reason=a.reason,
        created_by=a.created_by,
        created_at=a.created_at,
    )


def list_awards(ctx: Range) -> list[AwardOut]:
    with ctx.store.read() as s:
        return awards_in(s)


def awards_in(s: Session, limit: int | None = None) -> list[AwardOut]:
    q = select(Award, Team.name).join(Team, Team.id == Award.team_id).order_by(Award.id)
    return [_award(a, name) for a, name in s.execute(q.limit(limit))]
