"""A Docker Swarm of several nodes on one machine, for the Swarm tests and benchmark.

Each node is a Docker-in-Docker container of ``infra/swarm-lab`` (Debian's docker.io on the
range base image) on a lab network of its own with fixed addresses; node 1 is the manager and
runs the range's registry (``infra/registry.sh``, Debian's docker-registry). The control plane
stays on this machine and talks to the manager's API over the lab network, as it would to a
real manager. ``--privileged`` is refused here, so the nodes get every capability but
SYS_RESOURCE, unconfined seccomp and AppArmor, and the cgroup tree read-write
(../shared/SWARM-LAB.md).
"""

from __future__ import annotations

import contextlib
import io
import os
import subprocess
import tarfile
import time
from dataclasses import dataclass, field
from typing import Any

import docker
import docker.errors

from range_control.orchestrator import images
from tests.support import REPO

CONTEXT = REPO / "infra" / "swarm-lab"
NETWORK = "rc-swarm-lab"
SUBNET = "172.30.99.0/24"
MANAGER_IP = "172.30.99.11"
REGISTRY = f"{MANAGER_IP}:5000"
LABEL = "range.swarm-lab"


def node_ip(i: int) -> str:
    return f"172.30.99.{10 + i}"


@dataclass
class Lab:
    host: Any  # the Docker client of this machine
    nodes: int = 3
    names: list[str] = field(default_factory=list)
    log: list[str] = field(default_factory=list)

    @property
    def manager_url(self) -> str:
        return f"tcp://{MANAGER_IP}:2375"

    def client(self, i: int = 1, timeout: int = 300) -> Any:
        return docker.DockerClient(base_url=f"tcp://{node_ip(i)}:2375", timeout=timeout)

    def say(self, msg: str) -> None:
        self.log.append(f"{time.strftime('%H:%M:%S')} {msg}")

    # --- up -----------------------------------------------------------------------------
    def image(self) -> str:
        tag = f"range/swarm-node:{images.context_digest(CONTEXT)[:16]}"
        images.build_context(
            self.host,
            challenge="(swarm lab)",
            service="node",
            context=CONTEXT,
            dockerfile=None,
            tag=tag,
        )
        return tag

    def up(self) -> Lab:
        """Start (or take over) the lab: nodes, swarm, registry, base image. Idempotent: a
        lab left by an earlier run is reused when its swarm is whole."""
        tag = self.image()
        self.say(f"node image {tag}")
        if self._whole(tag):
            self.say("reusing the running lab")
            return self
        self.down()
        ipam = docker.types.IPAMConfig(pool_configs=[docker.types.IPAMPool(subnet=SUBNET)])
        self.host.networks.create(NETWORK, driver="bridge", ipam=ipam, labels={LABEL: "1"})
        for i in range(1, self.nodes + 1):
            name = f"rc-lab-node{i}"
            self.host.api.create_container(
                tag,
                name=name,
                hostname=f"node{i}",
                labels={LABEL: "1", "range.image": tag},
                host_config=self.host.api.create_host_config(
                    cap_add=["ALL"],
                    cap_drop=["SYS_RESOURCE"],
                    security_opt=["seccomp=unconfined", "apparmor=unconfined"],
                    device_cgroup_rules=["a *:* rwm"],
                    binds={"/sys/fs/cgroup": {"bind": "/sys/fs/cgroup", "mode": "rw"}},
                    tmpfs={
                        "/var/lib/docker": "exec,size=6g",
                        "/run": "exec",
                        "/var/lib/docker-registry": "size=2g",
                    },
                ),
                networking_config=self.host.api.create_networking_config(
                    {
                        NETWORK: self.host.api.create_endpoint_config(ipv4_address=node_ip(i)),
                    }
                ),
            )
            self.host.api.start(name)
            self.names.append(name)
        for i in range(1, self.nodes + 1):
            self._wait_engine(i)
        self.say("engines up")
        manager = self.client(1)
        manager.swarm.init(
            advertise_addr=MANAGER_IP, default_addr_pool=["10.202.0.0/16"], subnet_size=24
        )
        token = manager.swarm.attrs["JoinTokens"]["Worker"]
        for i in range(2, self.nodes + 1):
            self.client(i).swarm.join(
                remote_addrs=[f"{MANAGER_IP}:2377"], join_token=token, advertise_addr=node_ip(i)
            )
        self._wait_ready()
        self.say("swarm formed")
        self._registry()
        self.say("registry up")
        self._base_image()
        self.say("base image on the manager")
        return self

    def _whole(self, tag: str) -> bool:
        found = self.host.containers.list(filters={"label": LABEL})
        if len(found) != self.nodes or any(c.labels.get("range.image") != tag for c in found):
            return False
        try:
            nodes = self.client(1, timeout=10).nodes.list()
            ready = [n for n in nodes if n.attrs["Status"]["State"] == "ready"]
            with self._registry_probe() as ok:
                registry_up = ok
        except Exception:  # noqa: BLE001 - anything wrong: start afresh
            return False
        self.names = sorted(c.name for c in found)
        return len(ready) == self.nodes and registry_up

    @contextlib.contextmanager
    def _registry_probe(self) -> Any:
        code = self.exec(
            1, ["curl", "-fsS", "--max-time", "2", "http://127.0.0.1:5000/v2/"], check=False
        )[0]
        yield code == 0

    def _wait_engine(self, i: int, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client(i, timeout=5).ping()
                return
            except Exception as exc:  # noqa: BLE001 - not up yet
                if time.monotonic() > deadline:
                    logs = self.host.api.logs(f"rc-lab-node{i}", tail=20).decode(errors="replace")
                    raise RuntimeError(
                        f"lab node {i}'s engine did not start: {exc}\n{logs}"
                    ) from None
                time.sleep(0.5)

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            nodes = self.client(1).nodes.list()
            if len([n for n in nodes if n.attrs["Status"]["State"] == "ready"]) == self.nodes:
                return
            if time.monotonic() > deadline:
                raise RuntimeError(f"swarm not ready: {[n.attrs['Status'] for n in nodes]}")
            time.sleep(0.5)

    def exec(self, i: int, cmd: list[str], check: bool = True) -> tuple[int, str]:
        done = self.host.containers.get(f"rc-lab-node{i}").exec_run(cmd, demux=False)
        out = (done.output or b"").decode(errors="replace")
        if check and done.exit_code != 0:
            raise RuntimeError(f"node {i}: {' '.join(cmd)} exited {done.exit_code}:\n{out}")
        return done.exit_code, out

    def _registry(self) -> None:
        """The product's own script, run on the manager (node 1)."""
        script = (REPO / "infra" / "registry.sh").read_bytes()
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w") as tar:
            info = tarfile.TarInfo("registry.sh")
            info.size, info.mode = len(script), 0o755
            tar.addfile(info, io.BytesIO(script))
        self.host.api.put_archive("rc-lab-node1", "/usr/local/sbin", buf.getvalue())
        self.exec(1, ["/usr/local/sbin/registry.sh"])

    def _base_image(self) -> None:
        manager = self.client(1)
        if images.image_exists(manager, images.BASE_IMAGE):
            return
        data = self.host.api.get_image(images.BASE_IMAGE)
        manager.api.load_image(b"".join(data))

    # --- faults and inspection ----------------------------------------------------------
    def drain(self, hostname: str) -> None:
        node = next(
            n for n in self.client(1).nodes.list() if n.attrs["Description"]["Hostname"] == hostname
        )
        spec = node.attrs["Spec"]
        node.update({**spec, "Availability": "drain"})

    def activate_all(self) -> None:
        for node in self.client(1).nodes.list():
            spec = node.attrs["Spec"]
            if spec.get("Availability") != "active":
                node.update({**spec, "Availability": "active"})

    def down(self) -> None:
        for c in self.host.containers.list(all=True, filters={"label": LABEL}):
            with contextlib.suppress(docker.errors.APIError):
                c.remove(force=True)
        for n in self.host.networks.list(filters={"label": LABEL}):
            with contextlib.suppress(docker.errors.APIError):
                n.remove()
        self.names = []


def main() -> None:  # pragma: no cover - by hand: python -m tests.swarm_lab up|down
    import sys

    lab = Lab(docker.from_env(timeout=300), nodes=int(os.environ.get("RANGE_LAB_NODES", "3")))
    if sys.argv[1:] == ["down"]:
        lab.down()
        return
    t0 = time.monotonic()
    lab.up()
    print("\n".join(lab.log))
    print(
        f"lab up in {time.monotonic() - t0:.0f} s: DOCKER_HOST={lab.manager_url} "
        f"RANGE_ENGINE=swarm RANGE_REGISTRY={REGISTRY}"
    )
    subprocess.run(["true"], check=True)


if __name__ == "__main__":  # pragma: no cover
    main()
