"""What the reconciler asks of an engine, and the names and labels of everything it creates.

Every object carries ``range.managed=1``, ``range.event``, ``range.team`` and, for instances,
``range.challenge``, ``range.instance`` and ``range.service``. A label query is how the reconciler
sees the world; the names (``rc-<event>-t<team>-<challenge>-<service>``, networks
``rc-<event>-t<team>``) are for humans and are derived, stable and short.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Protocol

from range_control.specs.environment import ServiceSpec

MANAGED = "range.managed"
EVENT = "range.event"
TEAM = "range.team"
CHALLENGE = "range.challenge"
INSTANCE = "range.instance"
SERVICE = "range.service"
ROLE = "range.role"  # service | jumpbox | flag-volume | team-network | edge-network
GENERATION = "range.generation"
PORT = "range.port"


def network_name(event: str, team_id: int) -> str:
    return f"rc-{event}-t{team_id}"


def container_name(event: str, team_id: int, challenge: str, service: str) -> str:
    return f"rc-{event}-t{team_id}-{challenge}-{service}"


def jumpbox_name(event: str, team_id: int) -> str:
    return f"rc-{event}-t{team_id}-jumpbox"


def edge_network_name(event: str) -> str:
    return f"rc-{event}-edge"


@dataclass(frozen=True)
class ServiceRun:
    spec: ServiceSpec
    image: str


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


@dataclass(frozen=True)
class DesiredJumpbox:
    event: str
    team_id: int
    port: int
    password: str

    def labels(self) -> dict[str, str]:
        return {MANAGED: "1", EVENT: self.event, TEAM: str(self.team_id), ROLE: "jumpbox",
                PORT: str(self.port)}  # fmt: skip


@dataclass
class Observed:
    """One managed container as the engine reports it."""

    id: str
    name: str
    labels: dict[str, str]
    status: str  # created | running | exited | dead | ...
    health: str | None = None
    exit_code: int | None = None
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def instance_id(self) -> int | None:
        value = self.labels.get(INSTANCE)
        return int(value) if value and value.isdigit() else None


class Backend(Protocol):
    def containers(self, event: str) -> list[Observed]: ...
    def networks(self, event: str) -> dict[str, str]: ...  # name -> id
    def volumes(self, event: str) -> list[str]: ...
    def ensure_network(self, event: str, team_id: int) -> str: ...
    def ensure_image(self, run: ServiceRun, challenge: str, source_dir: str | None) -> None: ...
    def create_service(self, inst: DesiredInstance, run: ServiceRun) -> Observed: ...
    def create_jumpbox(self, jb: DesiredJumpbox) -> Observed: ...
    def restart(self, obs: Observed) -> None: ...
    def remove_container(self, obs: Observed) -> None: ...
    def remove_network(self, name: str) -> None: ...
    def remove_volume(self, name: str) -> None: ...
