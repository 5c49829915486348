"""What people do to the defence: a team resets its service to the baseline (it costs what the
scenario says) or asks for an unscored check now (rate limited); the organisers reset a team's
service, check a past tick again for a team (its verdict replaced, audited), pause and resume
the checks. The checks themselves run in the worker (``ticks``): these only record what is
asked."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import Conflict, InvalidInput, NotFound, RateLimited
from range_control.core.settings import secret
from range_control.domain.defence import flags as flagging
from range_control.orchestrator.types import CheckBatch, defence_network_name
from range_control.services.audit import audit
from range_control.services.defence.chains import Placement, Team, batch
from range_control.services.defence.plan import Plan, Service, plan_in
from range_control.services.defence.ticks import probes_in_hour
from range_control.services.event.event import bump_generation, ensure_event
from range_control.store.models import (
    DefenceFlag,
    DefenceProbe,
    DefenceReset,
    DefenceTick,
    Instance,
)
from range_control.store.models import Team as TeamRow

PROBE_SECONDS = 60.0  # how long an unscored check may take, at most


def _service(plan: Plan | None, slug: str) -> Service:
    if plan is None or slug not in plan.services:
        raise NotFound("no defended service {slug!r}", slug=slug[:100])
    return plan.services[slug]


def _plan(s: Session, ctx: Range) -> Plan:
    plan = plan_in(s, ctx)
    if plan is None:
        raise NotFound("this event has no defence (the scenario has no defence block)")
    return plan


def reset(ctx: Range, team_id: int, slug: str, actor: Actor) -> int:
    """The team's copy of ``slug`` back to its baseline: new containers from the image, its
    data volumes afresh (the reconciler does it on its next pass). Costs the scenario's
    ``reset_cost``; returns it."""
    now = ctx.clock.now()
    with ctx.store.write() as s:
        plan = _plan(s, ctx)
        svc = _service(plan, slug)
        inst = s.scalar(
            select(Instance).where(Instance.team_id == team_id, Instance.challenge_id == svc.id)
        )
        if inst is None:
            raise Conflict(
                "{slug} is not running for this team yet: nothing to reset", slug=svc.slug
            )
        inst.generation += 1
        inst.state, inst.health, inst.last_error, inst.restarts = "pending", None, None, 0
        cost = plan.spec.reset_cost
        s.add(
            DefenceReset(
                team_id=team_id, challenge_id=svc.id, cost=cost, created_by=actor, created_at=now
            )
        )
        audit(s, ctx, actor, "defence.reset", service=svc.slug, team_id=team_id, cost=cost)
        bump_generation(s, ctx)
        return cost


def check_now(ctx: Range, team_id: int, slug: str, actor: Actor) -> int:
    """An unscored check of the team's copy, now (run by the worker within seconds): its id.
    At most the scenario's ``check_now`` per service an hour."""
    now = ctx.clock.now()
    with ctx.store.write() as s:
        plan = _plan(s, ctx)
        svc = _service(plan, slug)
        most = plan.spec.check_now
        if most == 0:
            raise Conflict("this event has no unscored checks")
        if probes_in_hour(s, team_id, svc.id, now) >= most:
            raise RateLimited(
                "at most {most} checks of {slug} an hour: the next tick checks it anyway",
                retry_after=60,
                most=most,
                slug=svc.slug,
            )
        probe = DefenceProbe(
            team_id=team_id, challenge_id=svc.id, tick=None, created_at=now, public="", private=""
        )
        s.add(probe)
        s.flush()
        audit(s, ctx, actor, "defence.check_now", service=svc.slug, team_id=team_id)
        return probe.id


def recheck(ctx: Range, team: str, slug: str, tick: int, actor: Actor) -> int:
    """Check a past tick of a team's service again (its flags of that tick placed and read
    anew): the verdict is replaced when the worker has run it, audited both times."""
    from range_control.services.people import teams as team_service

    with ctx.store.write() as s:
        plan = _plan(s, ctx)
        svc = _service(plan, slug)
        row = team_service.find(s, team)
        if s.get(DefenceTick, tick) is None:
            raise InvalidInput("tick: {tick} has not been checked yet", tick=tick)
        probe = DefenceProbe(
            team_id=row.id,
            challenge_id=svc.id,
            tick=tick,
            created_at=ctx.clock.now(),
            public="",
            private="",
        )
        s.add(probe)
        s.flush()
        audit(s, ctx, actor, "defence.recheck", service=svc.slug, team=row.name, tick=tick)
        return probe.id


def set_paused(ctx: Range, paused: bool, actor: Actor) -> None:
    """Pause or resume the checks (the event runs on): ticks while paused are not checked,
    never charged; the running batch is cancelled."""
    with ctx.store.write() as s:
        ev = ensure_event(s, ctx)
        ev.defence_paused = paused
        audit(s, ctx, actor, "defence.pause" if paused else "defence.resume")
        bump_generation(s, ctx)


def probe_batch(
    s: Session, ctx: Range, plan: Plan, svc: Service, p: DefenceProbe, name: str
) -> CheckBatch:
    """The batch of one probe: the service check and this tick's puts and gets of flags that
    score nothing (tick 0) for an unscored check, or the flags of that tick for a re-check."""
    team = s.get(TeamRow, p.team_id)
    who = Team(p.team_id, team.name if team is not None else str(p.team_id))
    key = secret(ctx.settings.flag_secret)
    if p.tick is None:
        flags = []
        for store in range(1, svc.spec.checker.flag_stores + 1):
            facts = flagging.FlagFacts(0, who.id, svc.id, store)
            flags.append(
                DefenceFlag(
                    tick=0,
                    team_id=who.id,
                    challenge_id=svc.id,
                    store=store,
                    flag=flagging.make(
                        key, ctx.event_slug, facts, svc.spec.checker.format, svc.slug
                    ),
                    flag_id=flagging.flag_id(key, ctx.event_slug, facts) + f"p{p.id}",
                )
            )
    else:
        flags = list(
            s.scalars(
                select(DefenceFlag)
                .where(
                    DefenceFlag.tick == p.tick,
                    DefenceFlag.team_id == who.id,
                    DefenceFlag.challenge_id == svc.id,
                )
                .order_by(DefenceFlag.store)
            )
        )
    now = ctx.clock.now()
    place = Placement(
        name=name,
        tick=p.tick or 0,
        length_seconds=plan.spec.tick.total_seconds(),
        started=now,
        deadline=PROBE_SECONDS,
        tick_start=now,
        scored=False,
    )
    nets = {who.id: defence_network_name(ctx.event_slug, who.id)}
    return batch(ctx, svc, place, [who], {who.id: flags}, {}, nets)
