"""The red cell's actions: each declared by a member of it (console, CLI, API) with who, when,
the target team and service, the technique (a MITRE ATT&CK id where there is one), the outcome
and what was done, in its words. They are the ground truth the white cell grades the teams'
incident reports against, and the after-action report shows them in each team's defence
timeline. Teams never see them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import InvalidInput, NotFound
from range_control.services.audit import audit
from range_control.services.defence import game
from range_control.services.people import teams
from range_control.services.redcell import commands, jumpbox, plants
from range_control.specs.api.defence import (
    RedActionIn,
    RedActionOut,
    RedCellOut,
    RedTargetOut,
)
from range_control.store.models import Challenge, RedAction, Team

BACKDATE = timedelta(days=1)  # an action may be declared this long after it happened
MAX_LOG = 500


def declare(ctx: Range, body: RedActionIn, actor: Actor) -> RedActionOut:
    """Record an action of the red cell (audited)."""
    now = ctx.clock.now()
    at = body.at or now
    if at.tzinfo is None:
        raise InvalidInput("at: a time with its offset is expected", field="at")
    if not now - BACKDATE <= at <= now + timedelta(minutes=1):
        raise InvalidInput("at: within the last day, not in the future", field="at")
    with ctx.store.write() as s:
        team, challenge_id = target(s, body.team, body.service)
        row = record(s, ctx, actor, team, challenge_id, body, at)
        audit(s, ctx, actor, "red.declare", id=row.id, team=team.name, outcome=body.outcome)
        return _view(row, team.name, body.service or None)


def target(s: Session, team_name: str, service: str | None) -> tuple[Team, int | None]:
    """The team an action is against and its service's challenge id (None: no service)."""
    team = teams.find(s, team_name)
    if not service:
        return team, None
    challenge_id = s.scalar(select(Challenge.id).where(Challenge.slug == service))
    if challenge_id is None:
        raise NotFound("no service {service!r}", service=service[:100])
    return team, challenge_id


def record(
    s: Session,
    ctx: Range,
    actor: Actor,
    team: Team,
    challenge_id: int | None,
    body: RedActionIn,
    at: datetime,
    kind: str = "declared",
) -> RedAction:
    """One row of the red log (the caller audits)."""
    row = RedAction(
        actor=actor,
        target_id=team.id,
        challenge_id=challenge_id,
        technique=body.technique,
        outcome=body.outcome,
        summary=body.summary.strip(),
        kind=kind,
        at=at,
        created_at=ctx.clock.now(),
    )
    s.add(row)
    s.flush()
    return row


def _view(a: RedAction, team: str, service: str | None) -> RedActionOut:
    return RedActionOut(
        id=a.id,
        by=a.actor.label,
        team=team,
        service=service,
        technique=a.technique,
        outcome=a.outcome,
        summary=a.summary,
        kind=a.kind,
        at=a.at,
    )


def actions(ctx: Range, team_id: int | None = None, limit: int = MAX_LOG) -> list[RedActionOut]:
    """The red cell's log, newest first (``team_id``: against that team only)."""
    with ctx.store.read() as s:
        q = (
            select(RedAction, Team.name, Challenge.slug)
            .join(Team, Team.id == RedAction.target_id)
            .outerjoin(Challenge, Challenge.id == RedAction.challenge_id)
        )
        if team_id is not None:
            q = q.where(RedAction.target_id == team_id)
        rows = s.execute(q.order_by(RedAction.at.desc(), RedAction.id.desc()).limit(limit))
        return [_view(a, name, slug) for a, name, slug in rows]


def between(ctx: Range, team_id: int, start: datetime, end: datetime) -> list[RedActionOut]:
    """The red cell's actions against a team from ``start`` to ``end``, oldest first."""
    return [a for a in reversed(actions(ctx, team_id)) if start <= a.at <= end]


def cell(ctx: Range, account_id: int | None = None) -> RedCellOut:
    """What the red cell's own page shows: its targets (every team's defended services at
    their game addresses), its log (declared and observed) and, for ``account_id`` (a member
    of the red cell), that person's login on the red cell's jumpbox."""
    try:
        net = game.status(ctx)
        targets = [
            RedTargetOut(team=t.team, service=t.service, address=t.address) for t in net.targets
        ]
    except NotFound:  # no defence: no services to attack, actions may still be declared
        targets = []
    return RedCellOut(
        targets=targets,
        actions=actions(ctx),
        commands=commands.commands(ctx),
        plants=plants.plants(ctx),
        plant_cost=plants.cost(ctx),
        jumpbox=jumpbox.access(ctx, account_id) if account_id is not None else None,
    )
