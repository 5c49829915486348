"""The Docker engine backend: team networks and hardened challenge containers.

Isolation: one ``internal`` bridge network per team (no route out, masquerading off), containers
join only their team's network and are reachable there by service name. Every container drops
ALL capabilities (adding back only the spec's allowlist), runs with ``no-new-privileges``, a
read-only root (tmpfs where declared), memory/CPU/pids limits and a capped log; it is never
privileged and never gets a host path or the Docker socket: there is no code path that mounts
anything but a tmpfs or the instance's own flag volume.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import ipaddress
import os
import posixpath
import shutil
import subprocess
import tarfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
from docker.types import LogConfig, Mount

from range_control.orchestrator import images
from range_control.orchestrator.backend import (
    EVENT,
    MANAGED,
    ROLE,
    TEAM,
    BackendError,
    Cancel,
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
    container_name,
    edge_network_name,
    flag_volume_name,
    gateway_name,
    jumpbox_name,
    network_name,
)

if TYPE_CHECKING:
    from range_control.core.settings import Settings

LOG_MAX = {"max-size": "1m", "max-file": "2"}
# sshd on a jumpbox: privilege separation, the team's login, its own host keys and password.
JUMPBOX_CAPS = [
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETUID",
    "SETGID",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
]
WIREGUARD_PORT = 51820  # inside the gateway; the host port comes from the pool
TUN = "/dev/net/tun"
# Where the engine's default address pools are not set (daemon.json), Docker's built-in ones.
DOCKER_DEFAULT_POOLS = [
    {"Base": "172.17.0.0/12", "Size": 16},
    {"Base": "192.168.0.0/16", "Size": 20},
]


# Every bridge we create is named rcb<12 hex>, so that a few packet-filter rules cover them all.
# Docker's "internal" flag stops forwarding out of a team network, but packets *to the host's own
# addresses* (the control plane's port, any host service) go through INPUT, which Docker leaves
# open; and the edge network of the jumpboxes must publish ports, so it cannot be internal.
BRIDGE_PREFIX = "rcb"
_BR = BRIDGE_PREFIX + "+"
_EST = ["-m", "conntrack", "--ctstate", "ESTABLISHED,RELATED"]
HOST_GUARD: list[list[str]] = [
    # Nothing from our bridges reaches the host, except replies (to docker-proxy, for ports).
    ["INPUT", "-i", _BR, *_EST, "-j", "ACCEPT"],
    ["INPUT", "-i", _BR, "-j", "DROP"],
    # Nothing from our bridges leaves for another interface, except replies (published ports).
    ["DOCKER-USER", "-i", _BR, "!", "-o", _BR, *_EST, "-j", "RETURN"],
    ["DOCKER-USER", "-i", _BR, "!", "-o", _BR, "-j", "DROP"],
]


def bridge_name(network: str) -> str:
    return BRIDGE_PREFIX + hashlib.sha1(network.encode()).hexdigest()[:12]  # noqa: S324 - a name


def _canonical(tokens: list[str]) -> list[str]:
    """A rule as ``iptables -S`` prints it is compared with ours token by token; conntrack
    states are a set (it prints ESTABLISHED,RELATED as RELATED,ESTABLISHED)."""
    out = list(tokens)
    for i, tok in enumerate(out[:-1]):
        if tok == "--ctstate":
            out[i + 1] = ",".join(sorted(out[i + 1].split(",")))
    return out


def _guard_in_order(exe: str, chain: str) -> bool:
    """Our rules of ``chain`` are all there, in HOST_GUARD's order (a rule put back alone at
    the top, after someone deleted it, would come before the ones meant to precede it: a DROP
    above the ACCEPT of replies cuts every published port)."""
    listed = subprocess.run([exe, "-w", "-S", chain], capture_output=True, text=True)  # noqa: S603
    lines = [
        _canonical(line.split()[1:])
        for line in listed.stdout.splitlines()
        if line.startswith("-A ")
    ]
    ours = [_canonical(rule) for rule in HOST_GUARD if rule[0] == chain]
    try:
        positions = [lines.index(rule) for rule in ours]
    except ValueError:
        return False
    return positions == sorted(positions)


def ensure_host_guard() -> None:
    """Install the rules above (idempotent, in order, IPv4 and where present IPv6). A chain
    whose rules are missing or out of order gets all of ours again, in order (the rules are
    put back first and the strays removed after: never a moment with fewer)."""
    for tool in ("iptables", "ip6tables"):
        exe = shutil.which(tool)
        if exe is None:
            if tool == "ip6tables":
                continue
            raise BackendError("iptables is not installed: the host guard cannot be set")
        for chain in dict.fromkeys(rule[0] for rule in HOST_GUARD):
            subprocess.run([exe, "-w", "-N", chain], capture_output=True)  # noqa: S603 - exists is fine
            if _guard_in_order(exe, chain):
                continue
            rules = [rule for rule in HOST_GUARD if rule[0] == chain]
            stale = subprocess.run([exe, "-w", "-S", chain], capture_output=True, text=True)  # noqa: S603
            old = sum(
                _canonical(line.split()[1:]) in map(_canonical, rules)
                for line in stale.stdout.splitlines()
                if line.startswith("-A ")
            )
            # Insert in reverse at the top, so the final order is the order above.
            for rule in reversed(rules):
                done = subprocess.run([exe, "-w", "-I", *rule], capture_output=True, text=True)  # noqa: S603
                if done.returncode != 0:
                    raise BackendError(
                        f"{tool}: cannot install the rule {' '.join(rule)} that keeps team "
                        f"networks off the host ({done.stderr.strip()}); no instance is "
                        "started without it"
                    )
            # The copies that were there before (now below ours) go, from the bottom.
            for _ in range(old):
                listed = subprocess.run(  # noqa: S603 - our iptables, our arguments
                    [exe, "-w", "-S", chain],
                    capture_output=True,
                    text=True,
                ).stdout.splitlines()
                body = [line.split()[1:] for line in listed if line.startswith("-A ")]
                for index in range(len(body) - 1, len(rules) - 1, -1):
                    if _canonical(body[index]) in map(_canonical, rules):
                        subprocess.run(  # noqa: S603 - our iptables, our arguments
                            [exe, "-w", "-D", chain, str(index + 1)],
                            capture_output=True,
                        )
                        break


def host_guard_missing() -> tuple[str, ...]:
    """The rules of HOST_GUARD not in place now (IPv4), each as ``iptables -S`` shows it; a
    chain whose rules are out of order counts all of them."""
    exe = shutil.which("iptables")
    if exe is None:
        return ("iptables is not installed",)
    missing = []
    for chain in dict.fromkeys(rule[0] for rule in HOST_GUARD):
        if not _guard_in_order(exe, chain):
            missing.extend("-A " + " ".join(rule) for rule in HOST_GUARD if rule[0] == chain)
    return tuple(missing)


def networks_free(client: Any) -> int | None:
    """How many more /size networks the engine's default address pools hold: the pools'
    capacity less the bridges already in them."""
    pools = client.api.info().get("DefaultAddressPools") or DOCKER_DEFAULT_POOLS
    nets = [ipaddress.ip_network(p["Base"], strict=False) for p in pools]
    capacity = sum(
        2 ** max(0, int(p["Size"]) - n.prefixlen) for p, n in zip(pools, nets, strict=True)
    )
    used = 0
    for net in client.api.networks(filters={"driver": "bridge"}):
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            with contextlib.suppress(ValueError, KeyError):
                subnet = ipaddress.ip_network(cfg["Subnet"], strict=False)
                used += any(subnet.subnet_of(n) for n in nets if subnet.version == n.version)
    return max(0, capacity - used)


def engine_facts(
    client: Any, *, kind: str, guard: tuple[str, ...], free: int | None
) -> EngineFacts:
    info = client.api.info()
    root_free = None
    root = info.get("DockerRootDir")
    if root and os.path.isdir(root) and kind == "docker":
        root_free = shutil.disk_usage(root).free
    return EngineFacts(
        kind=kind,
        version=str(info.get("ServerVersion", "?")),
        system_time=info.get("SystemTime"),
        memory_bytes=int(info.get("MemTotal") or 0),
        root_free_bytes=root_free,
        networks_free=free,
        guard_missing=guard,
    )


def sweep(client: Any, event: str) -> None:
    """Remove every container, volume and network labelled with ``event``, whatever the
    database says (a backstop for throw-away ranges: checks, tests, benchmarks)."""
    flt = {"label": [f"{MANAGED}=1", f"{EVENT}={event}"]}
    api = client.api

    def remove(cid: str) -> None:
        with contextlib.suppress(docker.errors.APIError):
            api.remove_container(cid, force=True)

    with ThreadPoolExecutor(4) as pool:  # removal is mostly waiting on the engine
        list(pool.map(remove, [c["Id"] for c in api.containers(all=True, filters=flt)]))
    for v in api.volumes(filters=flt).get("Volumes") or []:
        with contextlib.suppress(docker.errors.APIError):
            api.remove_volume(v["Name"], force=True)
    for n in api.networks(filters=flt):
        with contextlib.suppress(docker.errors.APIError):
            api.remove_network(n["Id"])


def with_packages(
    client: Any, lock: Callable[[str], threading.Lock], base: str, packages: tuple[str, ...]
) -> str:
    """``base`` (the jumpbox image) with the event's extra Debian packages, built once per
    list; apt's refusal named (a Swarm publishes the result to its registry afterwards)."""
    tag = images.with_packages_tag(base, packages)
    with lock(f"img:{tag}"):
        try:
            images.build_with_packages(client, base=base, packages=packages, tag=tag)
        except images.ImageError as exc:
            raise BackendError(str(exc)) from None
    return tag


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


class EngineUnavailable(BackendError):
    """No Docker engine answers where the settings (``DOCKER_HOST``) point."""


GUARD_RECHECK_SECONDS = 30.0


def _flag_tar(filename: str, flag: str) -> bytes:
    data = (flag + "\n").encode()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(filename)
        info.size, info.mode, info.uid, info.gid = len(data), 0o400, 0, 0
        tar.addfile(info, io.BytesIO(data))
    return buf.getvalue()


def _health(status_text: str) -> str | None:
    for word in ("unhealthy", "healthy", "health: starting"):
        if f"({word})" in status_text:
            return "starting" if word == "health: starting" else word
    return None


def engine_client(timeout: int = 300) -> Any:
    """A client of the engine ``DOCKER_HOST`` (or the local socket) names, known to answer."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no engine"
        raise EngineUnavailable(
            f"no Docker engine answers ({exc.__class__.__name__}): run infra/engine.sh"
        ) from None
    return client


class DockerBackend:
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
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        self._guarded_at = -GUARD_RECHECK_SECONDS
        self._synced: dict[str, str] = {}  # container id -> access digest this process synced

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks[key]

    # --- what exists --------------------------------------------------------------------
    def containers(self, event: str) -> list[Observed]:
        rows = self.api.containers(
            all=True, filters={"label": [f"{MANAGED}=1", f"{EVENT}={event}"]}
        )
        return [
            Observed(
                id=r["Id"],
                name=(r.get("Names") or ["?"])[0].lstrip("/"),
                labels=r.get("Labels") or {},
                status=r.get("State", "unknown"),
                health=_health(r.get("Status", "")),
            )
            for r in rows
        ]

    def networks(self, event: str) -> dict[str, str]:
        rows = self.api.networks(filters={"label": [f"{MANAGED}=1", f"{EVENT}={event}"]})
        return {r["Name"]: r["Id"] for r in rows}

    def volumes(self, event: str) -> list[str]:
        rows = self.api.volumes(filters={"label": [f"{MANAGED}=1", f"{EVENT}={event}"]})
        return [v["Name"] for v in (rows.get("Volumes") or [])]

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

    def ensure_edge_network(self, event: str) -> str:
        """Where jumpboxes and published services get their host port. Not internal (that
        breaks publishing, moby#36174), so: no masquerading, no traffic between its
        containers, and the host guard drops anything they start towards the host or out."""
        labels = {EVENT: event, ROLE: "edge-network"}
        return self._bridge(edge_network_name(event), internal=False, icc=False, labels=labels)

    def _own_image(self, name: str) -> str:
        """One of the range's own images (jumpbox, wireguard), built here once per content."""
        context = Path(__file__).parent / name
        tag = f"range/{name}:{images.context_digest(context)[:16]}"
        with self._lock(f"img:{tag}"):
            images.build_context(
                self.client,
                challenge=f"({name})",
                service=name,
                context=context,
                dockerfile=None,
                tag=tag,
            )
        return tag

    def jumpbox_image(self, packages: tuple[str, ...] = ()) -> str:
        base = self._own_image("jumpbox")
        if not packages:
            return base
        return with_packages(self.client, self._lock, base, packages)

    def _entry_host_config(
        self,
        *,
        caps: list[str],
        memory: int,
        pids: int,
        ports: dict[Any, tuple[str, int]],
        read_only: bool,
        tmpfs: dict[str, str],
        **extra: Any,
    ) -> Any:
        """A team's entry point (jumpbox, gateway): every capability dropped but ``caps``, no
        privilege escalation, half a CPU, ``memory`` without swap, ``pids``, a capped log."""
        return self.api.create_host_config(
            cap_drop=["ALL"],
            cap_add=caps,
            security_opt=["no-new-privileges:true"],
            read_only=read_only,
            tmpfs=tmpfs,
            mem_limit=memory,
            memswap_limit=memory,
            nano_cpus=500_000_000,
            pids_limit=pids,
            privileged=False,
            port_bindings=ports,
            log_config=LogConfig(type="json-file", config=LOG_MAX),
            init=True,
            **extra,
        )

    def create_jumpbox(self, jb: DesiredJumpbox) -> Observed:
        name = jumpbox_name(jb.event, jb.team_id)
        image = self.jumpbox_image(jb.packages)
        edge = edge_network_name(jb.event)  # both networks exist: the reconciler made them
        team_net = network_name(jb.event, jb.team_id)
        host_config = self._entry_host_config(
            caps=JUMPBOX_CAPS,
            memory=128 * 1024**2,
            pids=256,
            ports={2222: (self.publish_ip, jb.port)},
            # Not read-only: the entry point writes the team's password and fresh host keys.
            read_only=False,
            tmpfs={"/tmp": "size=32m"},  # noqa: S108
        )
        try:
            created = self.api.create_container(
                image,
                name=name,
                hostname="jumpbox",
                labels=jb.labels(),
                ports=[2222],
                environment={
                    "RANGE_JUMPBOX_PASSWORD": jb.password,
                    "RANGE_JUMPBOX_KEYS": "\n".join(jb.keys),
                },
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
            routes = self._subnets(team_net)
            host_config = self._entry_host_config(
                # NET_ADMIN: the tun device, its address, the packet filter; forwarding in this
                # container's namespace only.
                caps=["NET_ADMIN"],
                memory=64 * 1024**2,
                pids=64,
                ports={port: (self.publish_ip, gw.port)},
                read_only=True,
                tmpfs={"/run": "size=4m", "/tmp": "size=4m"},  # noqa: S108
                devices=[f"{TUN}:{TUN}:rwm"],
                sysctls={"net.ipv4.ip_forward": "1"},
            )
            env = {
                "RANGE_WG_PRIVATE_KEY": gw.private_key,
                "RANGE_WG_ADDRESS": gw.address,
                "RANGE_WG_ROUTES": ",".join(routes),
                "RANGE_WG_PEERS": ",".join(f"{key} {ip}" for key, ip in gw.peers),
            }
            created = self.api.create_container(
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
        try:
            done = self.api.exec_create(obs.id, command, user="root")
            out = self.api.exec_start(done["Id"]).decode(errors="replace")
            code = self.api.exec_inspect(done["Id"]).get("ExitCode")
        except docker.errors.APIError as exc:
            raise BackendError(f"{obs.name}: {exc.explanation or exc}") from None
        if code != 0:
            raise BackendError(f"{obs.name}: access not updated ({out.strip()[-300:]})")
        self._synced[obs.id] = want.access()
        return True

    def gateway_peers(self, obs: Observed) -> list[PeerSeen]:
        try:
            done = self.api.exec_create(obs.id, ["wg", "show", "wg0", "dump"], user="root")
            out = self.api.exec_start(done["Id"]).decode(errors="replace")
        except docker.errors.APIError as exc:
            raise BackendError(f"{obs.name}: {exc.explanation or exc}") from None
        return parse_wg_dump(out)

    def ensure_image(self, run: ServiceRun, challenge: str, source_dir: str | None) -> None:
        with self._lock(f"img:{run.image}"):
            if images.image_exists(self.client, run.image):
                return
            if run.spec.build is None or source_dir is None:
                raise BackendError(
                    f"challenge {challenge}, service {run.spec.name}: image {run.image!r} is not "
                    "on this engine (no registry is used: build or import it first)"
                )
            images.build_context(
                self.client,
                challenge=challenge,
                service=run.spec.name,
                context=Path(source_dir) / run.spec.build,
                dockerfile=run.spec.dockerfile,
                tag=run.image,
            )

    def _flag_volume(self, inst: DesiredInstance, run: ServiceRun) -> Mount:
        """A volume holding only the flag file, filled before the service starts."""
        path = run.spec.flag.file
        assert path is not None
        volume = flag_volume_name(inst.event, inst.team_id, inst.challenge, run.spec.name)
        self.api.create_volume(volume, labels={**inst.labels(run.spec.name), ROLE: "flag-volume"})
        helper = self.api.create_container(
            run.image,
            command=["true"],
            network_disabled=True,
            labels={**inst.labels(run.spec.name), ROLE: "flag-helper"},
            host_config=self.api.create_host_config(
                mounts=[Mount("/d", volume, type="volume")],
                cap_drop=["ALL"],
            ),
        )
        try:
            self.api.put_archive(helper["Id"], "/d", _flag_tar(posixpath.basename(path), inst.flag))
        finally:
            self.api.remove_container(helper["Id"], force=True)
        return Mount(posixpath.dirname(path), volume, type="volume", read_only=True)

    def create_service(self, inst: DesiredInstance, run: ServiceRun) -> Observed:
        spec = run.spec
        name = container_name(inst.event, inst.team_id, inst.challenge, spec.name)
        net = network_name(inst.event, inst.team_id)
        env = dict(spec.environment)
        if spec.flag.env:
            env["RANGE_FLAG"] = inst.flag
        mounts = []
        if spec.flag.file and spec.read_only:
            mounts.append(self._flag_volume(inst, run))
        healthcheck = None
        if spec.healthcheck:
            test = (
                ["CMD", *spec.healthcheck]
                if isinstance(spec.healthcheck, list)
                else ["CMD-SHELL", spec.healthcheck]
            )
            healthcheck = {
                "test": test,
                "interval": self.health_interval_ns,
                "timeout": 3_000_000_000,
                "retries": 3,
                "start_period": 1_000_000_000,
            }
        published = inst.host_ports(spec.name) if spec.exposure == "published" else {}
        host_config = self.api.create_host_config(
            port_bindings={c: (self.publish_ip, h) for c, h in published.items()} or None,
            cap_drop=["ALL"],
            cap_add=spec.cap_add or None,
            security_opt=["no-new-privileges:true"],
            read_only=spec.read_only,
            tmpfs=spec.tmpfs or None,
            mem_limit=spec.memory_bytes,
            memswap_limit=spec.memory_bytes,
            nano_cpus=int(spec.cpus * 1e9),
            pids_limit=spec.pids,
            log_config=LogConfig(type="json-file", config=LOG_MAX),
            privileged=False,
            mounts=mounts or None,
            init=True,
        )
        if published:  # first on the edge network (for the port), then on the team's
            first = {edge_network_name(inst.event): self.api.create_endpoint_config()}
        else:
            first = {net: self.api.create_endpoint_config(aliases=[spec.name])}
        try:
            created = self.api.create_container(
                run.image,
                name=name,
                # The engine makes a container's hostname a DNS alias on *every* network it
                # joins: a published service named by it on the edge network would answer for
                # its name to every team's jumpbox there (and to its own team's, at an address
                # the edge network does not forward). Its name stays on the team network only.
                hostname=name[:63] if published else spec.name,
                command=spec.command,
                environment=env,
                labels={**inst.labels(spec.name), ROLE: "service"},
                host_config=host_config,
                healthcheck=healthcheck,
                ports=list(published) or None,
                networking_config=self.api.create_networking_config(first),
            )
            if published:
                self.api.connect_container_to_network(created["Id"], net, aliases=[spec.name])
            if spec.flag.file and not spec.read_only:
                directory = posixpath.dirname(spec.flag.file)
                self.api.put_archive(
                    created["Id"],
                    directory,
                    _flag_tar(posixpath.basename(spec.flag.file), inst.flag),
                )
            self.api.start(created["Id"])
        except docker.errors.APIError as exc:
            raise BackendError(
                f"challenge {inst.challenge}, service {spec.name}, team {inst.team_id}: "
                f"{exc.explanation or exc}"
            ) from None
        return Observed(created["Id"], name, inst.labels(spec.name), "running")

    # --- repairing and removing ---------------------------------------------------------
    def restart(self, obs: Observed) -> None:
        self._synced.pop(obs.id, None)  # it starts again with the keys or peers of its creation
        self.api.restart(obs.id, timeout=5)

    def remove_container(self, obs: Observed) -> None:
        self._synced.pop(obs.id, None)
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_container(obs.id, force=True)

    def remove_network(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_network(name)

    def remove_volume(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_volume(name, force=True)

    def sweep(self, event: str) -> None:
        sweep(self.client, event)

    # --- images and jobs ----------------------------------------------------------------
    def ensure_base_image(
        self, progress: Callable[[str], None], *, rebuild: bool = False, tag: str | None = None
    ) -> bool:
        try:
            return images.build_base(
                self.client, tag=tag or images.BASE_IMAGE, rebuild=rebuild, progress=progress
            )
        except images.ImageError as exc:
            raise BackendError(str(exc)) from None

    def facts(self) -> EngineFacts:
        return engine_facts(
            self.client, kind="docker", guard=host_guard_missing(), free=networks_free(self.client)
        )

    def image_present(self, ref: str) -> bool:
        """Whether the engine has the image (the range pulls from no public registry)."""
        return images.image_exists(self.client, ref)

    def image_ref(self, tag: str) -> str:
        """One engine runs its local images as they are: nothing to push anywhere."""
        if not images.image_exists(self.client, tag):
            raise BackendError(f"image {tag!r} is not on this engine")
        return tag

    def build_image(self, context: Path, tag: str, label: str) -> None:
        with self._lock(f"img:{tag}"):
            try:
                images.build_context(
                    self.client,
                    challenge=label,
                    service="image",
                    context=context,
                    dockerfile=None,
                    tag=tag,
                )
            except images.ImageError as exc:
                raise BackendError(str(exc)) from None

    def run_job(self, job: Job, cancel: Cancel) -> JobResult:
        """Run to the end, or kill at the timeout (or when cancelled): output and exit code."""
        api = self.api
        created = api.create_container(
            job.image,
            command=list(job.command),
            name=job.name,
            labels={MANAGED: "1", EVENT: job.event, ROLE: "solver"},
            network_disabled=job.network is None,
            host_config=api.create_host_config(
                network_mode=job.network or "none",
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true"],
                mem_limit=512 * 2**20,
                pids_limit=256,
                log_config=LogConfig(type="json-file", config={"max-size": "1m"}),
                init=True,
            ),
        )
        cid = created["Id"]
        try:
            api.start(cid)
            deadline = time.monotonic() + job.timeout
            timed_out = False
            while True:
                state = api.inspect_container(cid)["State"]
                if not state["Running"]:
                    break
                if cancel.is_set() or time.monotonic() > deadline:
                    timed_out = not cancel.is_set()
                    api.kill(cid)
                    state = {"ExitCode": -1}
                    break
                time.sleep(0.25)
            out = api.logs(cid, stdout=True, stderr=False).decode(errors="replace")
            err = api.logs(cid, stdout=False, stderr=True).decode(errors="replace")
            return JobResult(int(state.get("ExitCode", -1)), out, err, timed_out)
        finally:
            with contextlib.suppress(docker.errors.APIError):
                api.remove_container(cid, force=True)

    def prepare(self, progress: Callable[[str], None]) -> None:
        """Before an event: the host guard in place on this engine's host."""
        self._guarded_at = -GUARD_RECHECK_SECONDS
        self.ensure_host_guard()
        progress("host guard in place")

    def cluster(self, event: str) -> list[NodeInfo]:
        """One engine: itself, with what the range runs on it."""
        info = self.api.info()
        mine = [c for c in self.containers(event) if c.status == "running"]
        reserved = 0
        for c in mine:
            limit = self.api.inspect_container(c.id)["HostConfig"].get("Memory") or 0
            reserved += int(limit)
        return [
            NodeInfo(
                name=info.get("Name", "engine"),
                role="engine",
                state="ready",
                availability="active",
                address=self.publish_ip,
                labels={},
                memory_bytes=int(info.get("MemTotal", 0)),
                reserved_bytes=reserved,
                instances=len(mine),
            )
        ]

    def why_down(self, obs: Observed, lines: int) -> str:
        info = self.api.inspect_container(obs.id)["State"]
        logs = self.api.logs(obs.id, tail=lines).decode(errors="replace")
        tail = "\n".join(ln for ln in logs.splitlines() if ln.strip())
        return f"exit code {info.get('ExitCode')}" + (f":\n{tail}" if tail else "")
