"""What the range asks engines for and gets back (desired instances and entry points, what is
observed, jobs, facts), and the names and labels of everything it creates.

Every object carries ``range.managed=1``, ``range.event``, ``range.team`` and, for instances,
``range.challenge``, ``range.instance`` and ``range.service``. A label query is how the reconciler
sees the world; the names (``rc-<event>-t<team>-<challenge>-<service>``, networks
``rc-<event>-t<team>``) are for humans and are derived, stable and short.

The engines implement the small protocols of :mod:`protocols` over these: :mod:`docker` (one
Docker engine), :mod:`swarm` (a Docker Swarm through its manager, ``RANGE_ENGINE=swarm``) and
:mod:`fake` (in memory, for unit tests of the convergence rules).
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

from range_control.specs.environment import ServiceSpec

MANAGED = "range.managed"
EVENT = "range.event"
TEAM = "range.team"
CHALLENGE = "range.challenge"
INSTANCE = "range.instance"
SERVICE = "range.service"
ROLE = "range.role"  # service | jumpbox | gateway | game-router | flag-volume | team-network | ...
GENERATION = "range.generation"
PORT = "range.port"
# A digest of what a jumpbox or gateway cannot change while it runs (its password, its image's
# packages, its key): a change replaces it. What it can change in place (SSH keys, WireGuard
# peers) is synced on every pass instead, without closing anyone's session.
SPEC = "range.spec"
ACCESS = "range.access"  # where access is given at creation only (a Swarm task): its digest
TICK = "range.tick"  # a check job's tick


MAX_NAME = 63  # a DNS label (and a Swarm service name) is at most this long


def dns_name(name: str) -> str:
    """``name`` as a DNS label: itself, or cut to 63 characters with a hash when longer."""
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9].rstrip('-')}-{digest}"


# The red cell's entry point where a team's would be (its jumpbox, its network): teams' ids
# start at 1 and the reconciler keeps 0 for the shared networks.
RED_CELL = -1


def _owner(team_id: int) -> str:
    """Whose objects a name is of: ``t<team id>``, or ``red`` for the red cell's."""
    return "red" if team_id == RED_CELL else f"t{team_id}"


def network_name(event: str, team_id: int) -> str:
    return f"rc-{event}-{_owner(team_id)}"


def container_name(event: str, team_id: int, challenge: str, service: str) -> str:
    return f"rc-{event}-{_owner(team_id)}-{challenge}-{service}"


def jumpbox_name(event: str, team_id: int) -> str:
    return f"rc-{event}-{_owner(team_id)}-jumpbox"


def gateway_name(event: str, team_id: int) -> str:
    return f"rc-{event}-{_owner(team_id)}-wireguard"


def edge_network_name(event: str) -> str:
    return f"rc-{event}-edge"


def flag_volume_name(event: str, team_id: int, challenge: str, service: str) -> str:
    return container_name(event, team_id, challenge, service) + "-flag"


def defence_network_name(event: str, team_id: int) -> str:
    """Where the checkers reach a team's defended services: that team's services and the
    checkers, nothing else (not its jumpbox, not another team)."""
    return f"rc-{event}-t{team_id}-def"


def game_router_name(event: str) -> str:
    """The router of the event's game network (``orchestrator.game``)."""
    return f"rc-{event}-game"


# The game router's name on every team network: the entry points route the game's addresses
# through whatever address it answers to there.
GAME_ALIAS = "range-game"


def data_volume_name(
    event: str, team_id: int, challenge: str, service: str, index: int, generation: int
) -> str:
    """A defended service's data (kept across restarts; a reset, a new generation, starts
    afresh)."""
    return container_name(event, team_id, challenge, service) + f"-data{index}-g{generation}"


def check_job_name(event: str, challenge: str, tick: int | str) -> str:
    return f"rc-{event}-check-{challenge}-{tick}"


def checker_state_volume(event: str, challenge: str) -> str:
    """What a defended service's checker keeps from one tick to the next (its own state)."""
    return f"rc-{event}-checker-{challenge}-state"


class BackendError(RuntimeError):
    """An engine refused or failed an operation; the message names what and for whom."""


@dataclass(frozen=True)
class Defended:
    """What a team's copy of a defended service has beyond an instance's service: a shell for
    the team (sshd in the container, on port ``SHELL_PORT``, the team's password), its data in
    volumes, a writable root, and (the ``target``) a place on the team's defence network where
    the checkers reach it. It runs from a wrapper of its image (``contexts/defended``)."""

    target: bool
    shell: bool
    data: tuple[str, ...] = ()
    password: str = ""


SHELL_PORT = 2222


@dataclass(frozen=True)
class ServiceRun:
    spec: ServiceSpec
    image: str
    defended: Defended | None = None


@dataclass(frozen=True)
class DesiredInstance:
    event: str
    team_id: int
    instance_id: int
    challenge: str
    flag: str
    services: tuple[ServiceRun, ...]
    generation: int = 0
    published: tuple[tuple[str, int, int], ...] = ()  # (service, container port, host port)
    source_dir: str | None = None  # where the build contexts of the services are

    def host_ports(self, service: str) -> dict[int, int]:
        return {cport: hport for svc, cport, hport in self.published if svc == service}

    def labels(self, service: str | None = None) -> dict[str, str]:
        out = {
            MANAGED: "1",
            EVENT: self.event,
            TEAM: str(self.team_id),
            CHALLENGE: self.challenge,
            INSTANCE: str(self.instance_id),
            GENERATION: str(self.generation),
        }
        if service is not None:
            out[SERVICE] = service
        return out

    def flag_volumes(self) -> set[str]:
        return {
            flag_volume_name(self.event, self.team_id, self.challenge, r.spec.name)
            for r in self.services
        }

    def data_volumes(self, run: ServiceRun) -> list[tuple[str, str]]:
        """(volume, path) of a defended service's data, for this generation."""
        if run.defended is None:
            return []
        return [
            (
                data_volume_name(
                    self.event, self.team_id, self.challenge, run.spec.name, i, self.generation
                ),
                path,
            )
            for i, path in enumerate(run.defended.data)
        ]

    def volumes(self) -> set[str]:
        """Every volume this instance keeps: flag volumes and data volumes."""
        data = {v for r in self.services for v, _p in self.data_volumes(r)}
        return self.flag_volumes() | data

    @property
    def defended(self) -> bool:
        return any(r.defended is not None for r in self.services)


def digest(*parts: object) -> str:
    """A short, stable digest of ``parts`` (for labels and for what was synced last)."""
    return hashlib.sha256(repr(parts).encode()).hexdigest()[:16]


@dataclass(frozen=True)
class DesiredJumpbox:
    event: str
    team_id: int
    port: int
    password: str
    keys: tuple[str, ...] = ()  # members' SSH public keys (authorized_keys lines)
    packages: tuple[str, ...] = ()  # the event's extra Debian packages, sorted
    game_subnet: str = ""  # the game network's addresses, routed through the game router
    # The red cell's jumpbox (team RED_CELL): one login per person (user name, password), every
    # command of their sessions logged (``range-command`` lines of the jumpbox's output).
    people: tuple[tuple[str, str], ...] = ()

    def labels(self) -> dict[str, str]:
        return {
            MANAGED: "1",
            EVENT: self.event,
            TEAM: str(self.team_id),
            ROLE: "jumpbox",
            PORT: str(self.port),
            SPEC: digest(self.password, self.packages, self.game_subnet, self.people),
        }

    def environment(self) -> dict[str, str]:
        """What its entrypoint reads (both engines)."""
        env = {
            "RANGE_JUMPBOX_PASSWORD": self.password,
            "RANGE_JUMPBOX_KEYS": "\n".join(self.keys),
            "RANGE_GAME_SUBNET": self.game_subnet,
        }
        if self.people:
            env["RANGE_JUMPBOX_PEOPLE"] = "\n".join(f"{u}:{p}" for u, p in self.people)
        return env

    def access(self) -> str:
        """What :meth:`Backend.sync_access` keeps current: the keys."""
        return digest(self.keys)


@dataclass(frozen=True)
class DesiredGateway:
    """A team's WireGuard gateway: on the edge network (its UDP port) and the team's own."""

    event: str
    team_id: int
    port: int
    private_key: str
    address: str  # the gateway's tunnel address with its prefix (100.96.0.1/24)
    peers: tuple[tuple[str, str], ...] = ()  # (public key, tunnel address), sorted
    game_subnet: str = ""  # the game network's addresses, routed through the game router

    def labels(self) -> dict[str, str]:
        return {
            MANAGED: "1",
            EVENT: self.event,
            TEAM: str(self.team_id),
            ROLE: "gateway",
            PORT: str(self.port),
            SPEC: digest(self.private_key, self.address, self.game_subnet),
        }

    def access(self) -> str:
        return digest(self.peers)


@dataclass(frozen=True)
class GameTarget:
    """A team's defended service on the game network: the address every attacker uses
    (``<game subnet>.<team>.<n>``) and the ports it may reach there."""

    team_id: int
    challenge: str
    service: str  # the target service of the challenge's environment
    address: str
    ports: tuple[int, ...]


@dataclass(frozen=True)
class DesiredGame:
    """The event's game network (``orchestrator.game``): a router on every team network of an
    entry point (``teams``) and every defence network of a target, forwarding from the entry
    points of the ``attackers`` to the targets' ports and nothing else. A team of ``teams``
    that is not an attacker (the game closed, the team cut off, a defence phase) gets nothing
    through it, not even a reply of a connection opened before."""

    event: str
    subnet: str  # the game addresses (10.60.0.0/16)
    targets: tuple[GameTarget, ...]
    teams: tuple[int, ...]  # every team with an entry point, sorted
    attackers: tuple[int, ...]  # those whose entry points reach the targets now, sorted

    def labels(self) -> dict[str, str]:
        return {MANAGED: "1", EVENT: self.event, ROLE: "game-router"}


@dataclass(frozen=True)
class PeerSeen:
    """A WireGuard peer as its gateway reports it (``wg show dump``)."""

    public_key: str
    endpoint: str | None
    latest_handshake: int  # Unix seconds, 0: never
    received: int
    sent: int


@dataclass(frozen=True)
class Observed:
    """One managed container as the engine reports it."""

    id: str
    name: str
    labels: dict[str, str]
    status: str  # created | starting | running | exited | dead | ...
    health: str | None = None
    node: str | None = None  # the machine it runs on (a Swarm node; None: the one engine)
    address: str | None = None  # where its published ports are reachable (None: the default)
    error: str | None = None  # why it stopped, when the engine says

    @property
    def instance_id(self) -> int | None:
        value = self.labels.get(INSTANCE)
        return int(value) if value and value.isascii() and value.isdigit() else None

    @property
    def team_id(self) -> int | None:
        """The team it is of (``RED_CELL``: the red cell's), None when unlabelled."""
        value = self.labels.get(TEAM)
        if value == str(RED_CELL):
            return RED_CELL
        return int(value) if value and value.isascii() and value.isdigit() else None

    @property
    def role(self) -> str | None:
        return self.labels.get(ROLE)

    @property
    def service(self) -> str | None:
        return self.labels.get(SERVICE)


@dataclass(frozen=True)
class Job:
    """A one-shot container (the live check's solver): on ``network`` (None: no network at
    all), hardened like a service, killed after ``timeout`` seconds."""

    event: str
    name: str
    image: str
    command: tuple[str, ...]
    network: str | None
    timeout: float


@dataclass(frozen=True)
class CheckTarget:
    """One team's chain in a check batch: where the checker reaches its service, when the
    chain starts (seconds after the batch) and its actions (``services.defence.chains``)."""

    team_id: int
    host: str
    start_after: float
    actions: tuple[dict[str, object], ...]


@dataclass(frozen=True)
class CheckBatch:
    """One defended service's checks of one tick (or one team's unscored check): a job of the
    checker's image on every team's defence network, hardened (``hardening.CHECKER``), that
    runs each team's chain and prints one JSON line per answer (``contexts/checker``)."""

    event: str
    name: str
    challenge: str
    tick: int
    image: str
    contract: str  # exit-code | http
    command: tuple[str, ...]  # the checker executable, or how to start the API server ()
    port: int
    timeout: float  # per action, seconds
    deadline: float  # seconds after the start: nothing runs past it
    networks: tuple[str, ...]
    targets: tuple[CheckTarget, ...]
    memory: int  # of one check; the job has this times ``parallel``
    cpus: float
    state_volume: str | None = None  # the checker's own state, kept across ticks
    tags: tuple[str, ...] = ()  # ForcAD's checker tags (pfr)
    parallel: int = 8  # actions at once
    context: str | None = None  # the checker's build directory: built there if missing

    @property
    def job_memory(self) -> int:
        return self.memory * max(1, min(self.parallel, len(self.targets)))

    def job_cpus(self, most: float) -> float:
        """The checker's CPU times the checks at once, at most ``most`` (the machine's)."""
        return min(self.cpus * max(1, min(self.parallel, len(self.targets))), most)

    def labels(self) -> dict[str, str]:
        return {
            MANAGED: "1",
            EVENT: self.event,
            ROLE: "checker",
            CHALLENGE: self.challenge,
            TICK: str(self.tick),
        }


@dataclass(frozen=True)
class JobResult:
    exit_code: int
    stdout: str
    stderr: str
    timed_out: bool = False


@dataclass(frozen=True)
class NodeInfo:
    """One machine of the engine, as the operator sees it (``rangectl cluster status``)."""

    name: str
    role: str  # manager | worker | engine
    state: str  # ready | down | ...
    availability: str  # active | drain | pause
    address: str
    labels: dict[str, str]
    memory_bytes: int
    reserved_bytes: int  # memory limits of the range's tasks placed there
    instances: int  # the range's tasks running there


@dataclass(frozen=True)
class EngineFacts:
    """What ``rangectl doctor`` asks of an engine."""

    kind: str  # docker | swarm
    version: str
    system_time: str | None  # the engine's clock (ISO 8601), a reference for ours
    memory_bytes: int  # of every node
    root_free_bytes: int | None  # free space where the engine keeps images (its own host)
    networks_free: int | None  # team networks the address pools still hold (None: unbounded)
    guard_missing: tuple[str, ...]  # host guard rules not in place ("" when all are)


@dataclass
class Cancel:
    """Set from another thread (Ctrl-C) to stop a wait early."""

    event: threading.Event = field(default_factory=threading.Event)

    def set(self) -> None:
        self.event.set()

    def is_set(self) -> bool:
        return self.event.is_set()
