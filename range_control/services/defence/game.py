"""The game network of a defence (``orchestrator.game``): who reaches whose defended services
now, and the organisers' controls over it.

In an **attack-defence** tick every team's entry points (jumpbox, WireGuard gateway) reach every
team's defended services at their game addresses, on their service ports only; in a
**defence** tick no team's do (a team reaches its own services on its own network, as always);
the red cell's jumpbox (``services.redcell.jumpbox``) reaches them in every defence tick, of
either mode; outside the defence phases, or with the event paused, nobody's. The organisers
may close the game network and open it again, and cut one team off until a tick (saarCTF's
controls): a team cut off reaches nobody (its open connections end), cannot submit flags, and
stays a target (being cut off must not shelter it). The NOP team, the organisers' reference,
never attacks. Each control is audited; the reconciler's next pass applies it.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.errors import InvalidInput, NotFound
from range_control.core.permissions import EventState
from range_control.domain.defence.ticks import current
from range_control.orchestrator.game import MAX_SERVICES, MAX_TEAM, game_address
from range_control.orchestrator.types import RED_CELL, DesiredGame, DesiredInstance, GameTarget
from range_control.services.audit import audit
from range_control.services.defence.plan import Plan, plan_in
from range_control.services.event.event import ensure_event
from range_control.services.people import teams
from range_control.specs.api.defence import GameCutOut, GameNetworkOut, GameTargetOut
from range_control.store.models import Event, Team


@dataclass(frozen=True)
class GameState:
    """Where the game network stands: the mode of the tick now (None: no defence tick), the
    tick, the organisers' controls and the NOP team."""

    mode: str | None
    tick: int | None
    closed: bool
    cuts: dict[int, int] = field(default_factory=dict)  # team id -> back from this tick
    nop: int | None = None

    def cut_now(self) -> frozenset[int]:
        """The teams cut off now (until their tick has come)."""
        return frozenset(t for t, until in self.cuts.items() if (self.tick or 0) < until)

    @property
    def open(self) -> bool:
        """Entry points reach other teams' services now."""
        return self.mode == "attack-defence" and not self.closed

    @property
    def red_open(self) -> bool:
        """The red cell's jumpbox reaches every team's services now: in every defence tick,
        defence or attack-defence, unless the organisers closed the game network."""
        return self.mode is not None and not self.closed

    def attackers(self, teams: Iterable[int]) -> tuple[int, ...]:
        if not self.open:
            return ()
        off = self.cut_now()
        return tuple(sorted(t for t in teams if t not in off and t != self.nop))


def _controls(s: Session, ctx: Range) -> dict:
    return dict(s.scalar(select(Event.game_network).where(Event.slug == ctx.event_slug)) or {})


def nop_id(s: Session, plan: Plan) -> int | None:
    """The NOP team's id (the organisers' reference team: it never attacks, its flags are not
    to be captured); None when the defence names none, or no team has its name."""
    if not plan.spec.nop_team:
        return None
    return s.scalar(select(Team.id).where(Team.name == plan.spec.nop_team))


def state_in(s: Session, ctx: Range, plan: Plan | None = None) -> GameState | None:
    """The game network's state now; None for an event without a defence."""
    plan = plan or plan_in(s, ctx)
    if plan is None:
        return None
    at = plan.where.at
    running = at is not None and at.state == EventState.RUNNING
    t = current(plan.ticks, plan.ex_now) if running else None
    controls = _controls(s, ctx)
    return GameState(
        mode=plan.spec.mode_of(t.phase) if t is not None else None,
        tick=t.number if t is not None else None,
        closed=bool(controls.get("closed")),
        cuts={int(k): int(v) for k, v in (controls.get("cuts") or {}).items()},
        nop=nop_id(s, plan),
    )


def addresses(plan: Plan, subnet: str, team_ids: Iterable[int]) -> dict[tuple[int, str], str]:
    """Each team's defended services' game addresses, by (team id, slug): the n-th service of
    the scenario's ``defence.services`` is ``<subnet>.<team>.<n>``. A team past the addressing
    (id above 255) has none."""
    out = {}
    for n, slug in enumerate(plan.spec.services, start=1):
        if n > MAX_SERVICES:
            break
        for team_id in team_ids:
            if 0 < team_id <= MAX_TEAM:
                out[(team_id, slug)] = game_address(subnet, team_id, n)
    return out


def desired_game(
    s: Session, ctx: Range, instances: Iterable[DesiredInstance], teams: Iterable[int]
) -> DesiredGame | None:
    """The game network the reconciler should make: every defended target of ``instances``
    (the wanted ones), the team networks of ``teams`` (those with an entry point, the red
    cell's among them as ``RED_CELL``); None without a defended service to route to, or when no
    phase is attack-defence and there is no red cell."""
    plan = plan_in(s, ctx)
    state = state_in(s, ctx, plan)
    teams = sorted(teams)
    red = RED_CELL in teams
    if plan is None or state is None or not (plan.spec.any_attack or red):
        return None  # a defence without attackers: each team on its own network only
    subnet = ctx.settings.game_subnet
    where = addresses(plan, subnet, {i.team_id for i in instances})
    targets = []
    for inst in instances:
        for run in inst.services:
            d = run.defended
            address = where.get((inst.team_id, inst.challenge))
            if d is None or not d.target or address is None:
                continue
            ports = tuple(sorted(set(run.spec.ports)))
            targets.append(GameTarget(inst.team_id, inst.challenge, run.spec.name, address, ports))
    if not targets:
        return None
    targets.sort(key=lambda t: (t.team_id, t.address))
    attackers = set(state.attackers([t for t in teams if t != RED_CELL]))
    if red and state.red_open:
        attackers.add(RED_CELL)
    return DesiredGame(
        ctx.event_slug, subnet, tuple(targets), tuple(teams), tuple(sorted(attackers))
    )


# --- the organisers' controls -----------------------------------------------------------------
def _set(ctx: Range, actor: Actor, action: str, change, **detail: object) -> None:
    with ctx.store.write() as s:
        if plan_in(s, ctx) is None:
            raise NotFound("this event has no defence (the scenario has no defence block)")
        ev = ensure_event(s, ctx)
        controls = dict(ev.game_network or {})
        change(controls)
        ev.game_network = controls
        audit(s, ctx, actor, action, **detail)


def set_closed(ctx: Range, closed: bool, actor: Actor) -> None:
    """Close the game network (nobody reaches another team's services) or open it again."""

    def change(c: dict) -> None:
        c["closed"] = closed

    _set(ctx, actor, "game.close" if closed else "game.open", change)


def _team(ctx: Range, name: str) -> int:
    with ctx.store.read() as s:
        return teams.find(s, name).id


def cut(ctx: Range, team: str, until_tick: int, actor: Actor, reason: str = "") -> None:
    """Cut ``team`` off the game network until tick ``until_tick`` begins."""
    if not 0 < until_tick <= 1_000_000:
        raise InvalidInput("until_tick: a tick number from 1 is expected", field="until_tick")
    team_id = _team(ctx, team)

    def change(c: dict) -> None:
        c["cuts"] = {**(c.get("cuts") or {}), str(team_id): until_tick}

    _set(ctx, actor, "game.cut", change, team=team, until_tick=until_tick, reason=reason[:500])


def restore(ctx: Range, team: str, actor: Actor) -> None:
    """Take back a cut before its tick."""
    team_id = _team(ctx, team)

    def change(c: dict) -> None:
        cuts = dict(c.get("cuts") or {})
        if cuts.pop(str(team_id), None) is None:
            raise NotFound("team {team!r} is not cut off", team=team[:100])
        c["cuts"] = cuts

    _set(ctx, actor, "game.restore", change, team=team)


def status(ctx: Range) -> GameNetworkOut:
    """The game network as the organisers see it: open or not and why, the cuts, and every
    team's services' game addresses."""
    with ctx.store.read() as s:
        plan = plan_in(s, ctx)
        state = state_in(s, ctx, plan)
        if plan is None or state is None:
            raise NotFound("this event has no defence (the scenario has no defence block)")
        names = dict(s.execute(select(Team.id, Team.name).where(Team.disabled.is_(False))).all())
    off = state.cut_now()
    where = addresses(plan, ctx.settings.game_subnet, names)
    return GameNetworkOut(
        subnet=ctx.settings.game_subnet,
        mode=state.mode,
        tick=state.tick,
        closed=state.closed,
        open=state.open,
        cuts=[
            GameCutOut(team=names.get(t, f"#{t}"), until_tick=until, active=t in off)
            for t, until in sorted(state.cuts.items())
        ],
        targets=[
            GameTargetOut(team=names[t], service=slug, address=address)
            for (t, slug), address in sorted(where.items())
            if t in names
        ],
    )
