"""One reconciler pass over the range: the database's desired state made real on the engine.

The steps, in order (each small and testable on its own):

1. :func:`expire`: team instances past their lifetime leave the desired state;
2. :func:`desired_state`: the instances and jumpboxes that should exist, with each team's flag
   and host ports (allocated now, recorded before any container uses them);
3. the engine steps of :class:`~range_control.orchestrator.reconciler.Reconciler` (remove
   strays, networks, services, jumpboxes, launch, observe);
4. :func:`write_back`: what the engine steps saw, on each instance (state, health, restarts,
   last error).

A pass holds the reconciler lease, so two processes never reconcile one database at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from sqlalchemy import delete, select

from range_control.context import Range
from range_control.core import metrics
from range_control.core.errors import Unavailable
from range_control.core.settings import secret
from range_control.domain.flags import DynamicFlag, dynamic_flag
from range_control.domain.keys import jumpbox_password
from range_control.orchestrator.backend import (
    Backend,
    DesiredInstance,
    DesiredJumpbox,
    ServiceRun,
)
from range_control.orchestrator.reconciler import (
    DesiredState,
    InstanceStatus,
    PassReport,
    Progress,
    Reconciler,
)
from range_control.services.environments.ports import JUMPBOX, WIREGUARD, PortPool, published
from range_control.services.environments.team_access import desired_gateway
from range_control.specs.environment import EnvironmentSpec
from range_control.store.models import (
    Challenge,
    Event,
    Flag,
    Instance,
    PortAllocation,
    SshKey,
    Team,
    WireGuardPeer,
)

log = logging.getLogger("range_control.reconciler")

# The pass's report and progress are this use case's results too.
__all__ = [
    "EnvironmentReconciler",
    "PassReport",
    "Progress",
    "desired_state",
    "expire",
    "write_back",
]


def expire(ctx: Range) -> list[int]:
    """Drop the instances whose lifetime is over; their ids."""
    now = ctx.clock.now()
    with ctx.store.write() as s:
        gone = delete(Instance).where(Instance.expires_at <= now).returning(Instance.id)
        expired = list(s.execute(gone).scalars())
    if expired:
        log.info("expired instances: %s", expired)
    return expired


def desired_state(ctx: Range, *, wireguard: bool = False) -> tuple[DesiredState, dict[int, str]]:
    """What should exist, and the instances that cannot be placed (by id, with why). Missing
    host ports are allocated in the same transaction, before any container exists. A team with
    an environment has a jumpbox (with its members' SSH keys and the event's extra packages)
    and, with ``wireguard`` and at least one peer, a WireGuard gateway."""
    event = ctx.event_slug
    key = secret(ctx.settings.flag_secret)
    out: dict[int, DesiredInstance] = {}
    refused: dict[int, str] = {}
    with ctx.store.write() as s:
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
        ports = PortPool(s, ctx)
        restarts = {}
        for inst, ch, team in rows:
            env_data = ch.environment
            if not env_data:
                continue
            env = EnvironmentSpec.model_validate(env_data)
            if ch.dynamic_prefix:
                shape = DynamicFlag(ch.dynamic_prefix, ch.dynamic_length)
                flag = dynamic_flag(key, event, team.id, ch.slug, shape)
            else:
                flag = static.get(ch.id, "")
            runs = tuple(ServiceRun(svc, ch.images.get(svc.name, "")) for svc in env.services)
            try:
                host_ports = tuple(
                    (svc.name, p, ports.get(team.id, inst.id, published(svc.name, p)))
                    for svc in env.services
                    if svc.exposure == "published"
                    for p in svc.ports
                )
            except Unavailable as exc:
                refused[inst.id] = exc.message
                continue
            out[inst.id] = DesiredInstance(
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
            restarts[inst.id] = inst.restarts
        with_env = sorted({i.team_id for i in out.values()})
        tokens = {team.id: team.token_hash for _i, _c, team in rows}
        keys = _by_team(
            s.execute(
                select(SshKey.team_id, SshKey.public_key)
                .where(SshKey.team_id.in_(with_env))
                .order_by(SshKey.id)
            )
        )
        scenario = s.scalar(select(Event.scenario).where(Event.slug == event)) or {}
        packages = tuple((scenario.get("jumpbox") or {}).get("packages") or ())
        jumpboxes, gateways = {}, {}
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
        for team_id in with_env:
            try:
                port = ports.get(team_id, None, JUMPBOX)
                wg_port = ports.get(team_id, None, WIREGUARD) if peers.get(team_id) else None
            except Unavailable as exc:
                for iid in [i for i, d in out.items() if d.team_id == team_id]:
                    refused[iid] = f"no jumpbox for the team: {exc.message}"
                    del out[iid]
                continue
            password = jumpbox_password(key, event, team_id, tokens[team_id])
            jumpboxes[team_id] = DesiredJumpbox(
                event, team_id, port, password, tuple(keys.get(team_id, ())), packages
            )
            if wg_port is not None:
                gateways[team_id] = desired_gateway(ctx, team_id, wg_port, peers[team_id])
    return DesiredState(event, out, jumpboxes, restarts, gateways), refused


def _by_team(rows: Any) -> dict[int, list[Any]]:
    """(team id, value...) rows grouped by team: one value, or the tuple of them."""
    out: dict[int, list[Any]] = {}
    for team_id, *values in rows:
        out.setdefault(team_id, []).append(values[0] if len(values) == 1 else tuple(values))
    return out


def write_back(ctx: Range, report: PassReport, refused: dict[int, str]) -> None:
    """Record on each instance what the pass saw of it, and where each team's jumpbox and
    published ports are reachable now (a Swarm task may have moved to another node)."""
    now = ctx.clock.now()
    seen = dict(report.observed)
    for iid, why in refused.items():
        seen[iid] = InstanceStatus("failed", None, why, 0)
    if not seen and not report.jumpboxes_at:
        return
    with ctx.store.write() as s:
        for inst in s.scalars(select(Instance).where(Instance.id.in_(list(seen)))):
            st = seen[inst.id]
            inst.state, inst.health, inst.observed_at = st.state, st.health, now
            inst.node = st.node
            if st.error is not None:
                inst.last_error = st.error[:2000]
            elif st.state == "running":
                inst.last_error = None
            if inst.id not in refused:
                inst.restarts = st.restarts
        hosts = {(team, None): at[1] for team, at in report.jumpboxes_at.items()}
        hosts.update({(None, iid): st.address for iid, st in seen.items()})
        for alloc in s.scalars(select(PortAllocation)):
            key = (alloc.team_id, None) if alloc.purpose == JUMPBOX else (None, alloc.instance_id)
            if key in hosts and alloc.host != hosts[key]:
                alloc.host = hosts[key]


class EnvironmentReconciler:
    """The whole pass for one range: database steps around the engine steps."""

    def __init__(
        self, ctx: Range, backend: Backend, *, pool: int | None = None, max_restarts: int = 3
    ) -> None:
        self.ctx = ctx
        self.backend = backend
        self.engine = Reconciler(
            backend, pool=pool or ctx.settings.launch_pool, max_restarts=max_restarts
        )

    def wireguard_on(self) -> bool:
        """Gateways are wanted when the settings ask and the engine can run them."""
        return self.ctx.settings.wireguard == "on" and self.backend.wireguard_problem() is None

    def run_once(self, progress: Callable[[Progress], None] | None = None) -> PassReport:
        with (
            self.ctx.store.lease("reconciler", wait=True),
            metrics.timed(metrics.RECONCILE_SECONDS),
        ):
            expired = expire(self.ctx)
            desired, refused = desired_state(self.ctx, wireguard=self.wireguard_on())
            report = self.engine.converge(desired, progress)
            report.expired = expired
            report.failed.update(refused)
            write_back(self.ctx, report, refused)
        for action, done in (
            ("created", report.created),
            ("restarted", report.restarted),
            ("removed", report.removed),
            ("failed", report.failed),
            ("expired", report.expired),
        ):
            if done:
                metrics.RECONCILE_ACTIONS.labels(action).inc(len(done))
        return report
