"""The teams' entry points on one engine: the jumpbox (SSH) and the WireGuard gateway, their keys
and peers synced in place."""

from __future__ import annotations

import contextlib
import ipaddress
import os

import docker
import docker.errors

from range_control.orchestrator import hardening
from range_control.orchestrator.docker.engine import (
    DOCKER_DEFAULT_POOLS,
    EngineBase,
    with_packages,
)
from range_control.orchestrator.types import (
    BackendError,
    DesiredGateway,
    DesiredJumpbox,
    Observed,
    PeerSeen,
    edge_network_name,
    gateway_name,
    jumpbox_name,
    network_name,
)

WIREGUARD_PORT = 51820  # inside the gateway; the host port comes from the pool


TUN = "/dev/net/tun"


def parse_wg_dump(text: str) -> list[PeerSeen]:
    """``wg show <if> dump``: the interface's line, then one tab-separated line per peer
    (public key, preshared key, endpoint, allowed ips, latest handshake, rx, tx, keepalive)."""
    peers = []
    for line in text.splitlines()[1:]:
        f = line.split("\t")
        if len(f) < 7:
            continue
        with contextlib.suppress(ValueError):
            peers.append(
                PeerSeen(f[0], None if f[2] == "(none)" else f[2], int(f[4]), int(f[5]), int(f[6]))
            )
    return peers


SESSION_LINE = "range-command "  # what the red jumpbox prints per command (range-red-people)


def session_lines(output: bytes) -> list[str]:
    """The ``range-command`` lines of a jumpbox's output (whatever else sshd printed)."""
    text = output.decode(errors="replace")
    return [ln for ln in text.splitlines() if ln.startswith(SESSION_LINE)]


class DockerAccess(EngineBase):
    def jumpbox_image(self, packages: tuple[str, ...] = ()) -> str:
        base = self._own_image("jumpbox")
        if not packages:
            return base
        return with_packages(self.client, self._lock, base, packages)

    def create_jumpbox(self, jb: DesiredJumpbox) -> Observed:
        name = jumpbox_name(jb.event, jb.team_id)
        image = self.jumpbox_image(jb.packages)
        edge = edge_network_name(jb.event)  # both networks exist: the reconciler made them
        team_net = network_name(jb.event, jb.team_id)
        host_config = self.api.create_host_config(
            **hardening.docker_host_config(
                hardening.JUMPBOX, port_bindings={2222: (self.publish_ip, jb.port)}
            )
        )
        try:
            created = self._create_named(
                image,
                name=name,
                hostname="jumpbox",
                labels=jb.labels(),
                ports=[2222],
                environment=jb.environment(),
                host_config=host_config,
                networking_config=self.api.create_networking_config(
                    {edge: self.api.create_endpoint_config()}
                ),
            )
            self.api.connect_container_to_network(created["Id"], team_net, aliases=["jumpbox"])
            self.api.start(created["Id"])
        except docker.errors.APIError as exc:
            raise BackendError(f"jumpbox of team {jb.team_id}: {exc.explanation or exc}") from None
        self._synced[created["Id"]] = jb.access()
        return Observed(created["Id"], name, jb.labels(), "running")

    # --- WireGuard ----------------------------------------------------------------------
    def wireguard_problem(self) -> str | None:
        """The engine must give a container /dev/net/tun: checked on the engine's own host
        when it is this one (a remote engine tells on the first gateway it refuses)."""
        host = os.environ.get("DOCKER_HOST", "")
        if (not host or host.startswith("unix://")) and not os.path.exists(TUN):
            return (
                f"this engine's host has no {TUN} (the TUN driver): WireGuard access is "
                "off; teams use the SSH jumpbox"
            )
        return None

    def wireguard_image(self) -> str:
        return self._own_image("wireguard")

    def address_pools(self) -> list[str]:
        pools = self.api.info().get("DefaultAddressPools") or DOCKER_DEFAULT_POOLS
        return [str(ipaddress.ip_network(p["Base"], strict=False)) for p in pools]

    def _subnets(self, network: str) -> list[str]:
        cfg = (self.api.inspect_network(network).get("IPAM") or {}).get("Config") or []
        return [c["Subnet"] for c in cfg if c.get("Subnet") and ":" not in c["Subnet"]]

    def create_gateway(self, gw: DesiredGateway) -> Observed:
        problem = self.wireguard_problem()
        if problem is not None:
            raise BackendError(problem)
        name = gateway_name(gw.event, gw.team_id)
        image = self.wireguard_image()
        team_net = network_name(gw.event, gw.team_id)
        port = f"{WIREGUARD_PORT}/udp"
        try:
            routes = self._subnets(team_net) + ([gw.game_subnet] if gw.game_subnet else [])
            host_config = self.api.create_host_config(
                **hardening.docker_host_config(
                    hardening.GATEWAY,
                    port_bindings={port: (self.publish_ip, gw.port)},
                    devices=[f"{TUN}:{TUN}:rwm"],
                    sysctls={"net.ipv4.ip_forward": "1"},
                )
            )
            env = {
                "RANGE_WG_PRIVATE_KEY": gw.private_key,
                "RANGE_WG_ADDRESS": gw.address,
                "RANGE_WG_ROUTES": ",".join(routes),
                "RANGE_WG_PEERS": ",".join(f"{key} {ip}" for key, ip in gw.peers),
                "RANGE_GAME_SUBNET": gw.game_subnet,
            }
            created = self._create_named(
                image,
                name=name,
                hostname="wireguard",
                labels=gw.labels(),
                ports=[(WIREGUARD_PORT, "udp")],
                environment=env,
                host_config=host_config,
                networking_config=self.api.create_networking_config(
                    {edge_network_name(gw.event): self.api.create_endpoint_config()}
                ),
            )
            self.api.connect_container_to_network(created["Id"], team_net)
            self.api.start(created["Id"])
        except docker.errors.APIError as exc:
            raise BackendError(
                f"WireGuard gateway of team {gw.team_id}: {exc.explanation or exc}"
            ) from None
        self._synced[created["Id"]] = gw.access()
        return Observed(created["Id"], name, gw.labels(), "running")

    def sync_access(self, obs: Observed, want: DesiredJumpbox | DesiredGateway) -> bool:
        """Keys into a running jumpbox, peers into a running gateway: once per change (what
        this process synced last is remembered per container; a new process syncs once)."""
        if self._synced.get(obs.id) == want.access():
            return True
        if isinstance(want, DesiredGateway):
            command = ["/usr/local/sbin/range-wg-sync", *(f"{k} {ip}" for k, ip in want.peers)]
        else:
            command = ["/usr/local/sbin/range-jumpbox-keys", *want.keys]
        code, out = self._exec(obs.id, command, obs.name)
        if code != 0:
            raise BackendError(f"{obs.name}: access not updated ({out.strip()[-300:]})")
        self._synced[obs.id] = want.access()
        return True

    def session_log(self, obs: Observed, since: int) -> list[str]:
        try:
            out = self.api.logs(obs.id, stdout=True, stderr=False, since=since or None)
        except docker.errors.APIError as exc:
            raise BackendError(f"{obs.name}: {exc.explanation or exc}") from None
        return session_lines(out)

    def gateway_peers(self, obs: Observed) -> list[PeerSeen]:
        return parse_wg_dump(self._exec(obs.id, ["wg", "show", "wg0", "dump"], obs.name)[1])
