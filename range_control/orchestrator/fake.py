"""An engine in memory, for unit tests of the reconciler and of the services that drive it.

It keeps what a real engine would (containers with labels and states, networks, volumes,
images) and refuses what a real engine refuses (a second container of the same name, a container
on a network that does not exist). Tests change its world behind the reconciler's back
(:meth:`FakeBackend.add`, :meth:`FakeBackend.set_status`) and make operations fail
(:attr:`FakeBackend.failures`). Every operation is recorded in :attr:`FakeBackend.calls`.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

from range_control.orchestrator.types import (
    EVENT,
    MANAGED,
    ROLE,
    TEAM,
    BackendError,
    Cancel,
    CheckBatch,
    DesiredGame,
    DesiredGateway,
    DesiredInstance,
    DesiredJumpbox,
    EngineFacts,
    Job,
    JobResult,
    NodeInfo,
    Observed,
    PeerSeen,
    ServiceRun,
    container_name,
    defence_network_name,
    edge_network_name,
    flag_volume_name,
    game_router_name,
    gateway_name,
    jumpbox_name,
    network_name,
)


@dataclass
class _Network:
    id: str
    labels: dict[str, str]


class FakeBackend:
    def __init__(self) -> None:
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self.objects: dict[str, Observed] = {}  # container id -> what it looks like
        self.network_objs: dict[str, _Network] = {}  # by name
        self.volume_labels: dict[str, dict[str, str]] = {}  # by name
        self.images: set[str] = {"range/base:bookworm"}
        self.guarded = False
        self.calls: list[str] = []
        # "<operation>:<name>" -> error message: that operation on that name raises it.
        self.failures: dict[str, str] = {}
        self.jobs: Callable[[Job], JobResult] = lambda job: JobResult(0, "", "")
        # A check batch -> the lines its runner would print (tests say what each team gets).
        self.checks: Callable[[CheckBatch], list[str]] = lambda batch: []
        self.batches: list[CheckBatch] = []
        self.wireguard: str | None = None  # why gateways cannot run (None: they can)
        # A jumpbox's name -> (Unix second, "range-command ..." line) it printed (tests say).
        self.sessions: dict[str, list[tuple[int, str]]] = {}
        self.access: dict[str, str] = {}  # container id -> access digest synced into it
        self.game: DesiredGame | None = None  # the game network as last ensured

    # --- test helpers -------------------------------------------------------------------
    def add(self, name: str, labels: dict[str, str], status: str = "running") -> Observed:
        """A container that appeared behind the reconciler's back (a crash, another tool)."""
        with self._lock:
            obs = Observed(f"c{next(self._ids)}", name, dict(labels), status)
            self.objects[obs.id] = obs
            return obs

    def set_status(self, name: str, status: str, health: str | None = None) -> None:
        with self._lock:
            for cid, obs in self.objects.items():
                if obs.name == name:
                    self.objects[cid] = replace(obs, status=status, health=health)

    def names(self, role: str | None = None) -> list[str]:
        return sorted(o.name for o in self.objects.values() if role is None or o.role == role)

    def _check(self, op: str, name: str) -> None:
        self.calls.append(f"{op}:{name}")
        error = self.failures.get(f"{op}:{name}")
        if error is not None:
            raise BackendError(error)

    def _new(self, name: str, labels: dict[str, str], networks: list[str]) -> Observed:
        with self._lock:
            if any(o.name == name for o in self.objects.values()):
                raise BackendError(f"Conflict: the container name {name!r} is already in use")
            for net in networks:
                if net not in self.network_objs:
                    raise BackendError(f"network {net} not found")
            obs = Observed(f"c{next(self._ids)}", name, dict(labels), "running")
            self.objects[obs.id] = obs
            return obs

    @staticmethod
    def _of(labels: dict[str, str], event: str) -> bool:
        return labels.get(MANAGED) == "1" and labels.get(EVENT) == event

    # --- what exists --------------------------------------------------------------------
    def containers(self, event: str) -> list[Observed]:
        with self._lock:
            return [o for o in self.objects.values() if self._of(o.labels, event)]

    def networks(self, event: str) -> dict[str, str]:
        with self._lock:
            return {n: x.id for n, x in self.network_objs.items() if self._of(x.labels, event)}

    def volumes(self, event: str) -> list[str]:
        with self._lock:
            return [n for n, lb in self.volume_labels.items() if self._of(lb, event)]

    # --- creating and repairing ---------------------------------------------------------
    def ensure_host_guard(self) -> None:
        self._check("guard", "host")
        self.guarded = True

    def _network(self, name: str, labels: dict[str, str]) -> str:
        self._check("network", name)
        with self._lock:
            net = self.network_objs.setdefault(name, _Network(f"n{next(self._ids)}", labels))
            return net.id

    def team_networks(self, event: str, team_id: int) -> list[str]:
        return [network_name(event, team_id)]

    def shared_networks(self, event: str) -> list[str]:
        """The edge network of jumpboxes and published services (one bridge for all teams:
        no traffic between its containers, see ensure_edge_network)."""
        return [edge_network_name(event)]

    def ensure_network(self, event: str, team_id: int) -> str:
        labels = {MANAGED: "1", EVENT: event, TEAM: str(team_id), ROLE: "team-network"}
        return self._network(network_name(event, team_id), labels)

    def ensure_edge_network(self, event: str) -> str:
        labels = {MANAGED: "1", EVENT: event, ROLE: "edge-network"}
        return self._network(edge_network_name(event), labels)

    def ensure_defence_network(self, event: str, team_id: int) -> str:
        labels = {MANAGED: "1", EVENT: event, TEAM: str(team_id), ROLE: "defence-network"}
        return self._network(defence_network_name(event, team_id), labels)

    def ensure_image(self, run: ServiceRun, challenge: str, source_dir: str | None) -> None:
        self._check("image", run.image)
        if run.image not in self.images:
            if run.spec.build is None or source_dir is None:
                raise BackendError(f"challenge {challenge}: image {run.image!r} is missing")
            self.images.add(run.image)

    def create_service(self, inst: DesiredInstance, run: ServiceRun) -> Observed:
        name = container_name(inst.event, inst.team_id, inst.challenge, run.spec.name)
        self._check("create", name)
        if run.spec.flag.file and run.spec.read_only:
            volume = flag_volume_name(inst.event, inst.team_id, inst.challenge, run.spec.name)
            with self._lock:
                self.volume_labels[volume] = {**inst.labels(run.spec.name), ROLE: "flag-volume"}
        nets = [network_name(inst.event, inst.team_id)]
        if inst.host_ports(run.spec.name):
            nets.append(edge_network_name(inst.event))
        if run.defended is not None and run.defended.target:
            self.ensure_defence_network(inst.event, inst.team_id)
            nets.append(defence_network_name(inst.event, inst.team_id))
        for volume, _path in inst.data_volumes(run):
            with self._lock:
                self.volume_labels[volume] = {**inst.labels(run.spec.name), ROLE: "data-volume"}
        return self._new(name, {**inst.labels(run.spec.name), ROLE: "service"}, nets)

    def create_jumpbox(self, jb: DesiredJumpbox) -> Observed:
        name = jumpbox_name(jb.event, jb.team_id)
        self._check("create", name)
        nets = [edge_network_name(jb.event), network_name(jb.event, jb.team_id)]
        obs = self._new(name, jb.labels(), nets)
        self.access[obs.id] = jb.access()
        return obs

    def create_gateway(self, gw: DesiredGateway) -> Observed:
        name = gateway_name(gw.event, gw.team_id)
        self._check("create", name)
        if self.wireguard is not None:
            raise BackendError(self.wireguard)
        obs = self._new(
            name, gw.labels(), [edge_network_name(gw.event), network_name(gw.event, gw.team_id)]
        )
        self.access[obs.id] = gw.access()
        return obs

    def sync_access(self, obs: Observed, want: DesiredJumpbox | DesiredGateway) -> bool:
        if self.access.get(obs.id) != want.access():
            self._check("sync", obs.name)
            self.access[obs.id] = want.access()
        return True

    def wireguard_problem(self) -> str | None:
        return self.wireguard

    def ensure_game(self, game: DesiredGame) -> None:
        """The router, once, and the game as last asked (``self.game``)."""
        name = game_router_name(game.event)
        self._check("game", name)
        if not any(o.name == name for o in self.containers(game.event)):
            self._new(name, game.labels(), [])
        self.game = game

    def wireguard_image(self) -> str:
        self.images.add("range/wireguard:fake")
        return "range/wireguard:fake"

    def address_pools(self) -> list[str]:
        return ["10.213.0.0/16"]

    def gateway_peers(self, obs: Observed) -> list[PeerSeen]:
        return []

    def session_log(self, obs: Observed, since: int) -> list[str]:
        return [line for at, line in self.sessions.get(obs.name, []) if at >= since]

    def restart(self, obs: Observed) -> None:
        self._check("restart", obs.name)
        with self._lock:
            if obs.id in self.objects:
                self.objects[obs.id] = replace(self.objects[obs.id], status="running")

    # --- removing -----------------------------------------------------------------------
    def remove_container(self, obs: Observed) -> None:
        self._check("remove", obs.name)
        with self._lock:
            self.objects.pop(obs.id, None)

    def remove_network(self, name: str) -> None:
        self._check("remove-network", name)
        with self._lock:
            net = self.network_objs.get(name)
            if net is None:
                return
            # Like an engine: a network with containers on it cannot go. The fake does not
            # track attachments, so a team network is "in use" while a container of that team
            # exists, the edge network while any jumpbox does.
            team = net.labels.get(TEAM)
            event = net.labels.get(EVENT)
            for o in self.objects.values():
                same_event = o.labels.get(EVENT) == event
                if same_event and (
                    (team is not None and o.labels.get(TEAM) == team)
                    or (team is None and o.role == "jumpbox")
                ):
                    raise BackendError(f"network {name} has active endpoints")
            del self.network_objs[name]

    def remove_volume(self, name: str) -> None:
        self._check("remove-volume", name)
        with self._lock:
            self.volume_labels.pop(name, None)

    def sweep(self, event: str) -> None:
        with self._lock:
            self.objects = {k: o for k, o in self.objects.items() if not self._of(o.labels, event)}
            self.network_objs = {
                k: n for k, n in self.network_objs.items() if not self._of(n.labels, event)
            }
            self.volume_labels = {
                k: lb for k, lb in self.volume_labels.items() if not self._of(lb, event)
            }

    # --- images and jobs ----------------------------------------------------------------
    def ensure_base_image(
        self, progress: Callable[[str], None], *, rebuild: bool = False, tag: str | None = None
    ) -> bool:
        tag = tag or "range/base:bookworm"
        if tag in self.images and not rebuild:
            return False
        progress("fake debootstrap")
        self.images.add(tag)
        return True

    def jumpbox_image(self, packages: tuple[str, ...] = ()) -> str:
        tag = "range/jumpbox:fake" + ("-" + "-".join(packages) if packages else "")
        self.images.add(tag)
        return tag

    def image_present(self, ref: str) -> bool:
        return ref in self.images

    def facts(self) -> EngineFacts:
        return EngineFacts("fake", "0", None, 8 * 2**30, None, None, ())

    def image_ref(self, tag: str) -> str:
        if tag not in self.images:
            raise BackendError(f"image {tag!r} is missing")
        return tag

    def build_image(self, context: Path, tag: str, label: str) -> None:
        self._check("build", tag)
        self.images.add(tag)

    def run_job(self, job: Job, cancel: Cancel) -> JobResult:
        self._check("job", job.name)
        return self.jobs(job)

    def run_checks(
        self, batch: CheckBatch, cancel: Cancel, on_line: Callable[[str], None]
    ) -> int | None:
        self._check("checks", batch.name)
        self.batches.append(batch)
        for line in self.checks(batch):
            if cancel.is_set():
                return None
            on_line(line)
        return 0

    def check_jobs(self, event: str) -> list[Observed]:
        return []

    def wrapped(self, kind: str, source: str, challenge: str) -> str:
        self._check("wrap", source)
        return f"range/{kind}-fake:{source.rpartition(':')[2]}"

    def why_down(self, obs: Observed, lines: int) -> str:
        return "exit code 1"

    def prepare(self, progress: Callable[[str], None]) -> None:
        self.ensure_host_guard()
        progress("host guard in place")

    def cluster(self, event: str) -> list[NodeInfo]:
        running = [o for o in self.containers(event) if o.status == "running"]
        return [
            NodeInfo(
                "fake",
                "engine",
                "ready",
                "active",
                "127.0.0.1",
                {},
                8 * 2**30,
                len(running) * 256 * 2**20,
                len(running),
            )
        ]
