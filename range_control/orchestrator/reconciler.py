"""The reconciler: the only code that creates or removes containers, networks and volumes.

It is given the desired state (built from the database by ``services.reconcile``) and makes the
engine agree with it, level-triggered and idempotent, like a Kubernetes controller's reconcile:
safe at any time, after any crash, as often as it runs. A pass is a list of named steps over one
:class:`Pass` (what is wanted, what was seen, what is left to do):

1. ``remove_strays``: containers of unknown instances or services, of an old generation,
   duplicates, jumpboxes on the wrong port, and flag volumes nobody needs;
2. ``networks``: the host guard in place, networks nobody needs removed, missing ones created;
3. ``services``: each desired service kept, restarted (within a budget), replaced (created but
   never started: a launch cut short, maybe before its flag arrived) or queued for creation;
4. ``jumpboxes``: the same for each team's entry points (its SSH jumpbox, its WireGuard
   gateway), whose members' keys or peers are synced in place;
5. ``launch``: the queue, in parallel (a bounded pool; the services of one instance in order);
6. ``game``: the game network's router on its networks, filtering as desired
   (``orchestrator.game``);
7. ``observe``: what each desired instance looks like afterwards (state, health, error).

Nothing here reads or writes the database: the caller writes :attr:`PassReport.observed` back.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from typing import Literal

from range_control.orchestrator.protocols import Backend
from range_control.orchestrator.types import (
    GENERATION,
    PORT,
    RED_CELL,
    SPEC,
    DesiredGame,
    DesiredGateway,
    DesiredInstance,
    DesiredJumpbox,
    Observed,
    ServiceRun,
    defence_network_name,
)

log = logging.getLogger("range_control.reconciler")

DOWN = ("exited", "dead")
EDGE = 0  # the edge network's key among team ids (teams' start at 1, the red cell's is -1)


@dataclass(frozen=True)
class DesiredState:
    event: str
    instances: dict[int, DesiredInstance]  # by instance id
    jumpboxes: dict[int, DesiredJumpbox]  # by team id
    restarts: dict[int, int] = field(default_factory=dict)  # restarts used, by instance id
    gateways: dict[int, DesiredGateway] = field(default_factory=dict)  # by team id (a subset
    # of the jumpboxes' teams: a gateway goes with the team's environment, as its jumpbox)
    volumes: frozenset[str] = frozenset()  # kept besides the instances' (checkers' state)
    game: DesiredGame | None = None  # the game network (None: no defended service, no router)


@dataclass(frozen=True)
class InstanceStatus:
    state: Literal["running", "pending", "failed"]
    health: str | None
    error: str | None
    restarts: int
    node: str | None = None  # where its services run (comma-separated when on several)
    address: str | None = None  # where its published ports are reachable


@dataclass(frozen=True)
class Progress:
    """After each finished launch: services and jumpboxes created so far, of how many."""

    done: int
    total: int
    last: str


@dataclass(frozen=True)
class Launch:
    kind: Literal["instance", "jumpbox", "gateway"]
    key: int  # instance id, or team id for a jumpbox
    runs: tuple[ServiceRun, ...] = ()  # the services to create, in order

    @property
    def size(self) -> int:
        return len(self.runs) if self.kind == "instance" else 1


@dataclass(frozen=True)
class LaunchResult:
    launch: Launch
    created: tuple[str, ...]
    error: str | None


@dataclass
class PassReport:
    created: list[str] = field(default_factory=list)
    restarted: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    networks_removed: list[str] = field(default_factory=list)
    expired: list[int] = field(default_factory=list)
    failed: dict[int, str] = field(default_factory=dict)  # instance id -> error
    jumpbox_errors: dict[int, str] = field(default_factory=dict)  # team id -> error
    gateway_errors: dict[int, str] = field(default_factory=dict)  # team id -> error
    game_error: str | None = None  # why the game network is not as desired
    observed: dict[int, InstanceStatus] = field(default_factory=dict)
    # Where each team's jumpbox runs now: (node, address), None where the engine has one.
    jumpboxes_at: dict[int, tuple[str | None, str | None]] = field(default_factory=dict)
    red_jumpbox: Observed | None = None  # the red cell's, running (its sessions' log is read)
    seconds: dict[str, float] = field(default_factory=dict)  # per step

    @property
    def changed(self) -> bool:
        return bool(self.created or self.removed or self.restarted or self.failed)


@dataclass
class Pass:
    """The working state of one pass, handed from step to step."""

    desired: DesiredState
    report: PassReport = field(default_factory=PassReport)
    keep: dict[tuple[int, str], Observed] = field(default_factory=dict)  # (instance, service)
    keep_jumpbox: dict[int, Observed] = field(default_factory=dict)  # by team id
    keep_gateway: dict[int, Observed] = field(default_factory=dict)  # by team id
    restarts: dict[int, int] = field(default_factory=dict)
    queue: list[Launch] = field(default_factory=list)
    # Why a team's network (by team id) or the edge network (EDGE) could not be made.
    blocked: dict[int, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.restarts = dict(self.desired.restarts)

    @property
    def event(self) -> str:
        return self.desired.event


Step = Callable[[Pass], None]


class Reconciler:
    def __init__(self, backend: Backend, *, pool: int = 8, max_restarts: int = 3) -> None:
        self.backend = backend
        self.pool = max(1, pool)
        self.max_restarts = max_restarts
        self.progress: Callable[[Progress], None] = lambda _p: None

    def steps(self) -> list[tuple[str, Step]]:
        return [
            ("remove_strays", self.remove_strays),
            ("networks", self.networks),
            ("services", self.services),
            ("jumpboxes", self.jumpboxes),
            ("launch", self.launch),
            ("game", self.game),
            ("observe", self.observe),
        ]

    def converge(
        self, desired: DesiredState, progress: Callable[[Progress], None] | None = None
    ) -> PassReport:
        p = Pass(desired)
        self.progress = progress or (lambda _p: None)
        for name, step in self.steps():
            t0 = time.monotonic()
            step(p)
            p.report.seconds[name] = time.monotonic() - t0
        return p.report

    # --- 1 ------------------------------------------------------------------------------
    def remove_strays(self, p: Pass) -> None:
        """Keep one container per desired service (a running one first), per jumpbox and per
        gateway (on its port, with its spec: a new password, packages or key replaces it)."""
        want = p.desired.instances
        entry = {
            "jumpbox": (p.desired.jumpboxes, p.keep_jumpbox),
            "gateway": (p.desired.gateways, p.keep_gateway),
        }
        seen = sorted(self.backend.containers(p.event), key=lambda o: o.status != "running")
        for obs in seen:
            if obs.role == "checker":  # a check job: the defence ticks own it, not this pass
                continue
            if obs.role == "game-router" and p.desired.game is not None:
                continue  # the game step keeps it (or replaces it when it stopped)
            if obs.role in entry:
                desired, keep = entry[obs.role]
                jb = desired.get(obs.team_id or 0)
                if (
                    jb is not None
                    and obs.labels.get(PORT) == str(jb.port)
                    and obs.labels.get(SPEC) == jb.labels()[SPEC]
                    and jb.team_id not in keep
                ):
                    keep[jb.team_id] = obs
                    continue
            elif obs.role == "service" and obs.instance_id in want:
                inst = want[obs.instance_id]
                key = (inst.instance_id, obs.service or "")
                if (
                    any(r.spec.name == key[1] for r in inst.services)
                    and obs.labels.get(GENERATION) == str(inst.generation)
                    and key not in p.keep
                ):
                    p.keep[key] = obs
                    continue
            self._remove(p, obs)
        volumes = set().union(*(i.volumes() for i in want.values())) | p.desired.volumes
        for name in self.backend.volumes(p.event):
            if name not in volumes:
                self.backend.remove_volume(name)

    # --- 2 ------------------------------------------------------------------------------
    def networks(self, p: Pass) -> None:
        """The host guard is in place; each team with something desired has its networks (the
        backend names them: one internal network, and on a Swarm an edge of its own), the shared
        networks (one engine's edge) exist while any team does; every other network of the event
        goes. A network that cannot be made fails what needs it, with its reason."""
        teams = sorted(p.desired.jumpboxes)
        if teams:
            try:
                self.backend.ensure_host_guard()
            except Exception as exc:  # noqa: BLE001 - nothing starts without it
                p.blocked.update(dict.fromkeys(teams, str(exc)))
                p.blocked[EDGE] = str(exc)
                return
        per_team = {t: self.backend.team_networks(p.event, t) for t in teams}
        defending = {i.team_id for i in p.desired.instances.values() if i.defended}
        for t in defending & set(per_team):
            per_team[t] = [*per_team[t], defence_network_name(p.event, t)]
        shared = self.backend.shared_networks(p.event) if teams else []
        wanted = {name for names in per_team.values() for name in names} | set(shared)
        have = self.backend.networks(p.event)
        for name in have:
            if name not in wanted:
                try:
                    self.backend.remove_network(name)
                except Exception as exc:  # noqa: BLE001 - in use: the next pass tries again
                    log.warning("network %s not removed: %s", name, exc)
                    continue
                p.report.networks_removed.append(name)
        jobs: dict[int, Callable[[], object]] = {
            t: (lambda t=t: self._team_networks(p.event, t, t in defending))  # type: ignore[misc]
            for t, names in per_team.items()
            if any(name not in have for name in names)
        }
        if any(name not in have for name in shared):
            jobs[EDGE] = lambda: self.backend.ensure_edge_network(p.event)
        for key, error in self._parallel(jobs).items():
            what = "shared networks" if key == EDGE else f"networks of team {key}"
            log.warning("%s: %s", what, error)
            p.blocked[key] = error

    # --- 3 ------------------------------------------------------------------------------
    def services(self, p: Pass) -> None:
        for iid, inst in p.desired.instances.items():
            why = p.blocked.get(inst.team_id) or (p.blocked.get(EDGE) if inst.published else None)
            if why is not None:
                p.report.failed[iid] = why
                continue
            todo: list[ServiceRun] = []
            for run in inst.services:
                obs = p.keep.get((iid, run.spec.name))
                if obs is None:
                    todo.append(run)
                elif obs.status in DOWN:
                    if p.restarts.get(iid, 0) < self.max_restarts:
                        self.backend.restart(obs)
                        p.restarts[iid] = p.restarts.get(iid, 0) + 1
                        p.report.restarted.append(obs.name)
                    else:
                        p.report.failed[iid] = (
                            f"service {run.spec.name} keeps exiting ({self.max_restarts} restarts)"
                        )
                elif obs.status == "created":
                    # Created but never started: never start it as it is (its flag may be
                    # missing); replace it.
                    self._remove(p, obs)
                    todo.append(run)
            if todo:
                p.queue.append(Launch("instance", iid, tuple(todo)))

    # --- 4 ------------------------------------------------------------------------------
    def jumpboxes(self, p: Pass) -> None:
        for kind, desired, keep, errors in (
            ("jumpbox", p.desired.jumpboxes, p.keep_jumpbox, p.report.jumpbox_errors),
            ("gateway", p.desired.gateways, p.keep_gateway, p.report.gateway_errors),
        ):
            for team, want in desired.items():
                why = p.blocked.get(team) or p.blocked.get(EDGE)
                if why is not None:
                    errors[team] = why
                    continue
                obs = keep.get(team)
                if obs is None:
                    p.queue.append(Launch(kind, team))  # type: ignore[arg-type]
                elif obs.status in DOWN:
                    self.backend.restart(obs)  # started afresh: with the keys of its creation
                    p.report.restarted.append(obs.name)
                elif obs.status == "created":
                    self._remove(p, obs)
                    p.queue.append(Launch(kind, team))  # type: ignore[arg-type]
                elif obs.status == "running":
                    self._sync(p, kind, obs, want, errors)

    def _sync(
        self,
        p: Pass,
        kind: str,
        obs: Observed,
        want: DesiredJumpbox | DesiredGateway,
        errors: dict[int, str],
    ) -> None:
        """The members' keys or peers, in place; replaced where the engine cannot."""
        try:
            in_place = self.backend.sync_access(obs, want)
        except Exception as exc:  # noqa: BLE001 - recorded for the team; the pass goes on
            errors[want.team_id] = str(exc) or exc.__class__.__name__
            log.warning("%s of team %s: %s", kind, want.team_id, errors[want.team_id])
            return
        if not in_place:
            self._remove(p, obs)
            p.queue.append(Launch(kind, want.team_id))  # type: ignore[arg-type]

    # --- 5 ------------------------------------------------------------------------------
    def launch(self, p: Pass) -> None:
        total = sum(job.size for job in p.queue)
        done = 0
        # Entry points first: worth more to a team than any one of its challenges.
        ordered = sorted(p.queue, key=lambda job: job.kind == "instance")
        with ThreadPoolExecutor(max_workers=self.pool, thread_name_prefix="launch") as pool:
            futures = [pool.submit(self._launch_one, p, job) for job in ordered]
            for fut in as_completed(futures):
                result = fut.result()
                p.report.created.extend(result.created)
                done += result.launch.size
                if result.error is not None:
                    if result.launch.kind == "instance":
                        p.report.failed[result.launch.key] = result.error
                        log.warning("instance %s: %s", result.launch.key, result.error)
                    else:
                        errors = (
                            p.report.jumpbox_errors
                            if result.launch.kind == "jumpbox"
                            else p.report.gateway_errors
                        )
                        errors[result.launch.key] = result.error
                        log.warning(
                            "%s of team %s: %s", result.launch.kind, result.launch.key, result.error
                        )
                last = result.created[-1] if result.created else f"{result.launch.kind} failed"
                self.progress(Progress(done, total, last))
        p.queue.clear()

    def _launch_one(self, p: Pass, job: Launch) -> LaunchResult:
        created: list[str] = []
        try:
            if job.kind == "jumpbox":
                created.append(self.backend.create_jumpbox(p.desired.jumpboxes[job.key]).name)
            elif job.kind == "gateway":
                created.append(self.backend.create_gateway(p.desired.gateways[job.key]).name)
            else:
                inst = p.desired.instances[job.key]
                for run in job.runs:  # in order: a service may need the one before it
                    self.backend.ensure_image(run, inst.challenge, inst.source_dir)
                    created.append(self.backend.create_service(inst, run).name)
        except Exception as exc:  # noqa: BLE001 - recorded on the instance; the pass goes on
            return LaunchResult(job, tuple(created), str(exc) or exc.__class__.__name__)
        return LaunchResult(job, tuple(created), None)

    # --- 6 ------------------------------------------------------------------------------
    def game(self, p: Pass) -> None:
        """The game network as desired, once the targets it routes to run."""
        if p.desired.game is None:
            return
        try:
            self.backend.ensure_game(p.desired.game)
        except Exception as exc:  # noqa: BLE001 - reported; the teams' own access goes on
            p.report.game_error = str(exc) or exc.__class__.__name__
            log.warning("game network: %s", p.report.game_error)

    # --- 7 ------------------------------------------------------------------------------
    def observe(self, p: Pass) -> None:
        everything = self.backend.containers(p.event)
        after = {(o.instance_id, o.service): o for o in everything if o.role == "service"}
        for o in everything:  # where a team's entry point answers now (running: not a move)
            if o.role == "jumpbox" and o.team_id in p.desired.jumpboxes and o.status == "running":
                p.report.jumpboxes_at[o.team_id] = (o.node, o.address)
                if o.team_id == RED_CELL:
                    p.report.red_jumpbox = o
        for iid, inst in p.desired.instances.items():
            seen = [after.get((iid, r.spec.name)) for r in inst.services]
            nodes = sorted({o.node for o in seen if o is not None and o.node})
            where = {
                "node": ", ".join(nodes) or None,
                "address": next(
                    (
                        o.address
                        for o in seen
                        if o is not None and o.address and inst.host_ports(o.service or "")
                    ),
                    None,
                ),
            }
            healths = {o.health for o in seen if o is not None and o.health}
            health = (
                "unhealthy"
                if "unhealthy" in healths
                else "starting"
                if "starting" in healths
                else "healthy"
                if healths
                else None
            )
            restarts = p.restarts.get(iid, 0)
            if iid in p.report.failed:
                status = InstanceStatus("failed", health, p.report.failed[iid], restarts, **where)
            elif all(o is not None and o.status == "running" for o in seen):
                status = InstanceStatus("running", health, None, restarts, **where)
            else:
                why = next((o.error for o in seen if o is not None and o.error), None)
                status = InstanceStatus("pending", health, why, restarts, **where)
            p.report.observed[iid] = status

    # --- helpers ------------------------------------------------------------------------
    def _team_networks(self, event: str, team: int, defending: bool) -> None:
        self.backend.ensure_network(event, team)
        if defending:
            self.backend.ensure_defence_network(event, team)

    def _remove(self, p: Pass, obs: Observed) -> None:
        self.backend.remove_container(obs)
        p.report.removed.append(obs.name)

    def _parallel(self, jobs: dict[int, Callable[[], object]]) -> dict[int, str]:
        """Run ``jobs`` in the pool; the errors by key."""
        if not jobs:
            return {}
        errors = {}
        with ThreadPoolExecutor(max_workers=self.pool, thread_name_prefix="net") as pool:
            futures = {pool.submit(job): key for key, job in jobs.items()}
            for fut in as_completed(futures):
                try:
                    fut.result()
                except Exception as exc:  # noqa: BLE001 - reported on what needs it
                    errors[futures[fut]] = str(exc) or exc.__class__.__name__
        return errors
