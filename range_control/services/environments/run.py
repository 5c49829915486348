"""One reconciler pass over the range: the database's desired state made real on the engine.

The steps, in order (each small and testable on its own):

1. :func:`expire`: team instances past their lifetime leave the desired state;
2. :func:`~range_control.services.environments.desired.desired_state`: the instances and entry
   points that should exist, with each team's flag and host ports (allocated now, recorded
   before any container uses them);
3. the engine steps of :class:`~range_control.orchestrator.reconciler.Reconciler` (remove
   strays, networks, services, jumpboxes, launch, observe);
4. :func:`write_back`: what the engine steps saw, on each instance (state, health, restarts,
   last error).

A pass holds the reconciler lease, so two processes never reconcile one database at once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy import delete, select

from range_control.context import Range
from range_control.core import metrics
from range_control.orchestrator.protocols import Backend
from range_control.orchestrator.reconciler import (
    InstanceStatus,
    PassReport,
    Progress,
    Reconciler,
)
from range_control.orchestrator.types import RED_CELL, Observed
from range_control.services.environments.desired import desired_state
from range_control.services.environments.ports import JUMPBOX, RED_JUMPBOX
from range_control.services.redcell import commands
from range_control.store.models import (
    Instance,
    PortAllocation,
)

log = logging.getLogger("range_control.reconciler")

# The pass's report and progress are this use case's results too.
__all__ = [
    "EnvironmentReconciler",
    "PassReport",
    "Progress",
    "expire",
    "write_back",
    "whose",
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


def whose(team_id: int) -> str:
    """Whose entry point a team id of the pass's report is: a team's, or the red cell's."""
    return "the red cell" if team_id == RED_CELL else f"team {team_id}"


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
            if alloc.purpose == RED_JUMPBOX:
                key = (RED_CELL, None)
            elif alloc.purpose == JUMPBOX:
                key = (alloc.team_id, None)
            else:
                key = (None, alloc.instance_id)
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
        if report.red_jumpbox is not None:
            self.red_commands(report.red_jumpbox)
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

    def red_commands(self, box: Observed) -> None:
        """The commands the red cell's sessions ran since the last ones stored, into the ground
        truth (an engine that does not answer now: the next pass reads them)."""
        try:
            lines = self.backend.session_log(box, commands.since(self.ctx))
        except Exception as exc:  # noqa: BLE001 - the pass's work is done; the next one reads
            log.warning("red cell's jumpbox: its sessions' log not read: %s", exc)
            return
        commands.record(self.ctx, lines)
