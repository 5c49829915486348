"""The game network on a Swarm (``orchestrator.game``): the router is a service of one task on
the manager the range talks to, so that its packet filter is written the way it is on one engine
(an exec in its container, atomic, only when it changes). Overlays carry the rest: the router
sits on every team's overlay (alias ``GAME_ALIAS``: a jumpbox on any node routes the game subnet
to it) and on every target's defence overlay. A service's networks cannot change under its task:
when the set changes (a team, a defended service more) the router is made again, closed until
its rules are in (its entrypoint drops everything first)."""

from __future__ import annotations

import contextlib
import ipaddress
import time
from typing import Any

import docker
import docker.errors
from docker.types import EndpointSpec, Placement, RestartPolicy, ServiceMode

from range_control.orchestrator import hardening
from range_control.orchestrator.docker.game import ROUTER_SYSCTLS, GameRouting
from range_control.orchestrator.game import RoutedTarget
from range_control.orchestrator.swarm.common import (
    ENDED,
    RUNNING,
    SwarmBase,
    _gone,
    service_name,
    task_template,
)
from range_control.orchestrator.types import (
    EVENT,
    GAME_ALIAS,
    MANAGED,
    ROLE,
    SPEC,
    BackendError,
    DesiredGame,
    container_name,
    defence_network_name,
    digest,
    game_router_name,
)

ROUTER_START_SECONDS = 30.0  # a new router's task to run on the manager, within one pass


class SwarmGame(SwarmBase, GameRouting):
    def _game_router(
        self, game: DesiredGame, wanted: list[str], teams: set[str]
    ) -> tuple[str, dict[str, str]]:
        name = service_name(game_router_name(game.event))
        shape = digest(*wanted, *sorted(teams))
        found = next(
            (s for s in self.api.services(filters={"name": name}) if s["Spec"]["Name"] == name),
            None,
        )
        if found is not None and (found["Spec"].get("Labels") or {}).get(SPEC) != shape:
            with contextlib.suppress(docker.errors.NotFound):
                self.api.remove_service(found["ID"])
            found = None
        if found is None:
            found = {"ID": self._make_router(game, name, wanted, teams, shape)}
        task = self._router_task(found["ID"])
        container = (task["Status"].get("ContainerStatus") or {}).get("ContainerID")
        if not container:
            raise BackendError("game router: its task runs but has no container yet")
        subnets = {}
        for att in task.get("NetworksAttachments") or []:
            net = ((att.get("Network") or {}).get("Spec") or {}).get("Name")
            if net and att.get("Addresses"):
                subnets[net] = str(ipaddress.ip_interface(att["Addresses"][0]).network)
        return container, subnets

    def _make_router(
        self, game: DesiredGame, name: str, wanted: list[str], teams: set[str], shape: str
    ) -> str:
        """The router's service, on the manager this range talks to (its container is reached
        through this engine), on the ``wanted`` networks."""
        here = (self.api.info().get("Swarm") or {}).get("NodeID")
        labels = {**game.labels(), SPEC: shape}
        template = task_template(
            self._publish(self.game_image()),
            hardening.GAME_ROUTER,
            mounts=[],
            labels=labels,
            hostname="range-game",
            sysctls=ROUTER_SYSCTLS,
            restart_policy=RestartPolicy("any", delay=2_000_000_000),
            placement=Placement(constraints=[f"node.id=={here}"]),
            networks=[
                {"Target": n, "Aliases": [GAME_ALIAS]} if n in teams else {"Target": n}
                for n in wanted
            ],
        )
        created = self.api.create_service(
            template,
            name=name,
            labels=labels,
            mode=ServiceMode("replicated", replicas=1),
            endpoint_spec=EndpointSpec(mode="dnsrr"),
        )
        return created["ID"]

    def _router_task(self, sid: str) -> dict[str, Any]:
        """The router's running task, waited for a while (a new one is placed and started)."""
        deadline = time.monotonic() + ROUTER_START_SECONDS
        why = "not placed yet"
        while True:
            tasks = self.api.tasks(filters={"service": sid, "desired-state": RUNNING})
            for t in tasks:
                if t["Status"]["State"] == RUNNING:
                    return t
                why = t["Status"].get("Err") or t["Status"]["State"]
            ended = [t for t in tasks if t["Status"]["State"] in ENDED]
            if ended or time.monotonic() > deadline:
                raise BackendError(
                    f"game router: not running on this manager ({why}): the router runs on "
                    "the manager the range talks to, which must take tasks (not drained)"
                )
            time.sleep(0.5)

    def _routed(self, game: DesiredGame) -> list[RoutedTarget]:
        services = self.api.services(
            filters={"label": [f"{MANAGED}=1", f"{EVENT}={game.event}", f"{ROLE}=service"]}
        )
        if not services:
            return []
        names = {s["ID"]: s["Spec"]["Name"] for s in services}
        addresses: dict[tuple[str, str], str] = {}
        try:
            tasks = self.api.tasks(filters={"service": list(names), "desired-state": RUNNING})
        except docker.errors.APIError as exc:
            if _gone(exc):
                return []
            raise
        for t in tasks:
            if t["Status"]["State"] != RUNNING:
                continue
            for att in t.get("NetworksAttachments") or []:
                net = ((att.get("Network") or {}).get("Spec") or {}).get("Name")
                if net and att.get("Addresses"):
                    ip = str(ipaddress.ip_interface(att["Addresses"][0]).ip)
                    addresses[(names[t["ServiceID"]], net)] = ip
        out = []
        for t in game.targets:
            svc = service_name(container_name(game.event, t.team_id, t.challenge, t.service))
            real = addresses.get((svc, defence_network_name(game.event, t.team_id)))
            if real:
                out.append(RoutedTarget(t.address, real, t.ports))
        return out
