"""The reconciler: the only code that creates or removes containers, networks and volumes.

Desired state is the ``instances`` table; actual state is what the engine reports under our
labels. One pass (level-triggered, idempotent, safe at any time and after any crash):

1. drop expired instances from the desired set;
2. remove what is not desired: containers of unknown instances or services, duplicates, the
   flag volumes and team networks nobody needs any more (teams removed or with nothing left);
3. create what is missing (in parallel, a bounded pool), restart what died (bounded), start
   what was created but never started;
4. write what it saw back to the instances (state, health, restarts, last error).

A pass holds the reconciler lease, so two processes never reconcile at once.
"""

from __future__ import annotations

import logging
import socket
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select

from range_control.domain.flags import DynamicFlag, dynamic_flag, jumpbox_password
from range_control.orchestrator.backend import (
    GENERATION,
    PORT,
    ROLE,
    SERVICE,
    TEAM,
    Backend,
    DesiredInstance,
    DesiredJumpbox,
    Observed,
    ServiceRun,
    container_name,
    edge_network_name,
    network_name,
)
from range_control.services.context import Range
from range_control.settings import secret
from range_control.specs.environment import EnvironmentSpec
from range_control.store.models import Challenge, Flag, Instance, PortAllocation, Team

log = logging.getLogger("range_control.reconciler")


@dataclass
class PassReport:
    created: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    networks_removed: list[str] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # instance id -> error
    jumpbox_errors: dict[int, str] = field(default_factory=dict)  # team id -> error


@dataclass
class _Want:
    inst: DesiredInstance
    source_dir: str | None


class Reconciler:
    def __init__(self, rng: Range, backend: Backend, *, pool: int | None = None,
                 max_restarts: int = 3) -> None:  # fmt: skip
        self.rng = rng
        self.backend = backend
        self.pool = pool or rng.settings.launch_pool
        self.max_restarts = max_restarts

    # --- desired ------------------------------------------------------------------------
    def desired(self) -> tuple[dict[int, _Want], dict[int, DesiredJumpbox], list[int]]:
        """Instances, jumpboxes and expired instance ids. Drops expired instances and allocates
        missing host ports in the same transaction, before any container exists."""
        now = self.rng.clock.now()
        event = self.rng.event_slug
        key = secret(self.rng.settings.flag_secret)
        out: dict[int, _Want] = {}
        with self.rng.store.write() as s:
            expired = list(
                s.execute(delete(Instance).where(Instance.expires_at <= now).returning(Instance.id))
                .scalars()
                .all()
            )
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
            ports = _PortPool(s, self.rng)
            for inst, ch, team in rows:
                env_data = ch.environment
                if not env_data:
                    continue
                env = EnvironmentSpec.model_validate(env_data)
                if ch.dynamic_prefix:
                    spec = DynamicFlag(ch.dynamic_prefix, ch.dynamic_length)
                    flag = dynamic_flag(key, event, team.id, ch.slug, spec)
                else:
                    flag = static.get(ch.id, "")
                runs = tuple(ServiceRun(svc, ch.images.get(svc.name, "")) for svc in env.services)
                published = tuple(
                    (svc.name, p, ports.get(team.id, inst.id, f"{svc.name}:{p}"))
                    for svc in env.services
                    if svc.exposure == "published"
                    for p in svc.ports
                )
                out[inst.id] = _Want(
                    DesiredInstance(event, team.id, inst.id, ch.slug, flag, runs,
                                    inst.generation, published),
                    ch.source_dir,
                )  # fmt: skip
            jumpboxes = {
                t: DesiredJumpbox(event, t, ports.get(t, None, "jumpbox"),
                                  jumpbox_password(key, event, t))
                for t in sorted({w.inst.team_id for w in out.values()})
            }  # fmt: skip
        if expired:
            log.info("expired instances: %s", expired)
        return out, jumpboxes, expired

    # --- one pass -----------------------------------------------------------------------
    def run_once(self, progress: Callable[[str], None] | None = None) -> PassReport:
        with self.rng.store.lease("reconciler", wait=True):
            return self._pass(progress or (lambda _msg: None))

    def _pass(self, progress: Callable[[str], None]) -> PassReport:
        report = PassReport()
        event = self.rng.event_slug
        want, jumpboxes, report.expired = self.desired()

        # 2. remove what is not desired (and duplicates of what is)
        keep: dict[tuple[int, str], Observed] = {}
        keep_jb: dict[int, Observed] = {}
        for obs in sorted(self.backend.containers(event), key=lambda o: o.status != "running"):
            role = obs.labels.get(ROLE)
            if role == "jumpbox":
                team = int(obs.labels.get(TEAM, "0") or 0)
                jb = jumpboxes.get(team)
                if jb is not None and obs.labels.get(PORT) == str(jb.port) and team not in keep_jb:
                    keep_jb[team] = obs
                    continue
            elif role == "service":
                iid, svc = obs.instance_id, obs.labels.get(SERVICE, "")
                w = want.get(iid) if iid is not None else None
                if (
                    w is not None
                    and any(r.spec.name == svc for r in w.inst.services)
                    and obs.labels.get(GENERATION) == str(w.inst.generation)
                    and (iid, svc) not in keep
                ):
                    keep[(iid, svc)] = obs
                    continue
            self.backend.remove_container(obs)
            report.removed.append(obs.name)
        wanted_nets = {network_name(event, t) for t in jumpboxes}
        if jumpboxes:
            wanted_nets.add(edge_network_name(event))
        wanted_volumes = {
            container_name(w.inst.event, w.inst.team_id, w.inst.challenge, r.spec.name) + "-flag"
            for w in want.values()
            for r in w.inst.services
        }
        for name in self.backend.volumes(event):
            if name not in wanted_volumes:
                self.backend.remove_volume(name)
        for name in self.backend.networks(event):
            if name not in wanted_nets:
                self.backend.remove_network(name)
                report.networks_removed.append(name)

        # 3. create, restart, replace
        with self.rng.store.read() as s:
            restarts = dict(s.execute(select(Instance.id, Instance.restarts)).all())
        jobs: dict[int, list[ServiceRun]] = defaultdict(list)
        for iid, w in want.items():
            for run in w.inst.services:
                obs = keep.get((iid, run.spec.name))
                if obs is None:
                    jobs[iid].append(run)
                elif obs.status in ("exited", "dead"):
                    if restarts.get(iid, 0) < self.max_restarts:
                        self.backend.restart(obs)
                        restarts[iid] = restarts.get(iid, 0) + 1
                        report.restarted.append(obs.name)
                    else:
                        report.failed[iid] = (
                            f"service {run.spec.name} keeps exiting ({self.max_restarts} restarts)"
                        )
                elif obs.status == "created":
                    # Created but never started: a launch cut short (crash), maybe before its
                    # flag was delivered. Never start it as it is: replace it.
                    self.backend.remove_container(obs)
                    report.removed.append(obs.name)
                    jobs[iid].append(run)
        jb_jobs = []
        for team, jb in jumpboxes.items():
            obs = keep_jb.get(team)
            if obs is None:
                jb_jobs.append(jb)
            elif obs.status in ("exited", "dead"):
                self.backend.restart(obs)
                report.restarted.append(obs.name)
            elif obs.status == "created":
                self.backend.remove_container(obs)
                report.removed.append(obs.name)
                jb_jobs.append(jb)

        def launch(iid: int, runs: list[ServiceRun]) -> tuple[int, list[str], str | None]:
            w = want[iid]
            names = []
            try:
                self.backend.ensure_network(event, w.inst.team_id)
                for run in runs:  # services of one instance in order; instances in parallel
                    self.backend.ensure_image(run, w.inst.challenge, w.source_dir)
                    names.append(self.backend.create_service(w.inst, run).name)
            except Exception as exc:  # noqa: BLE001 - recorded on the instance, pass goes on
                return iid, names, str(exc)
            return iid, names, None

        def launch_jumpbox(jb: DesiredJumpbox) -> tuple[int, list[str], str | None]:
            try:
                return -jb.team_id, [self.backend.create_jumpbox(jb).name], None
            except Exception as exc:  # noqa: BLE001
                return -jb.team_id, [], str(exc)

        total = sum(len(r) for r in jobs.values()) + len(jb_jobs)
        done = 0
        with ThreadPoolExecutor(max_workers=self.pool) as pool:
            futures = [pool.submit(launch_jumpbox, jb) for jb in jb_jobs]
            futures += [pool.submit(launch, iid, runs) for iid, runs in jobs.items()]
            for fut in as_completed(futures):
                iid, names, error = fut.result()
                report.created.extend(names)
                done += len(jobs[iid]) if iid > 0 else 1
                if error and iid > 0:
                    report.failed[iid] = error
                    log.warning("instance %s: %s", iid, error)
                elif error:
                    report.jumpbox_errors[-iid] = error
                    log.warning("jumpbox of team %s: %s", -iid, error)
                progress(f"{done}/{total}")

        # 4. write back what we saw
        self._write_back(want, restarts, report)
        return report

    def _write_back(self, want: dict[int, _Want], restarts: dict[int, int],
                    report: PassReport) -> None:  # fmt: skip
        now = self.rng.clock.now()
        event = self.rng.event_slug
        after = {(o.instance_id, o.labels.get(SERVICE)): o for o in self.backend.containers(event)}
        with self.rng.store.write() as s:
            for inst in s.scalars(select(Instance).where(Instance.id.in_(list(want)))):
                runs = want[inst.id].inst.services
                seen = [after.get((inst.id, r.spec.name)) for r in runs]
                healths = {o.health for o in seen if o is not None and o.health}
                inst.restarts = restarts.get(inst.id, inst.restarts)
                inst.observed_at = now
                if inst.id in report.failed:
                    inst.state, inst.last_error = "failed", report.failed[inst.id][:2000]
                elif all(o is not None and o.status == "running" for o in seen):
                    inst.state, inst.last_error = "running", None
                else:
                    inst.state = "pending"
                inst.health = (
                    "unhealthy" if "unhealthy" in healths
                    else "starting" if "starting" in healths
                    else "healthy" if healths else None
                )  # fmt: skip


def _bindable(ip: str, port: int) -> bool:
    """A new allocation skips a port some other process on this host already listens on (it
    would fail the container's start on every pass, "address already in use")."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((ip, port))
        except OSError:
            return False
    return True


class _PortPool:
    """Host ports from RANGE_PORT_RANGE, recorded in port_allocations before use."""

    def __init__(self, session: Any, rng: Range) -> None:
        self.s = session
        self.rng = rng
        self.held = {
            (a.team_id, a.instance_id, a.purpose): a.port
            for a in session.scalars(select(PortAllocation))
        }
        used = set(self.held.values())
        ip = rng.settings.publish_ip
        self.free = (p for p in rng.settings.ports if p not in used and _bindable(ip, p))

    def get(self, team_id: int, instance_id: int | None, purpose: str) -> int:
        key = (team_id, instance_id, purpose)
        if key not in self.held:
            port = next(self.free, None)
            if port is None:
                raise RuntimeError(
                    f"the host port pool {self.rng.settings.port_range} is exhausted "
                    "(RANGE_PORT_RANGE)"
                )
            row = PortAllocation(port=port, team_id=team_id, instance_id=instance_id,
                                 purpose=purpose, created_at=self.rng.clock.now())  # fmt: skip
            self.s.add(row)
            self.held[key] = port
        return self.held[key]
