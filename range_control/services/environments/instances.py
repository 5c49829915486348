"""Which team instances of live challenges should exist: the reconciler's desired state.

These use cases only write the ``instances`` table; ``orchestrator.reconciler`` makes the engine
agree. Organisers bring environments up and down for every team (or filtered); the scenario's
warm-up and teardown drive the same table (:func:`follow_scenario`, rows of origin ``scenario``).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.clock import iso
from range_control.core.errors import Conflict, EventNotRunning, NotFound, Unavailable
from range_control.core.settings import secret
from range_control.domain.keys import jumpbox_password
from range_control.domain.visibility import is_visible
from range_control.services.audit import audit
from range_control.services.event.event import current_in
from range_control.services.people import teams
from range_control.services.play import gates, limits
from range_control.specs.api.environments import (
    ConnectionOut,
    EnvRowOut,
    InstanceOut,
    JumpboxOut,
    PublishedOut,
    ServicePortsOut,
    TeamJumpboxOut,
)
from range_control.specs.environment import EnvironmentSpec
from range_control.store.models import AuditLog, Challenge, Instance, PortAllocation, Team


@dataclass(frozen=True)
class Selection:
    team: str | None = None  # a name, or #<id>
    challenge: str | None = None  # slug


def _teams(s: Session, sel: Selection) -> list[Team]:
    if sel.team is None:
        return list(s.scalars(select(Team).where(Team.disabled.is_(False)).order_by(Team.id)))
    team = teams.find(s, sel.team)
    if team.disabled:
        raise NotFound("team {team!r} is disabled", team=sel.team)
    return [team]


def _live(s: Session, sel: Selection) -> list[Challenge]:
    q = select(Challenge).order_by(Challenge.slug)
    if sel.challenge is not None:
        q = q.where(Challenge.slug == sel.challenge)
    found = list(s.scalars(q))
    if sel.challenge is not None and not found:
        raise NotFound("challenge {challenge!r} not found", challenge=sel.challenge)
    live = [c for c in found if c.environment]
    if sel.challenge is not None and not live:
        raise NotFound("challenge {challenge!r} has no environment", challenge=sel.challenge)
    # With no filter, only open challenges; naming one brings it up even while it is closed.
    return live if sel.challenge is not None else [c for c in live if is_visible(c)]


def up(ctx: Range, sel: Selection, actor: Actor) -> int:
    """Make every selected team's instance of every selected live challenge desired."""
    _environments_on(ctx)
    now = ctx.clock.now()
    added = 0
    with ctx.store.write() as s:
        teams = _teams(s, sel)
        challenges = _live(s, sel)
        have = set(s.execute(select(Instance.team_id, Instance.challenge_id)).all())
        for t in teams:
            for c in challenges:
                if (t.id, c.id) not in have:
                    s.add(
                        Instance(
                            team_id=t.id, challenge_id=c.id, origin="organiser", created_at=now
                        )
                    )
                    added += 1
        audit(s, ctx, actor, "env.up", team=sel.team, challenge=sel.challenge, added=added)
    return added


def follow_scenario(s: Session, wanted: frozenset[str], now: datetime) -> tuple[int, int]:
    """Inside the timeline's transaction: every enabled team has an instance of each live
    challenge the timeline wants warm (``wanted``); instances the scenario created for anything
    else are torn down. Organiser and team instances are left alone, except that a team's
    on-demand instance of a wanted challenge becomes the scenario's (no expiry while it is
    wanted). Returns (added, removed)."""
    live = {
        c.id: c.slug
        for c in s.scalars(select(Challenge).where(Challenge.slug.in_(wanted)))
        if c.environment
    }
    teams = list(s.scalars(select(Team.id).where(Team.disabled.is_(False))))
    have = {(i.team_id, i.challenge_id): i for i in s.scalars(select(Instance))}
    added = removed = 0
    for (_team, ch), inst in have.items():
        if inst.origin == "scenario" and ch not in live:
            s.delete(inst)
            removed += 1
        elif inst.origin == "team" and ch in live:
            inst.origin, inst.expires_at = "scenario", None
    for t in teams:
        for c in live:
            if (t, c) not in have:
                s.add(Instance(team_id=t, challenge_id=c, origin="scenario", created_at=now))
                added += 1
    return added, removed


def _selected(s: Session, q: Any, sel: Selection) -> Any:
    """``q`` (a select or delete of instances) narrowed to the selection; unknown names 404."""
    if sel.team is not None:
        q = q.where(Instance.team_id.in_([t.id for t in _teams(s, sel)]))
    if sel.challenge is not None:
        ch = s.scalar(select(Challenge.id).where(Challenge.slug == sel.challenge))
        if ch is None:
            raise NotFound("challenge {challenge!r} not found", challenge=sel.challenge)
        q = q.where(Instance.challenge_id == ch)
    return q


def _renew(inst: Instance) -> None:
    """A new generation: the reconciler replaces every container of the instance."""
    inst.generation += 1
    inst.state, inst.health, inst.restarts, inst.last_error = "pending", None, 0, None


def reset(ctx: Range, sel: Selection, actor: Actor) -> int:
    """Organisers: fresh containers for the selected existing instances."""
    _environments_on(ctx)
    with ctx.store.write() as s:
        found = list(s.scalars(_selected(s, select(Instance), sel)))
        for inst in found:
            _renew(inst)
        audit(s, ctx, actor, "env.reset", team=sel.team, challenge=sel.challenge, reset=len(found))
    return len(found)


def down(ctx: Range, sel: Selection, actor: Actor) -> int:
    with ctx.store.write() as s:
        removed = s.execute(_selected(s, delete(Instance), sel)).rowcount or 0
        audit(s, ctx, actor, "env.down", team=sel.team, challenge=sel.challenge, removed=removed)
    return removed


_STATUS = (
    select(
        Instance.id,
        Team.name.label("team"),
        Challenge.slug.label("challenge"),
        Instance.state,
        Instance.health,
        Instance.restarts,
        Instance.expires_at,
        Instance.last_error,
        Instance.node,
    )
    .join(Team, Team.id == Instance.team_id)
    .join(Challenge, Challenge.id == Instance.challenge_id)
    .order_by(Team.name, Challenge.slug)
)


def status(ctx: Range) -> list[EnvRowOut]:
    """Every desired instance with what the reconciler last saw of it."""
    with ctx.store.read() as s:
        return status_in(s)


def status_in(s: Session) -> list[EnvRowOut]:
    return [EnvRowOut.model_validate(row) for row in s.execute(_STATUS)]


def jumpbox_access(
    ctx: Range, team_id: int, token_hash: str, port: int, host: str | None = None
) -> JumpboxOut:
    """How a team logs in to its jumpbox: shown only to that team (and to organisers). The
    password follows the team's token (``token_hash``); ``host`` is where the jumpbox runs
    now, when the engine says (a Swarm node)."""
    host = host or ctx.settings.public_host
    password = jumpbox_password(
        secret(ctx.settings.flag_secret), ctx.event_slug, team_id, token_hash
    )
    return JumpboxOut(
        host=host, port=port, user="team", password=password, command=f"ssh -p {port} team@{host}"
    )


def team_jumpbox(ctx: Range, team_id: int) -> JumpboxOut | None:
    """The team's own jumpbox login, once it has one (its first environment made it)."""
    with ctx.store.read() as s:
        row = s.execute(
            select(Team.token_hash, PortAllocation.port, PortAllocation.host)
            .join(PortAllocation, PortAllocation.team_id == Team.id)
            .where(Team.id == team_id, PortAllocation.purpose == "jumpbox")
        ).first()
    return None if row is None else jumpbox_access(ctx, team_id, *row)


def jumpboxes(ctx: Range) -> list[TeamJumpboxOut]:
    """Every team that has a jumpbox port, with how to log in."""
    with ctx.store.read() as s:
        rows = s.execute(
            select(Team.name, Team.id, Team.token_hash, PortAllocation.port, PortAllocation.host)
            .join(PortAllocation, PortAllocation.team_id == Team.id)
            .where(PortAllocation.purpose == "jumpbox")
            .order_by(Team.name)
        ).all()
    return [
        TeamJumpboxOut(team=name, jumpbox=jumpbox_access(ctx, tid, token, port, host))
        for name, tid, token, port, host in rows
    ]


# --- a team's own instance ----------------------------------------------------------------


def _team_challenge(s: Session, slug: str) -> tuple[Challenge, EnvironmentSpec]:
    ch = s.scalar(select(Challenge).where(Challenge.slug == slug))
    if ch is None or not is_visible(ch):
        raise NotFound("challenge {slug!r} not found", slug=slug)
    env = ch.environment
    if not env:
        raise NotFound("challenge {slug!r} has no environment to start", slug=slug)
    return ch, EnvironmentSpec.model_validate(env)


def _team_instance(
    s: Session, team_id: int, slug: str
) -> tuple[Challenge, EnvironmentSpec, Instance | None]:
    """The challenge (visible, live, open to this team) and the team's instance of it."""
    ch, env = _team_challenge(s, slug)
    gates.require_unlocked(s.connection(), team_id, slug, ch.prerequisites)
    inst = s.scalar(
        select(Instance).where(Instance.team_id == team_id, Instance.challenge_id == ch.id)
    )
    return ch, env, inst


def _extend_opens(inst: Instance, env: EnvironmentSpec) -> datetime:
    """A team instance can be extended in the last quarter of its lifetime."""
    assert inst.expires_at is not None
    return inst.expires_at - env.lifetime / 4


_NTH_ACTION = limits.nth_latest(
    AuditLog.created_at,
    AuditLog.team_id == bindparam("team_id"),
    AuditLog.action.like("instance.%"),
    AuditLog.created_at > bindparam("since"),
)


def _rate_limit(s: Session, ctx: Range, team_id: int, now: datetime) -> None:
    limit = ctx.settings.instance_actions_per_minute
    nth = s.scalar(_NTH_ACTION, limits.params(now, limit, team_id=team_id))
    limits.enforce(nth, now, limit, "instance_actions")


def _for_team(actor: Actor, team_id: int) -> Actor:
    """The actor as acting for the team (its rate limit counts the team's actions)."""
    return actor if actor.team_id == team_id else replace(actor, team_id=team_id)


def _environments_on(ctx: Range) -> None:
    if not ctx.settings.environments_on:
        raise Unavailable(
            "live environments are off in this range (RANGE_ENVIRONMENTS=off): "
            "no instance can be started"
        )


def request_instance(ctx: Range, team_id: int, slug: str, actor: Actor) -> InstanceOut:
    """Start the team's instance, or reset it (fresh containers) when it exists. ``actor``: who
    asked (a member, or the team's token), acting for the team, whose actions the rate limit
    counts."""
    now = ctx.clock.now()
    _environments_on(ctx)
    with ctx.store.write() as s:
        ch, env, inst = _team_instance(s, team_id, slug)
        event = current_in(s.connection(), ctx, now)
        if not event.running:
            raise EventNotRunning(
                "the event is {state}: no instances now", state=event.state.replace("_", " ")
            )
        _rate_limit(s, ctx, team_id, now)
        if inst is None:
            s.add(
                Instance(
                    team_id=team_id,
                    challenge_id=ch.id,
                    origin="team",
                    created_at=now,
                    expires_at=now + env.lifetime,
                )
            )
            action = "instance.start"
        else:
            _renew(inst)
            if inst.origin == "team":
                inst.expires_at = now + env.lifetime
            action = "instance.reset"
        audit(s, ctx, _for_team(actor, team_id), action, challenge=slug)
    return instance_info(ctx, team_id, slug)


def stop_instance(ctx: Range, team_id: int, slug: str, actor: Actor) -> None:
    now = ctx.clock.now()
    with ctx.store.write() as s:
        ch, _ = _team_challenge(s, slug)
        _rate_limit(s, ctx, team_id, now)
        mine = delete(Instance).where(Instance.team_id == team_id, Instance.challenge_id == ch.id)
        gone = s.execute(mine).rowcount
        if not gone:
            raise NotFound("no instance of {slug!r} is running for your team", slug=slug)
        audit(s, ctx, _for_team(actor, team_id), "instance.stop", challenge=slug)


def extend_instance(ctx: Range, team_id: int, slug: str, actor: Actor) -> InstanceOut:
    """Near expiry (the last quarter of its lifetime), a team instance gets a full lifetime."""
    now = ctx.clock.now()
    _environments_on(ctx)
    with ctx.store.write() as s:
        ch, env, inst = _team_instance(s, team_id, slug)
        if inst is None:
            raise NotFound("no instance of {slug!r} is running for your team", slug=slug)
        if inst.expires_at is None:
            raise Conflict("this instance was started by the organisers and does not expire")
        opens = _extend_opens(inst, env)
        if now < opens:
            raise Conflict(
                "too early to extend: possible from {opens} (last quarter)", opens=iso(opens)
            )
        _rate_limit(s, ctx, team_id, now)
        inst.expires_at = now + env.lifetime
        audit(s, ctx, _for_team(actor, team_id), "instance.extend", challenge=slug)
    return instance_info(ctx, team_id, slug)


def instance_info(ctx: Range, team_id: int, slug: str) -> InstanceOut:
    """State, health, expiry and how to connect: shown only to the team itself."""
    with ctx.store.read() as s:
        return instance_info_in(s, ctx, team_id, slug)


def instance_info_in(s: Session, ctx: Range, team_id: int, slug: str) -> InstanceOut:
    """``instance_info`` in the caller's transaction."""
    now = ctx.clock.now()
    ch, env, inst = _team_instance(s, team_id, slug)
    if inst is None or not ctx.settings.environments_on:
        state = "absent" if ctx.settings.environments_on else "unavailable"
        return InstanceOut(
            challenge=slug,
            state=state,
            health=None,
            expires_at=None,
            can_extend_from=None,
            connection=None,
        )
    allocs = {
        (a.instance_id, a.purpose): a
        for a in s.scalars(select(PortAllocation).where(PortAllocation.team_id == team_id))
    }
    token_hash = s.scalar(select(Team.token_hash).where(Team.id == team_id)) or ""
    default = ctx.settings.public_host
    jb = allocs.get((None, "jumpbox"))
    published = [
        (svc.name, p, allocs[(inst.id, f"{svc.name}:{p}")])
        for svc in env.services
        if svc.exposure == "published"
        for p in svc.ports
        if (inst.id, f"{svc.name}:{p}") in allocs
    ]
    connection = ConnectionOut(
        jumpbox=(
            jumpbox_access(ctx, team_id, token_hash, jb.port, jb.host) if jb is not None else None
        ),
        services=[ServicePortsOut(name=svc.name, ports=svc.ports) for svc in env.services],
        published=[
            PublishedOut(service=name, port=p, address=f"{a.host or default}:{a.port}")
            for name, p, a in published
        ],
    )
    can_extend = None
    if inst.expires_at is not None:
        can_extend = max(_extend_opens(inst, env), now)
    return InstanceOut(
        challenge=slug,
        state=inst.state,  # type: ignore[arg-type]
        health=inst.health,
        expires_at=inst.expires_at,
        can_extend_from=can_extend,
        connection=connection,
    )
