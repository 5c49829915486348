"""The red cell's plants: a token a member leaves in a team's defended service, proving the
compromise (scoringengine's red flags). A member declares where it goes and gets the token to
leave there; the team loses the defence's ``plant_cost`` (in its ledger, with a why), and the
plant is an action of the red log (kind ``plant``), so that the white cell grades the team's
incident reports against it (time to detect) like any other. The token is derived from the
plant's id with the range's secret: never stored, shown again on the red cell's page."""

from __future__ import annotations

from sqlalchemy import select

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import Conflict, InvalidInput
from range_control.core.settings import secret
from range_control.domain.keys import plant_token
from range_control.services.audit import audit
from range_control.services.defence.plan import plan_in
from range_control.services.redcell import actions
from range_control.specs.api.defence import RedActionIn, RedPlantIn, RedPlantOut
from range_control.store.models import Challenge, RedAction, RedPlant, Team

MAX_LIST = 500


def plant(ctx: Range, body: RedPlantIn, actor: Actor) -> RedPlantOut:
    """Record a plant (audited): the token to leave, what the team loses for it."""
    now = ctx.clock.now()
    with ctx.store.write() as s:
        plan = plan_in(s, ctx)
        if plan is None:
            raise Conflict("this event has no defence: there is no service to plant in")
        if body.service not in plan.spec.services:
            raise InvalidInput(
                "service: {service!r} is not a defended service of this event",
                field="service",
                service=body.service[:100],
            )
        team, challenge_id = actions.target(s, body.team, body.service)
        assert challenge_id is not None
        summary = f"plant left in {body.service}: {body.where.strip()}"
        declared = RedActionIn(
            team=team.name,
            service=body.service,
            technique=body.technique,
            outcome="success",
            summary=summary[:2000],
        )
        action = actions.record(s, ctx, actor, team, challenge_id, declared, now, kind="plant")
        row = RedPlant(
            action_id=action.id,
            target_id=team.id,
            challenge_id=challenge_id,
            where=body.where.strip(),
            points=plan.spec.plant_cost,
            at=now,
        )
        s.add(row)
        s.flush()
        audit(s, ctx, actor, "red.plant", id=row.id, team=team.name, service=body.service)
        return _view(ctx, row, action.actor.label, team.name, body.service)


def _view(ctx: Range, p: RedPlant, by: str, team: str, service: str) -> RedPlantOut:
    return RedPlantOut(
        id=p.id,
        by=by,
        team=team,
        service=service,
        where=p.where,
        token=plant_token(secret(ctx.settings.flag_secret), ctx.event_slug, p.id),
        points=p.points,
        action=p.action_id,
        at=p.at,
    )


def cost(ctx: Range) -> int | None:
    """What a team loses per plant; None for an event without a defence."""
    with ctx.store.read() as s:
        plan = plan_in(s, ctx)
    return plan.spec.plant_cost if plan is not None else None


def plants(ctx: Range) -> list[RedPlantOut]:
    """Every plant, newest first, with its token (the red cell's page only)."""
    with ctx.store.read() as s:
        rows = s.execute(
            select(RedPlant, RedAction.actor_label, Team.name, Challenge.slug)
            .join(RedAction, RedAction.id == RedPlant.action_id)
            .join(Team, Team.id == RedPlant.target_id)
            .join(Challenge, Challenge.id == RedPlant.challenge_id)
            .order_by(RedPlant.at.desc(), RedPlant.id.desc())
            .limit(MAX_LIST)
        )
        return [_view(ctx, p, by, team, slug) for p, by, team, slug in rows]
