"""A team's WireGuard in a test: a range with a gateway, a 'laptop' container on a LAN of its own
that connects to it, handshakes, listeners."""

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
    gateway_name,
)
from range_control.services.environments import instances
from range_control.services.environments.run import EnvironmentReconciler
from tests.support.env import Env, make_env, migrated_sqlite, unique_event

CLIENT_PACKAGES = "wireguard-go wireguard-tools iproute2 iptables"


def address_of(client: docker.DockerClient, container: str, network: str) -> str:
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
