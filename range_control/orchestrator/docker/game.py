"""The game network on an engine (``orchestrator.game``): the event's router, on the team
networks of the entry points and the defence networks of the targets, its packet filter written
in place (``iptables-restore``, atomic) whenever what it should let through changes.

:class:`GameRouting` is what both engines share (the networks it must be on, the rules, their
application by an exec in the router); each engine makes the router its own way and says where
the targets are (:class:`DockerGame` here, ``swarm.game.SwarmGame``)."""

from __future__ import annotations

import ipaddress

import docker
import docker.errors

from range_control.orchestrator import hardening
from range_control.orchestrator.docker.engine import EngineBase
from range_control.orchestrator.docker.guard import ensure_game_guard
from range_control.orchestrator.game import RoutedTarget, router_rules
from range_control.orchestrator.types import (
    EVENT,
    GAME_ALIAS,
    MANAGED,
    ROLE,
    BackendError,
    DesiredGame,
    container_name,
    defence_network_name,
    digest,
    game_router_name,
    network_name,
)

# The router forwards, in its own namespace only, and drops what comes back on another way.
ROUTER_SYSCTLS = {"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "1"}


class GameRouting(EngineBase):
    def game_image(self) -> str:
        return self._own_image("game")

    def ensure_game(self, game: DesiredGame) -> None:
        """The router exists, runs, is on exactly the networks it should be and filters as
        ``game`` says (the rules follow the targets' addresses: a reset service has a new
        one)."""
        teams = {network_name(game.event, t): t for t in game.teams}
        defence = {defence_network_name(game.event, t.team_id) for t in game.targets}
        wanted = [*teams, *sorted(defence)]
        if not wanted:
            return
        try:
            router, subnets = self._game_router(game, wanted, set(teams))
            targets = self._routed(game)
        except docker.errors.APIError as exc:
            raise BackendError(f"game router: {exc.explanation or exc}") from None
        attackers = set(game.attackers)
        rules = router_rules(
            attackers=[subnets[n] for n, t in teams.items() if t in attackers and n in subnets],
            others=[subnets[n] for n, t in teams.items() if t not in attackers and n in subnets],
            targets=targets,
            defence=sorted(subnets[n] for n in defence if n in subnets),
        )
        self._apply(router, rules)

    def _game_router(
        self, game: DesiredGame, wanted: list[str], teams: set[str]
    ) -> tuple[str, dict[str, str]]:
        """The running router on exactly the ``wanted`` networks (its alias ``GAME_ALIAS`` on
        the ``teams`` ones): the id of its container on this engine, and the subnet of each
        network it is on (by network name)."""
        raise NotImplementedError

    def _routed(self, game: DesiredGame) -> list[RoutedTarget]:
        """Each running target with its address on its defence network."""
        raise NotImplementedError

    def _apply(self, router: str, rules: str) -> None:
        """The rules into the router, once per change (remembered per container)."""
        want = digest(rules)
        if self._synced.get(router) == want:
            return
        code, out = self._exec(router, ["/usr/local/sbin/range-game-rules", rules], "game router")
        if code != 0:
            raise BackendError(f"game router: rules not applied ({out.strip()[-300:]})")
        self._synced[router] = want


class DockerGame(GameRouting):
    def _game_router(
        self, game: DesiredGame, wanted: list[str], teams: set[str]
    ) -> tuple[str, dict[str, str]]:
        with self._lock("game-guard"):
            ensure_game_guard(game.subnet)
        router = self._router(game_router_name(game.event), game, wanted[0])
        attached = router["NetworkSettings"]["Networks"] or {}
        for net in wanted:
            if net not in attached:
                aliases = [GAME_ALIAS] if net in teams else None
                self.api.connect_container_to_network(router["Id"], net, aliases=aliases)
        for net in attached:
            if net not in wanted:
                self.api.disconnect_container_from_network(router["Id"], net, force=True)
        router = self.api.inspect_container(router["Id"])
        subnets = {
            net: str(ipaddress.ip_interface(f"{a['IPAddress']}/{a['IPPrefixLen']}").network)
            for net, a in (router["NetworkSettings"]["Networks"] or {}).items()
            if a.get("IPAddress")
        }
        return router["Id"], subnets

    def _router(self, name: str, game: DesiredGame, first: str) -> dict:
        """The running router (created, started or replaced as needed), inspected."""
        try:
            found = self.api.inspect_container(name)
        except docker.errors.NotFound:
            found = None
        if found is not None and found["State"]["Running"]:
            return found
        if found is not None:
            self.api.remove_container(found["Id"], force=True)
            self._synced.pop(found["Id"], None)
        host_config = self.api.create_host_config(
            **hardening.docker_host_config(hardening.GAME_ROUTER, sysctls=ROUTER_SYSCTLS)
        )
        created = self._create_named(
            self.game_image(),
            name=name,
            hostname="range-game",
            labels=game.labels(),
            host_config=host_config,
            networking_config=self.api.create_networking_config(
                {first: self.api.create_endpoint_config(aliases=[GAME_ALIAS])}
            ),
        )
        self.api.start(created["Id"])
        return self.api.inspect_container(created["Id"])

    def _routed(self, game: DesiredGame) -> list[RoutedTarget]:
        rows = self.api.containers(
            filters={"label": [f"{MANAGED}=1", f"{EVENT}={game.event}", f"{ROLE}=service"]}
        )
        nets = {
            name.lstrip("/"): (r.get("NetworkSettings") or {}).get("Networks") or {}
            for r in rows
            for name in r.get("Names") or []
        }
        out = []
        for t in game.targets:
            on = nets.get(container_name(game.event, t.team_id, t.challenge, t.service), {})
            real = (on.get(defence_network_name(game.event, t.team_id)) or {}).get("IPAddress")
            if real:
                out.append(RoutedTarget(t.address, real, t.ports))
        return out
