"""The game network on one engine (``orchestrator.game``): the event's router container, on the
team networks of the entry points and the defence networks of the targets, its packet filter
written in place (``iptables-restore``, atomic) whenever what it should let through changes."""

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


class DockerGame(EngineBase):
    def game_image(self) -> str:
        return self._own_image("game")

    def ensure_game(self, game: DesiredGame) -> None:
        """The router exists, runs, is on exactly the networks it should be and filters as
        ``game`` says (the rules follow the targets' addresses: a reset service has a new
        one)."""
        name = game_router_name(game.event)
        teams = {network_name(game.event, t): t for t in game.teams}
        defence = {defence_network_name(game.event, t.team_id) for t in game.targets}
        wanted = [*teams, *sorted(defence)]
        if not wanted:
            return
        with self._lock("game-guard"):
            ensure_game_guard(game.subnet)
        try:
            router = self._router(name, game, wanted[0])
            attached = router["NetworkSettings"]["Networks"] or {}
            for net in wanted:
                if net not in attached:
                    aliases = [GAME_ALIAS] if net in teams else None
                    self.api.connect_container_to_network(router["Id"], net, aliases=aliases)
            for net in attached:
                if net not in wanted:
                    self.api.disconnect_container_from_network(router["Id"], net, force=True)
            router = self.api.inspect_container(router["Id"])
        except docker.errors.APIError as exc:
            raise BackendError(f"game router: {exc.explanation or exc}") from None
        subnets = {
            net: str(ipaddress.ip_interface(f"{a['IPAddress']}/{a['IPPrefixLen']}").network)
            for net, a in (router["NetworkSettings"]["Networks"] or {}).items()
            if a.get("IPAddress")
        }
        attackers = set(game.attackers)
        rules = router_rules(
            attackers=[subnets[n] for n, t in teams.items() if t in attackers and n in subnets],
            others=[subnets[n] for n, t in teams.items() if t not in attackers and n in subnets],
            targets=self._routed(game),
            defence=sorted(subnets[n] for n in defence if n in subnets),
        )
        self._apply(router["Id"], rules)

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
            **hardening.docker_host_config(
                hardening.GAME_ROUTER,
                sysctls={"net.ipv4.ip_forward": "1", "net.ipv4.conf.all.rp_filter": "1"},
            )
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
        """Each running target with its address on its defence network (one listing)."""
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

    def _apply(self, router: str, rules: str) -> None:
        """The rules into the router, once per change (remembered per container)."""
        want = digest(rules)
        if self._synced.get(router) == want:
            return
        code, out = self._exec(router, ["/usr/local/sbin/range-game-rules", rules], "game router")
        if code != 0:
            raise BackendError(f"game router: rules not applied ({out.strip()[-300:]})")
        self._synced[router] = want
