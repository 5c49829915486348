"""What should exist on the engine: the reconciler's desired state, read from the database.

Every team instance of a live challenge that is wanted (with the team's flag and the host ports
it publishes), and each team's entry points: a jumpbox (with its members' SSH keys and the
event's extra packages) for every team with an environment and, where WireGuard is on and the
team has a device, its gateway; with defended services, the game network between them
(``services.defence.game``). Missing host ports are allocated here, in the same transaction,
before any container uses them; an instance that cannot be placed is refused with the reason.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from range_control.context import Range
from range_control.core.errors import Unavailable
from range_control.core.settings import secret
from range_control.domain.flags import DynamicFlag, dynamic_flag
from range_control.domain.keys import jumpbox_password, shell_password
from range_control.orchestrator.reconciler import DesiredState
from range_control.orchestrator.types import (
    RED_CELL,
    Defended,
    DesiredInstance,
    DesiredJumpbox,
    ServiceRun,
    checker_state_volume,
)
from range_control.services.defence.game import desired_game
from range_control.services.environments.ports import JUMPBOX, WIREGUARD, PortPool, published
from range_control.services.environments.team_access import desired_gateway
from range_control.services.redcell.jumpbox import desired_red
from range_control.specs.defence import DefenceSpec
from range_control.specs.environment import EnvironmentSpec
from range_control.store.models import (
    Challenge,
    Event,
    Flag,
    Instance,
    SshKey,
    Team,
    WireGuardPeer,
)

log = logging.getLogger(__name__)


class Desired(NamedTuple):
    """The desired state, and the instances that cannot be placed (by id, with why)."""

    state: DesiredState
    refused: dict[int, str]


@dataclass
class _Instances:
    wanted: dict[int, DesiredInstance] = field(default_factory=dict)
    restarts: dict[int, int] = field(default_factory=dict)
    tokens: dict[int, str] = field(default_factory=dict)  # team id -> its token's hash
    refused: dict[int, str] = field(default_factory=dict)


def desired_state(ctx: Range, *, wireguard: bool = False) -> Desired:
    """What should exist; ``wireguard``: gateways are wanted (the settings ask and the engine
    can run them)."""
    with ctx.store.write() as s:
        ports = PortPool(s, ctx)
        found = _instances(s, ctx, ports)
        jumpboxes, gateways = _entry_points(s, ctx, ports, found, wireguard=wireguard)
        defended = s.scalars(select(Challenge.slug).where(Challenge.type == "defended")).all()
        game = desired_game(s, ctx, found.wanted.values(), jumpboxes) if defended else None
    volumes = frozenset(checker_state_volume(ctx.event_slug, slug) for slug in defended)
    state = DesiredState(
        ctx.event_slug, found.wanted, jumpboxes, found.restarts, gateways, volumes, game
    )
    return Desired(state, found.refused)


def _instances(s: Session, ctx: Range, ports: PortPool) -> _Instances:
    """Every wanted instance of an enabled team, with its flag and published host ports."""
    event, key = ctx.event_slug, secret(ctx.settings.flag_secret)
    rows = s.execute(
        select(Instance, Challenge, Team)
        .join(Challenge, Challenge.id == Instance.challenge_id)
        .join(Team, Team.id == Instance.team_id)
        .where(Team.disabled.is_(False))
    ).all()
    static = {
        cid: content
        for cid, content in s.execute(
            select(Flag.challenge_id, Flag.content)
            .where(Flag.type == "static")
            .order_by(Flag.challenge_id, Flag.position.desc())
        )
    }
    out = _Instances(tokens={team.id: team.token_hash for _i, _c, team in rows})
    for inst, ch, team in rows:
        if not ch.environment:
            continue
        env = EnvironmentSpec.model_validate(ch.environment)
        if ch.dynamic_prefix:
            shape = DynamicFlag(ch.dynamic_prefix, ch.dynamic_length)
            flag = dynamic_flag(key, event, team.id, ch.slug, shape)
        else:
            flag = static.get(ch.id, "")
        runs = tuple(
            ServiceRun(
                svc, ch.images.get(svc.name, ""), _defended(ch, svc.name, key, event, team.id)
            )
            for svc in env.services
        )
        try:
            host_ports = tuple(
                (svc.name, p, ports.get(team.id, inst.id, published(svc.name, p)))
                for svc in env.services
                if svc.exposure == "published"
                for p in svc.ports
            )
        except Unavailable as exc:
            out.refused[inst.id] = exc.message
            continue
        out.wanted[inst.id] = DesiredInstance(
            event,
            team.id,
            inst.id,
            ch.slug,
            flag,
            runs,
            inst.generation,
            host_ports,
            ch.source_dir,
        )
        out.restarts[inst.id] = inst.restarts
    return out


def _defended(ch: Challenge, service: str, key: str, event: str, team_id: int) -> Defended | None:
    """How the team's copy of a defended service's ``service`` differs (None: not defended)."""
    if ch.type != "defended":
        return None
    spec = DefenceSpec.model_validate((ch.spec or {}).get("defence") or {})
    names = [s["name"] for s in (ch.environment or {}).get("services", [])]
    target = spec.target or (names[0] if names else "")
    shell = spec.shell is None or service in spec.shell
    return Defended(
        target=service == target,
        shell=shell,
        data=tuple(spec.data.get(service, ())),
        password=shell_password(key, event, team_id) if shell else "",
    )


def _entry_points(
    s: Session, ctx: Range, ports: PortPool, found: _Instances, *, wireguard: bool
) -> tuple[dict[int, DesiredJumpbox], dict[int, Any]]:
    """The jumpbox (and gateway) of every team with an instance; a team whose entry point
    cannot have a port has none of its instances placed either."""
    event, key = ctx.event_slug, secret(ctx.settings.flag_secret)
    with_env = sorted({i.team_id for i in found.wanted.values()})
    keys = _by_team(
        s.execute(
            select(SshKey.team_id, SshKey.public_key)
            .where(SshKey.team_id.in_(with_env))
            .order_by(SshKey.id)
        )
    )
    scenario = s.scalar(select(Event.scenario).where(Event.slug == event)) or {}
    packages = tuple((scenario.get("jumpbox") or {}).get("packages") or ())
    peers = (
        _by_team(
            s.execute(
                select(WireGuardPeer.team_id, WireGuardPeer.public_key, WireGuardPeer.address)
                .where(WireGuardPeer.team_id.in_(with_env))
                .order_by(WireGuardPeer.id)
            )
        )
        if wireguard
        else {}
    )
    jumpboxes, gateways = {}, {}
    for team_id in with_env:
        try:
            port = ports.get(team_id, None, JUMPBOX)
            wg_port = ports.get(team_id, None, WIREGUARD) if peers.get(team_id) else None
        except Unavailable as exc:
            for iid in [i for i, d in found.wanted.items() if d.team_id == team_id]:
                found.refused[iid] = f"no jumpbox for the team: {exc.message}"
                del found.wanted[iid]
            continue
        password = jumpbox_password(key, event, team_id, found.tokens[team_id])
        jumpboxes[team_id] = DesiredJumpbox(
            event,
            team_id,
            port,
            password,
            tuple(keys.get(team_id, ())),
            packages,
            ctx.settings.game_subnet,
        )
        if wg_port is not None:
            gateways[team_id] = desired_gateway(ctx, team_id, wg_port, peers[team_id])
    if any(d.defended for d in found.wanted.values()):
        try:
            red = desired_red(s, ctx, ports, packages)
        except Unavailable as exc:
            log.warning("no jumpbox for the red cell: %s", exc.message)
            red = None
        if red is not None:
            jumpboxes[RED_CELL] = red
    return jumpboxes, gateways


def _by_team(rows: Any) -> dict[int, list[Any]]:
    """(team id, value...) rows grouped by team: one value, or the tuple of them."""
    out: dict[int, list[Any]] = {}
    for team_id, *values in rows:
        out.setdefault(team_id, []).append(values[0] if len(values) == 1 else tuple(values))
    return out
