"""The Docker Swarm backend: the same range on a swarm of machines, through the same protocol.

What each object becomes (names and labels as on one engine, so the reconciler sees the same):

* a team network: an ``internal`` overlay, not attachable: no route out, none to other teams'
  overlays, none to any node; a task finds the team's others by DNS name (``dnsrr``: this
  product uses no virtual IPs, which need IPVS);
* a challenge service: one Swarm service (replicated, 1 replica, restarted on failure), its
  image from the range's private registry by digest, the team's flag as a Swarm secret (0400,
  removed with the service) or ``RANGE_FLAG``; every hardening option of the single engine
  that the service API has: capabilities dropped to the spec's allowlist, read-only root with
  its tmpfs, memory, CPU and pids limits, an init, a capped log. ``no-new-privileges`` is not in
  the service API of Docker 20.10 (API 1.41): every image the range pushes is rebuilt with its
  setuid and setgid bits removed instead (:meth:`SwarmBackend._harden`);
* a jumpbox or a published service: the same, plus an overlay of the team's own (``-edge``),
  not internal, which gives the task the node's ``docker_gwbridge`` so that its port can be
  published in ``host`` mode on the node that runs it; the guard below keeps that bridge from
  reaching the node, the other nodes or the outside;
* the host guard: a global service on every node's host network (``NET_ADMIN``), keeping the
  packet-filter rules of ``guard/guard.sh`` in place; its healthcheck is the rules. Nodes
  where it is healthy carry the label ``range.guarded=yes``, and challenge tasks are placed
  only there (and, when any node is labelled ``range.role=challenges``, only on those),
  spread across nodes;
* the game router (attack-defence, ``swarm.game``): one service on the manager the range talks
  to, on every team's overlay and every defence overlay, its packet filter written by an exec
  there as on one engine.

Nothing here reads the database; placement (node, address) comes back in ``Observed``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from range_control.orchestrator.docker.engine import engine_client
from range_control.orchestrator.swarm.checks import SwarmChecks
from range_control.orchestrator.swarm.game import SwarmGame
from range_control.orchestrator.swarm.guard import SwarmGuard
from range_control.orchestrator.swarm.jobs import SwarmJobs
from range_control.orchestrator.swarm.registry import SwarmImages
from range_control.orchestrator.swarm.services import SwarmServices
from range_control.orchestrator.types import BackendError

if TYPE_CHECKING:
    from range_control.core.settings import Settings


class SwarmBackend(SwarmGuard, SwarmImages, SwarmServices, SwarmGame, SwarmJobs, SwarmChecks):
    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        client: Any | None = None,
        *,
        publish_ip: str | None = None,
        health_interval: float | None = None,
    ) -> SwarmBackend:
        return cls(
            client or engine_client(),
            registry=settings.registry or "",
            health_interval=health_interval or settings.health_interval,
        )

    def __init__(self, client: Any, *, registry: str, health_interval: float = 10.0) -> None:
        self.client = client
        self.api = client.api
        swarm = self.api.info().get("Swarm") or {}
        where = self.api.base_url
        if swarm.get("LocalNodeState") != "active" or not swarm.get("ControlAvailable"):
            raise BackendError(
                f"RANGE_ENGINE=swarm, but the engine at {where} is not a Swarm manager: run "
                "`docker swarm init --advertise-addr <its address>` there (or point DOCKER_HOST "
                "at a manager of your swarm)"
            )
        if not registry:
            raise BackendError(
                "RANGE_ENGINE=swarm needs RANGE_REGISTRY (host:port of the range's registry, "
                "which every node pulls from; infra/registry.sh starts one on the manager)"
            )
        self.registry = registry
        self.health_interval_ns = int(health_interval * 1e9)
        self._published = {}
        self._synced = {}
        self._guard_checked = 0.0
