"""WireGuard access (issue 13), as a member's laptop has it: a WireGuard client in a container of
the test's own (wireguard-go, wg-quick, the configuration the range handed out) connects to the
team's gateway through the published UDP port, runs a shipped solver through the tunnel, and
reaches nothing else. The real Docker engine; listeners the test starts prove "unreachable"."""

from __future__ import annotations

import ipaddress
import random
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import docker
import pytest

from range_control.orchestrator import images
from range_control.orchestrator.docker import DockerBackend
from range_control.orchestrator.docker.engine import sweep
from range_control.orchestrator.types import (
    edge_network_name,
    gateway_name,
    jumpbox_name,
    network_name,
)
from range_control.services.catalog import builds
from range_control.services.catalog.lint import lint
from range_control.services.catalog.live_check import check_flag
from range_control.services.catalog.sync import sync
from range_control.services.environments import instances, team_access
from range_control.services.environments.instances import Selection
from range_control.services.environments.run import EnvironmentReconciler
from tests.conftest import TEST, Env, make_env, migrated_sqlite, unique_event
from tests.test_docker_env import name_of, web_challenge

REPO = Path(__file__).resolve().parents[1]
CLIENT_PACKAGES = "wireguard-go wireguard-tools iproute2 iptables"


def _ip(client: docker.DockerClient, container: str, network: str) -> str:
    nets = client.api.inspect_container(container)["NetworkSettings"]["Networks"]
    return nets[network]["IPAddress"]


@dataclass(frozen=True)
class Lan:
    """A laptop's link to the range's host: a veth pair, as the venue's network would be (a
    container on a Docker network of its own would not do: the engine isolates its bridges
    from one another, and a member's packets arrive on a host interface, not on a bridge)."""

    host_side: str
    laptop_side: str
    host_ip: str
    laptop_ip: str


def ip(*args: str) -> None:
    done = subprocess.run(["ip", *args], capture_output=True, text=True)
    assert done.returncode == 0, (args, done.stderr)


@pytest.fixture
def wg_range(
    client: docker.DockerClient, tmp_path: Path
) -> Iterator[tuple[Env, EnvironmentReconciler, Lan]]:
    event = unique_event("w")
    # A /30 of its own in 198.18.0.0/15 (RFC 2544: benchmarking, never routed anywhere).
    base = ipaddress.ip_address("198.18.0.0") + 4 * random.randrange(1, 32000)
    lan = Lan(f"rch{event[1:]}", f"rcl{event[1:]}", str(base + 1), str(base + 2))
    ip("link", "add", lan.host_side, "type", "veth", "peer", "name", lan.laptop_side)
    ip("address", "add", f"{lan.host_ip}/30", "dev", lan.host_side)
    ip("link", "set", lan.host_side, "up")
    low = 21000 + random.randrange(0, 110) * 100
    env = make_env(
        migrated_sqlite(tmp_path / "range.db"),
        tmp_path,
        event_slug=event,
        port_range=f"{low}-{low + 99}",
        public_host=lan.host_ip,
        publish_ip=lan.host_ip,
    )
    backend = DockerBackend(client, publish_ip=lan.host_ip, health_interval=1.0)
    rec = EnvironmentReconciler(env.ctx, backend, pool=4)
    try:
        yield env, rec, lan
    finally:
        for c in client.containers.list(all=True, filters={"label": f"rct.event={event}"}):
            c.remove(force=True)
        sweep(client, event)
        subprocess.run(["ip", "link", "del", lan.host_side], capture_output=True)
        env.ctx.store.dispose()


def client_image(client: docker.DockerClient, backend: DockerBackend, tmp: Path) -> str:
    """The jumpbox's tools (python3, curl, dig) and a WireGuard client: a member's laptop."""
    base = backend.jumpbox_image()
    d = tmp / "wgclient"
    d.mkdir()
    (d / "Dockerfile").write_text(
        f"FROM {base}\nRUN apt-get update && apt-get install -y --no-install-recommends "
        f"{CLIENT_PACKAGES} && rm -rf /var/lib/apt/lists/*\n"
    )
    tag = "range/test-wgclient:" + images.context_digest(d)[:16]
    images.build_context(
        client, challenge="(test)", service="wgclient", context=d, dockerfile=None, tag=tag
    )
    return tag


def laptop(client: docker.DockerClient, image: str, lan: Lan, event: str, name: str):
    """A member's laptop on the venue's network: what a WireGuard client needs, nothing more."""
    box = client.containers.run(
        image,
        ["sleep", "infinity"],
        name=f"rct-{event}-{name}",
        detach=True,
        network_mode="none",
        cap_drop=["ALL"],
        cap_add=["NET_ADMIN"],
        devices=["/dev/net/tun:/dev/net/tun:rwm"],
        labels={"rct.event": event},
        environment={
            "WG_QUICK_USERSPACE_IMPLEMENTATION": "wireguard-go",
            "WG_I_PREFER_BUGGY_USERSPACE_TO_POLISHED_KMOD": "1",
        },
    )
    box.reload()
    ip("link", "set", lan.laptop_side, "netns", str(box.attrs["State"]["Pid"]))
    code, out = sh(
        box,
        f"ip link set lo up && ip address add {lan.laptop_ip}/30 dev "
        f"{lan.laptop_side} && ip link set {lan.laptop_side} up && "
        f"ip route add default via {lan.host_ip}",
    )
    assert code == 0, out
    return box


def sh(container, cmd: str, timeout: int = 30) -> tuple[int, str]:
    res = container.exec_run(["timeout", str(timeout), "sh", "-c", cmd])
    return res.exit_code, res.output.decode(errors="replace")


def connect(container, config: str) -> None:
    """wg-quick up the configuration as handed out (its file name names the interface)."""
    put = f"mkdir -p /etc/wireguard && cat > /etc/wireguard/range.conf <<'EOF'\n{config}EOF\n"
    code, out = sh(container, put + "chmod 600 /etc/wireguard/range.conf && wg-quick up range 2>&1")
    assert code == 0, out


def handshake(container, wait: float = 15) -> int:
    """Seconds since the tunnel's latest handshake (ping the gateway to make one)."""
    deadline = time.monotonic() + wait
    while True:
        sh(
            container,
            "ping -c1 -W1 100.96.0.1 >/dev/null 2>&1 || bash -c 'echo > /dev/udp/100.96.0.1/53'",
            timeout=3,
        )
        code, out = sh(container, "wg show range latest-handshakes")
        stamp = int(out.split()[-1]) if code == 0 and out.split() else 0
        if stamp:
            return stamp
        if time.monotonic() > deadline:
            return 0
        time.sleep(0.5)


class Listener:
    """A TCP listener of the test's own on this host: what reaches it is recorded."""

    def __init__(self, ip: str = "0.0.0.0") -> None:  # noqa: S104 - every address of the host
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind((ip, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.5)
        self.port = self.sock.getsockname()[1]
        self.hits: list[str] = []
        self._stop = False
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop:
            try:
                conn, peer = self.sock.accept()
            except OSError:
                continue
            self.hits.append(peer[0])
            conn.close()

    def close(self) -> None:
        self._stop = True
        self._thread.join(2)
        self.sock.close()


def wait_gateways(
    env: Env,
    rec: EnvironmentReconciler,
    client: docker.DockerClient,
    teams: list[int],
    slugs: set[str],
    timeout: float = 240,
) -> None:
    deadline = time.monotonic() + timeout
    event = env.ctx.event_slug
    while time.monotonic() < deadline:
        report = rec.run_once()
        assert report.gateway_errors == {}, report.gateway_errors
        rows = [r for r in instances.status(env.ctx) if r.challenge in slugs]
        running = all(r.state == "running" for r in rows) and len(rows) == len(teams) * len(slugs)
        boxes = {
            c.name: c for c in client.containers.list(filters={"label": f"range.event={event}"})
        }
        gateways = [boxes.get(gateway_name(event, t)) for t in teams]
        # Up: its entry point has set the packet filter, the tunnel and DNS (it says so last).
        if running and all(g is not None and b"gateway up" in g.logs() for g in gateways):
            return
        time.sleep(2)
    raise AssertionError(f"gateways or instances not running in {timeout} s")


def test_a_member_reaches_the_team_through_wireguard_and_nothing_else(
    wg_range, client: docker.DockerClient, tmp_path: Path
) -> None:
    env, rec, lan = wg_range
    event = env.ctx.event_slug
    a_id, _ = env.team("Alpha", "NL")
    b_id, _ = env.team("Bravo", "NO")
    pack = lint([REPO / "challenges"])
    diag = next(c for c in pack.challenges if c.slug == "diag-panel")
    builds.build_challenge(rec.backend, diag)
    sync(env.ctx, [diag], actor=TEST)
    web_challenge(env, "web")
    for slug in ("diag-panel", "web"):
        instances.up(env.ctx, Selection(challenge=slug), TEST)
    mine = team_access.add_peer(env.ctx, a_id, "Ana's laptop", TEST)
    theirs = team_access.add_peer(env.ctx, b_id, "Bo's laptop", TEST)
    assert "PrivateKey = " in mine.config and mine.peer.address == "100.96.0.2"
    with env.ctx.store.read() as s:  # the private key is not kept anywhere
        from range_control.store.models import AuditLog, WireGuardPeer

        secret_part = mine.config.split("PrivateKey = ")[1].split()[0]
        assert all(secret_part not in repr(vars(r)) for r in s.query(WireGuardPeer))
        assert all(secret_part not in repr(r.detail) for r in s.query(AuditLog))
    wait_gateways(env, rec, client, [a_id, b_id], {"diag-panel", "web"})

    image = client_image(client, rec.backend, tmp_path)
    ana = laptop(client, image, lan, event, "ana")
    connect(ana, mine.config)
    gw_box = client.containers.get(gateway_name(event, a_id))
    assert handshake(ana), (sh(ana, "wg show")[1], gw_box.logs().decode())

    # Team A's services: by address, and by name through the gateway's DNS.
    web_a = _ip(client, name_of(env, a_id, "web"), network_name(event, a_id))
    code, out = sh(ana, f"curl -s -m 5 http://{web_a}:8080/")
    assert code == 0 and out == "convoy manifest\n", out
    code, out = sh(ana, "dig +short +time=2 +tries=2 @100.96.0.1 portal")
    assert out.split() == [web_a], out
    # A shipped solver, unchanged, through the tunnel (names from the range's DNS).
    sh(ana, "echo 'nameserver 100.96.0.1' > /etc/resolv.conf")
    solver = diag.directory / "solve" / "solve.py"
    code, out = sh(
        ana,
        "cat > /tmp/solve.py <<'EOF'\n" + solver.read_text() + "EOF\npython3 /tmp/solve.py",
        timeout=60,
    )
    assert code == 0, out
    assert check_flag(env.ctx, diag, a_id, out.strip().splitlines()[-1]), out  # raises if not

    # Not reachable: team B's services and entry points, the gateway's other side (the edge
    # network: every jumpbox and gateway), the host, the outside. Names of B: not resolved.
    web_b = _ip(client, name_of(env, b_id, "web"), network_name(event, b_id))
    edge = edge_network_name(event)
    targets = {
        "team B's service": (web_b, 8080),
        "team B's jumpbox": (_ip(client, jumpbox_name(event, b_id), edge), 2222),
        "team A's own jumpbox, edge side": (_ip(client, jumpbox_name(event, a_id), edge), 2222),
        "team B's gateway": (_ip(client, gateway_name(event, b_id), edge), 53),
    }
    for what, (ip, port) in targets.items():
        code, out = sh(ana, f"curl -s -m 3 telnet://{ip}:{port} </dev/null; echo rc=$?")
        assert "rc=0" not in out, (what, out)
    # The host: a listener of ours on every address, tried at the team network's bridge (the
    # host's side of it) and at the edge network's; the outside: a listener container on a
    # network of the test's own, routed into the tunnel by a client that wants to get out.
    host = Listener()
    outside = client.networks.create(
        f"rct-{event}-out", driver="bridge", labels={"rct.event": event}
    )
    try:
        far = client.containers.run(
            image,
            ["python3", "-m", "http.server", "8000"],
            name=f"rct-{event}-far",
            detach=True,
            network=outside.name,
            labels={"rct.event": event},
        )
        far_ip = _ip(client, far.name, outside.name)
        team_gw = client.api.inspect_network(network_name(event, a_id))["IPAM"]["Config"][0][
            "Gateway"
        ]
        edge_gw = client.api.inspect_network(edge)["IPAM"]["Config"][0]["Gateway"]
        gw_pub = mine.config.split("[Peer]\nPublicKey = ")[1].split()[0]
        code, out = sh(
            ana,
            f"wg set range peer {gw_pub} allowed-ips "
            f"10.213.0.0/16,100.96.0.1/32,{far_ip}/32 && "
            f"ip route add {far_ip}/32 dev range",
        )
        assert code == 0, out
        for ip in (team_gw, edge_gw):
            code, out = sh(ana, f"curl -s -m 3 telnet://{ip}:{host.port} </dev/null; echo rc=$?")
            assert "rc=0" not in out, (ip, out)
        code, out = sh(ana, f"curl -s -m 3 http://{far_ip}:8000/; echo rc=$?")
        assert "rc=0" not in out, out
        assert host.hits == []
    finally:
        host.close()
        for c in client.containers.list(all=True, filters={"label": f"rct.event={event}"}):
            if c.name.endswith("-far"):
                c.remove(force=True)
        outside.remove()

    # The organiser revokes the device: a second later it cannot handshake again (the client
    # forgets its session, so its next packet starts a handshake: never answered).
    team_access.revoke_peer(env.ctx, mine.peer.id, TEST)
    time.sleep(1)
    endpoint = mine.config.split("Endpoint = ")[1].split()[0]
    code, out = sh(
        ana,
        f"wg set range peer {gw_pub} remove && wg set range peer {gw_pub} "
        f"endpoint {endpoint} allowed-ips 10.213.0.0/16,100.96.0.1/32",
    )
    assert code == 0, out
    code, out = sh(ana, f"curl -s -m 6 http://{web_a}:8080/; echo rc=$?")
    assert "convoy" not in out, out
    code, out = sh(ana, "wg show range latest-handshakes")
    assert out.split()[-1] == "0", out
    # ... and the gateway no longer knows it.
    seen = client.containers.get(gateway_name(event, a_id)).exec_run(["wg", "show", "wg0", "peers"])
    assert mine.peer.public_key not in seen.output.decode()
    # B's device was not touched.
    assert (
        theirs.peer.public_key
        in client.containers.get(gateway_name(event, b_id))
        .exec_run(["wg", "show", "wg0", "peers"])
        .output.decode()
    )
    # Its device list is what the console shows.
    reason, gateways = team_access.gateways(env.ctx)
    assert reason is None and [g.team for g in gateways] == ["Bravo"]


def test_the_gateway_runs_with_least_privilege(wg_range, client: docker.DockerClient) -> None:
    env, rec, _lan = wg_range
    event = env.ctx.event_slug
    a_id, _ = env.team("Alpha", "NL")
    web_challenge(env, "web")
    instances.up(env.ctx, Selection(), TEST)
    team_access.add_peer(env.ctx, a_id, "laptop", TEST)
    wait_gateways(env, rec, client, [a_id], {"web"})
    host = client.api.inspect_container(gateway_name(event, a_id))["HostConfig"]
    assert host["CapDrop"] == ["ALL"] and host["CapAdd"] == ["NET_ADMIN"]
    assert [d["PathOnHost"] for d in host["Devices"]] == ["/dev/net/tun"]
    assert not host["Privileged"] and host["ReadonlyRootfs"]
    assert host["SecurityOpt"] == ["no-new-privileges:true"]
    assert not host.get("Binds") and not host.get("Mounts")
    assert list(host["PortBindings"]) == ["51820/udp"]
    nets = client.api.inspect_container(gateway_name(event, a_id))["NetworkSettings"]["Networks"]
    assert set(nets) == {edge_network_name(event), network_name(event, a_id)}
    code, out = sh(client.containers.get(gateway_name(event, a_id)), "iptables -S FORWARD")
    assert "-P FORWARD DROP" in out, out
