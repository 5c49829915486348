"""The Docker engine backend: team networks and hardened containers on one engine.

Isolation: one ``internal`` bridge network per team (no route out, masquerading off),
containers join only their team's network and are reachable there by service name; the host
guard (``guard``) keeps every bridge of the range off the host and the outside. Every container
is started under the isolation contract of ``orchestrator.hardening``.

The backend is its parts, one per protocol of ``orchestrator.protocols``: networks, services,
the teams' entry points (``access``), the game network's router (``game``), images and jobs,
the checkers of defended services (``checks``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from range_control.orchestrator.docker.access import DockerAccess
from range_control.orchestrator.docker.checks import DockerChecks
from range_control.orchestrator.docker.engine import GUARD_RECHECK_SECONDS, engine_client
from range_control.orchestrator.docker.game import DockerGame
from range_control.orchestrator.docker.jobs import DockerJobs
from range_control.orchestrator.docker.networks import DockerNetworks
from range_control.orchestrator.docker.services import DockerServices

if TYPE_CHECKING:
    from range_control.core.settings import Settings


class DockerBackend(
    DockerNetworks, DockerServices, DockerAccess, DockerGame, DockerJobs, DockerChecks
):
    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        client: Any | None = None,
        *,
        publish_ip: str | None = None,
        health_interval: float | None = None,
    ) -> DockerBackend:
        """The backend an event runs on: the engine that answers, the settings' addresses."""
        return cls(
            client or engine_client(),
            publish_ip=publish_ip or settings.publish_ip,
            health_interval=health_interval or settings.health_interval,
        )

    def __init__(
        self,
        client: Any | None = None,
        *,
        publish_ip: str = "0.0.0.0",  # noqa: S104
        health_interval: float = 10.0,
    ) -> None:
        self.client = client or engine_client()
        self.publish_ip = publish_ip
        # Each healthcheck is an exec in the container: at 2 s, 200 instances cost the engine
        # 100 execs/s and a 2-core host never sees them all healthy. Events use 10 s; the
        # live check (a handful of containers) polls every second.
        self.health_interval_ns = int(health_interval * 1e9)
        self.api = self.client.api
        self._guarded_at = -GUARD_RECHECK_SECONDS
        self._synced = {}
