"""Which team instances of live challenges should exist: the reconciler's desired state.

These use cases only write the ``instances`` table; ``orchestrator.reconciler`` makes the engine
agree. Organisers bring environments up and down for every team (or filtered); the scenario's
warm-up and teardown drive the same table (:func:`follow_scenario`, rows of origin ``scenario``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import bindparam, delete, select

from range_control.clock import iso
from range_control.domain.flags import jumpbox_password
from range_control.services import limits
from range_control.services.context import Range
from range_control.services.errors import Conflict, EventNotRunning, NotFound
from range_control.services.events import audit, current_in
from range_control.settings import secret
from range_control.specs.environment import EnvironmentSpec
from range_control.store.models import AuditLog, Challenge, Instance, PortAllocation, Team


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
    live = [c for c in found if c.environment]
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


def follow_scenario(s: Any, wanted: frozenset[str], now: datetime) -> tuple[int, int]:
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


def _selected(s: Any, q: Any, sel: Selection) -> Any:
    """``q`` (a select or delete of instances) narrowed to the selection; unknown names 404."""
    if sel.team is not None:
        q = q.where(Instance.team_id.in_([t.id for t in _teams(s, sel)]))
    if sel.challenge is not None:
        ch = s.scalar(select(Challenge.id).where(Challenge.slug == sel.challenge))
        if ch is None:
            raise NotFound(f"challenge {sel.challenge!r} not found")
        q = q.where(Instance.challenge_id == ch)
    return q


def _renew(inst: Instance) -> None:
    """A new generation: the reconciler replaces every container of the instance."""
    inst.generation += 1
    inst.state, inst.health, inst.restarts, inst.last_error = "pending", None, 0, None


def reset(rng: Range, sel: Selection, actor: str) -> int:
    """Organisers: fresh containers for the selected existing instances."""
    with rng.store.write() as s:
        found = list(s.scalars(_selected(s, select(Instance), sel)))
        for inst in found:
            _renew(inst)
        audit(s, rng, actor, "env.reset", team=sel.team, challenge=sel.challenge,
              reset=len(found))  # fmt: skip
    return len(found)


def down(rng: Range, sel: Selection, actor: str) -> int:
    with rng.store.write() as s:
        removed = s.execute(_selected(s, delete(Instance), sel)).rowcount or 0
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


def jumpbox_access(rng: Range, team_id: int, port: int | None) -> dict[str, Any] | None:
    """How a team logs in to its jumpbox: shown only to that team (and to organisers)."""
    if port is None:
        return None
    host = rng.settings.public_host
    password = jumpbox_password(secret(rng.settings.flag_secret), rng.event_slug, team_id)
    return {"host": host, "port": port, "user": "team", "password": password,
            "command": f"ssh -p {port} team@{host}"}  # fmt: skip


def jumpboxes(rng: Range) -> list[tuple[str, dict[str, Any]]]:
    """(team name, access) for every team that has a jumpbox port."""
    with rng.store.read() as s:
        rows = s.execute(
            select(Team.name, Team.id, PortAllocation.port)
            .join(PortAllocation, PortAllocation.team_id == Team.id)
            .where(PortAllocation.purpose == "jumpbox")
            .order_by(Team.name)
        ).all()
    return [(name, access) for name, tid, port in rows
            if (access := jumpbox_access(rng, tid, port)) is not None]  # fmt: skip


# --- a team's own instance ----------------------------------------------------------------


def _team_challenge(
    s: Any, rng: Range, team_id: int, slug: str
) -> tuple[Challenge, EnvironmentSpec]:
    ch = s.scalar(select(Challenge).where(Challenge.slug == slug))
    if ch is None or not ch.visible:
        raise NotFound(f"challenge {slug!r} not found")
    env = ch.environment
    if not env:
        raise NotFound(f"challenge {slug!r} has no environment to start")
    return ch, EnvironmentSpec.model_validate(env)


def _team_instance(
    s: Any, rng: Range, team_id: int, slug: str
) -> tuple[Challenge, EnvironmentSpec, Instance | None]:
    ch, env = _team_challenge(s, rng, team_id, slug)
    inst = s.scalar(select(Instance).where(Instance.team_id == team_id,
                                           Instance.challenge_id == ch.id))  # fmt: skip
    return ch, env, inst


def _extend_opens(inst: Instance, env: EnvironmentSpec) -> datetime:
    """A team instance can be extended in the last quarter of its lifetime."""
    assert inst.expires_at is not None
    return inst.expires_at - env.lifetime / 4


_NTH_ACTION = limits.nth_latest(
    AuditLog.created_at,
    AuditLog.actor == bindparam("actor"),
    AuditLog.action.like("instance.%"),
    AuditLog.created_at > bindparam("since"),
)


def _rate_limit(s: Any, rng: Range, team_id: int, now: datetime) -> None:
    limit = rng.settings.instance_actions_per_minute
    nth = s.scalar(_NTH_ACTION, limits.params(now, limit, actor=f"team:{team_id}"))
    limits.enforce(nth, now, limit, "instance requests")


def request_instance(rng: Range, team_id: int, slug: str) -> dict[str, Any]:
    """Start the team's instance, or reset it (fresh containers) when it exists."""
    now = rng.clock.now()
    with rng.store.write() as s:
        ch, env, inst = _team_instance(s, rng, team_id, slug)
        event = current_in(s.connection(), rng, now)
        if not event.running:
            raise EventNotRunning(f"the event is {event.state.replace('_', ' ')}: no instances now")
        _rate_limit(s, rng, team_id, now)
        if inst is None:
            s.add(Instance(team_id=team_id, challenge_id=ch.id, origin="team", created_at=now,
                           expires_at=now + env.lifetime))  # fmt: skip
            action = "instance.start"
        else:
            _renew(inst)
            if inst.origin == "team":
                inst.expires_at = now + env.lifetime
            action = "instance.reset"
        audit(s, rng, f"team:{team_id}", action, challenge=slug)
    return instance_info(rng, team_id, slug)


def stop_instance(rng: Range, team_id: int, slug: str) -> None:
    now = rng.clock.now()
    with rng.store.write() as s:
        ch, _ = _team_challenge(s, rng, team_id, slug)
        _rate_limit(s, rng, team_id, now)
        mine = delete(Instance).where(Instance.team_id == team_id, Instance.challenge_id == ch.id)
        gone = s.execute(mine).rowcount
        if not gone:
            raise NotFound(f"no instance of {slug!r} is running for your team")
        audit(s, rng, f"team:{team_id}", "instance.stop", challenge=slug)


def extend_instance(rng: Range, team_id: int, slug: str) -> dict[str, Any]:
    """Near expiry (the last quarter of its lifetime), a team instance gets a full lifetime."""
    now = rng.clock.now()
    with rng.store.write() as s:
        ch, env, inst = _team_instance(s, rng, team_id, slug)
        if inst is None:
            raise NotFound(f"no instance of {slug!r} is running for your team")
        if inst.expires_at is None:
            raise Conflict("this instance was started by the organisers and does not expire")
        opens = _extend_opens(inst, env)
        if now < opens:
            raise Conflict(f"too early to extend: possible from {iso(opens)} (last quarter)")
        _rate_limit(s, rng, team_id, now)
        inst.expires_at = now + env.lifetime
        audit(s, rng, f"team:{team_id}", "instance.extend", challenge=slug)
    return instance_info(rng, team_id, slug)


def instance_info(rng: Range, team_id: int, slug: str) -> dict[str, Any]:
    """State, health, expiry and how to connect: shown only to the team itself."""
    now = rng.clock.now()
    with rng.store.read() as s:
        ch, env, inst = _team_instance(s, rng, team_id, slug)
        if inst is None:
            return {"challenge": slug, "state": "absent", "health": None, "expires_at": None,
                    "can_extend_from": None, "connection": None}  # fmt: skip
        ports = {
            (a.instance_id, a.purpose): a.port
            for a in s.scalars(select(PortAllocation).where(PortAllocation.team_id == team_id))
        }
    host = rng.settings.public_host
    connection = {
        "jumpbox": jumpbox_access(rng, team_id, ports.get((None, "jumpbox"))),
        "services": [{"name": svc.name, "ports": svc.ports} for svc in env.services],
        "published": [
            {"service": name, "port": p, "address": f"{host}:{ports[(inst.id, f'{name}:{p}')]}"}
            for name, p in ((svc.name, p) for svc in env.services if svc.exposure == "published"
                            for p in svc.ports)
            if (inst.id, f"{name}:{p}") in ports
        ],
    }  # fmt: skip
    can_extend = None
    if inst.expires_at is not None:
        can_extend = max(_extend_opens(inst, env), now)
    return {
        "challenge": slug,
        "state": inst.state,
        "health": inst.health,
        "expires_at": inst.expires_at,
        "can_extend_from": can_extend,
        "connection": connection,
    }
