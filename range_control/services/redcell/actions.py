"""The red cell's actions: each declared by a member of it (console, CLI, API) with who, when,
the target team and service, the technique (a MITRE ATT&CK id where there is one), the outcome
and what was done, in its words. They are the ground truth the white cell grades the teams'
incident reports against, and the after-action report shows them in each team's defence
timeline. Teams never see them."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import InvalidInput, NotFound
from range_control.services.audit import audit
from range_control.services.defence import game
from range_control.services.people import teams
from range_control.services.redcell import commands, jumpbox
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
        team = teams.find(s, body.team)
        challenge_id = None
        if body.service:
            challenge_id = s.scalar(select(Challenge.id).where(Challenge.slug == body.service))
            if challenge_id is None:
                raise NotFound("no service {service!r}", service=body.service[:100])
        row = RedAction(
            actor=actor,
            target_id=team.id,
            challenge_id=challenge_id,
            technique=body.technique,
            outcome=body.outcome,
            summary=body.summary.strip(),
            kind="declared",
            at=at,
            created_at=now,
        )
        s.add(row)
        s.flush()
        audit(s, ctx, actor, "red.declare", id=row.id, team=team.name, outcome=body.outcome)
        return _view(row, team.name, body.service or None)


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
        jumpbox=jumpbox.access(ctx, account_id) if account_id is not None else None,
    )
