"""What the range asks of an engine, as small protocols: a use case or the reconciler types
what it needs with the one or two it uses, and a new kind of engine object (a checker, a game
network) is a protocol of its own, not a 33rd method every engine must grow.

``Backend`` is all of them: what the Docker, Swarm and in-memory engines implement.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from range_control.orchestrator.types import (
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
)


class World(Protocol):
    """What exists of an event on the engine, by its labels."""

    def containers(self, event: str) -> list[Observed]: ...
    def networks(self, event: str) -> dict[str, str]: ...  # name -> id
    def volumes(self, event: str) -> list[str]: ...


class Networks(Protocol):
    """Each team's own networks and those its teams share (both may be several or none), and
    the host guard that keeps them off the host."""

    def team_networks(self, event: str, team_id: int) -> list[str]: ...
    def shared_networks(self, event: str) -> list[str]: ...
    def ensure_network(self, event: str, team_id: int) -> str: ...  # every one of the team's
    def ensure_edge_network(self, event: str) -> str: ...  # the shared ones
    def ensure_defence_network(self, event: str, team_id: int) -> str: ...  # checkers reach
    def ensure_host_guard(self) -> None: ...
    def remove_network(self, name: str) -> None: ...


class Services(Protocol):
    """A team instance's service containers: made, restarted, removed, explained."""

    def ensure_image(self, run: ServiceRun, challenge: str, source_dir: str | None) -> None: ...
    def create_service(self, inst: DesiredInstance, run: ServiceRun) -> Observed: ...
    def restart(self, obs: Observed) -> None: ...
    def remove_container(self, obs: Observed) -> None: ...
    def remove_volume(self, name: str) -> None: ...
    def sweep(self, event: str) -> None: ...  # everything of the event, whatever is desired
    def why_down(self, obs: Observed, lines: int) -> str: ...  # exit code and log tail


class Access(Protocol):
    """The teams' entry points: jumpboxes and WireGuard gateways. ``sync_access`` brings a
    running one's keys or peers to what is desired in place; False when this engine cannot
    (the reconciler then replaces it). ``wireguard_problem``: why gateways cannot run here.
    ``session_log``: the ``range-command`` lines a jumpbox printed from ``since`` (Unix
    seconds) on: the red cell's sessions."""

    def create_jumpbox(self, jb: DesiredJumpbox) -> Observed: ...
    def create_gateway(self, gw: DesiredGateway) -> Observed: ...
    def sync_access(self, obs: Observed, want: DesiredJumpbox | DesiredGateway) -> bool: ...
    def wireguard_problem(self) -> str | None: ...
    def address_pools(self) -> list[str]: ...  # what a member's tunnel routes
    def gateway_peers(self, obs: Observed) -> list[PeerSeen]: ...
    def session_log(self, obs: Observed, since: int) -> list[str]: ...  # the red jumpbox's


class Game(Protocol):
    """The game network (``orchestrator.game``): its router made, joined to the networks
    ``game`` names and filtering as it says (removed like any container when no game is
    desired)."""

    def ensure_game(self, game: DesiredGame) -> None: ...


class Images(Protocol):
    """Images, from the range's own base (no registry is pulled)."""

    def ensure_base_image(
        self, progress: Callable[[str], None], *, rebuild: bool = False, tag: str | None = None
    ) -> bool: ...  # True when built now
    def jumpbox_image(self, packages: tuple[str, ...] = ()) -> str: ...
    def wireguard_image(self) -> str: ...
    def image_present(self, ref: str) -> bool: ...
    def image_ref(self, tag: str) -> str: ...  # what tasks run for a local image (by digest)
    def build_image(self, context: Path, tag: str, label: str) -> None: ...


class Jobs(Protocol):
    """One-shot containers (a solver of the live check): run to the end or killed."""

    def run_job(self, job: Job, cancel: Cancel) -> JobResult: ...


class Checks(Protocol):
    """The checkers of defended services: one job per service and tick on every team's defence
    network, its answers as lines; a job started by an earlier process is found again."""

    def run_checks(
        self, batch: CheckBatch, cancel: Cancel, on_line: Callable[[str], None]
    ) -> int | None: ...
    def check_jobs(self, event: str) -> list[Observed]: ...
    def wrapped(self, kind: str, source: str, challenge: str) -> str: ...  # built once


class Facts(Protocol):
    """The operator's view: machines, readiness, what ``rangectl doctor`` asks."""

    def cluster(self, event: str) -> list[NodeInfo]: ...
    def prepare(self, progress: Callable[[str], None]) -> None: ...  # ready to place tasks
    def facts(self) -> EngineFacts: ...  # version, clock, capacity, guard


class Converge(World, Networks, Services, Access, Game, Protocol):
    """What the reconciler's engine steps use."""


class Backend(Converge, Images, Jobs, Checks, Facts, Protocol):
    """Every protocol: an engine the range runs on."""
