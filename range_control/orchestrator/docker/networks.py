"""Networks on one engine: each team's internal bridge and the edge network of entry points and
published services, every one of them guarded."""

from __future__ import annotations

import contextlib
import time

import docker
import docker.errors

from range_control.orchestrator.docker.engine import (
    GUARD_RECHECK_SECONDS,
    EngineBase,
)
from range_control.orchestrator.docker.guard import (
    bridge_name,
    ensure_host_guard,
)
from range_control.orchestrator.types import (
    EVENT,
    MANAGED,
    ROLE,
    TEAM,
    defence_network_name,
    edge_network_name,
    network_name,
)


class DockerNetworks(EngineBase):
    # --- creating -----------------------------------------------------------------------
    def ensure_host_guard(self) -> None:
        """The rules that keep our bridges off the host and the outside (re-checked every
        half minute: they do not survive a reboot or a firewall reload)."""
        with self._lock("host-guard"):
            if time.monotonic() - self._guarded_at >= GUARD_RECHECK_SECONDS:
                ensure_host_guard()
                self._guarded_at = time.monotonic()

    def _bridge(self, name: str, *, internal: bool, icc: bool, labels: dict[str, str]) -> str:
        """Create (once) a bridge of ours: rcb-named, masquerading off, host guard in place."""
        self.ensure_host_guard()
        with self._lock(f"net:{name}"):
            for n in self.api.networks(names=[name], filters={"label": f"{MANAGED}=1"}):
                if n["Name"] == name:
                    return n["Id"]
            created = self.api.create_network(
                name,
                driver="bridge",
                internal=internal,
                labels={MANAGED: "1", **labels},
                options={
                    "com.docker.network.bridge.name": bridge_name(name),
                    "com.docker.network.bridge.enable_ip_masquerade": "false",
                    "com.docker.network.bridge.enable_icc": "true" if icc else "false",
                },
                check_duplicate=True,
            )
            return created["Id"]

    def team_networks(self, event: str, team_id: int) -> list[str]:
        return [network_name(event, team_id)]

    def shared_networks(self, event: str) -> list[str]:
        """The edge network of jumpboxes and published services (one bridge for all teams:
        no traffic between its containers, see ensure_edge_network)."""
        return [edge_network_name(event)]

    def ensure_network(self, event: str, team_id: int) -> str:
        """The team's network: internal, the team's containers see each other by name."""
        labels = {EVENT: event, TEAM: str(team_id), ROLE: "team-network"}
        return self._bridge(network_name(event, team_id), internal=True, icc=True, labels=labels)

    def ensure_defence_network(self, event: str, team_id: int) -> str:
        """Where the checkers reach the team's defended services: internal, the team's
        defended services and the check jobs only (not its jumpbox, not another team)."""
        labels = {EVENT: event, TEAM: str(team_id), ROLE: "defence-network"}
        return self._bridge(
            defence_network_name(event, team_id), internal=True, icc=True, labels=labels
        )

    def ensure_edge_network(self, event: str) -> str:
        """Where jumpboxes and published services get their host port. Not internal (that
        breaks publishing, moby#36174), so: no masquerading, no traffic between its
        containers, and the host guard drops anything they start towards the host or out."""
        labels = {EVENT: event, ROLE: "edge-network"}
        return self._bridge(edge_network_name(event), internal=False, icc=False, labels=labels)

    def remove_network(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_network(name)
