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
  spread across nodes.

Nothing here reads the database; placement (node, address) comes back in ``Observed``.
"""

from __future__ import annotations

import contextlib
import hashlib
import secrets
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import docker
import docker.errors
from docker.types import (
    ContainerSpec,
    DriverConfig,
    EndpointSpec,
    Healthcheck,
    Mount,
    Placement,
    Resources,
    RestartPolicy,
    SecretReference,
    ServiceMode,
    TaskTemplate,
)

from range_control.orchestrator import images
from range_control.orchestrator.backend import (
    ACCESS,
    EVENT,
    INSTANCE,
    MANAGED,
    ROLE,
    SERVICE,
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
    jumpbox_name,
    network_name,
)
from range_control.orchestrator.docker_backend import (
    JUMPBOX_CAPS,
    LOG_MAX,
    engine_client,
    engine_facts,
    with_packages,
)

if TYPE_CHECKING:
    from range_control.core.settings import Settings

GUARD_SERVICE = "rc-host-guard"
GUARDED = "range.guarded"  # node label the reconciler keeps: the guard is healthy there
NODE_ROLE = "range.role"  # node label the operator sets: "challenges" (where tasks may go)
PUBLIC_HOST = "range.public-host"  # node label: the address teams use to reach that node
MAX_NAME = 63  # Swarm's limit on a service name
RUNNING = "running"
WAITING = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting"}
ENDED = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove"}
_SIZE = {"k": 1024, "m": 1024**2, "g": 1024**3}


def service_name(name: str) -> str:
    """A Swarm service name: the engine's name, cut to 63 characters with a hash when longer."""
    if len(name) <= MAX_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_NAME - 9].rstrip('-')}-{digest}"


def edge_name(event: str, team_id: int) -> str:
    return f"{network_name(event, team_id)}-edge"


def _gone(exc: docker.errors.APIError) -> bool:
    """A Swarm manager answers 500 "... not found" for what another request removed."""
    return isinstance(exc, docker.errors.NotFound) or "not found" in str(exc.explanation or exc)


def _tmpfs_size(options: str) -> int | None:
    for part in options.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "size" and value:
            value = value.strip().lower()
            return int(value[:-1]) * _SIZE[value[-1]] if value[-1] in _SIZE else int(value)
    return None


class SwarmBackend:
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
        self._locks: dict[str, threading.Lock] = defaultdict(threading.Lock)
        self._guard = threading.Lock()
        self._published: dict[str, str] = {}  # local tag -> registry reference by digest
        self._guard_checked = 0.0

    def _lock(self, key: str) -> threading.Lock:
        with self._guard:
            return self._locks[key]

    @staticmethod
    def _of(event: str) -> dict[str, list[str]]:
        return {"label": [f"{MANAGED}=1", f"{EVENT}={event}"]}

    # --- what exists --------------------------------------------------------------------
    def _nodes(self) -> dict[str, dict[str, Any]]:
        return {n["ID"]: n for n in self.api.nodes()}

    @staticmethod
    def _address(node: dict[str, Any]) -> str:
        labels = (node.get("Spec") or {}).get("Labels") or {}
        return labels.get(PUBLIC_HOST) or (node.get("Status") or {}).get("Addr") or ""

    def containers(self, event: str) -> list[Observed]:
        services = self.api.services(filters=self._of(event))
        if not services:
            return []
        tasks: dict[str, list[dict[str, Any]]] = defaultdict(list)
        for t in self.api.tasks(filters={"service": [s["ID"] for s in services]}):
            tasks[t["ServiceID"]].append(t)
        nodes = self._nodes()
        out = []
        for svc in services:
            spec = svc.get("Spec") or {}
            mine = sorted(
                tasks.get(svc["ID"], []), key=lambda t: t.get("UpdatedAt", ""), reverse=True
            )
            current = next((t for t in mine if t.get("DesiredState") == RUNNING), None)
            last_end = next((t for t in mine if t["Status"]["State"] in ENDED), None)
            has_health = bool(
                ((spec.get("TaskTemplate") or {}).get("ContainerSpec") or {}).get("Healthcheck")
            )
            # No task meant to run: Swarm gave up on a failing one ("exited", the reconciler's
            # restart budget applies), or is between two (a drain, an update: "starting").
            latest = mine[0]["Status"]["State"] if mine else "new"
            status = "exited" if latest in ("failed", "rejected") else "starting"
            health = None
            task = current or (mine[0] if mine else None)
            if current is not None:
                state = current["Status"]["State"]
                if state == RUNNING:
                    status, health = "running", ("healthy" if has_health else None)
                elif state in WAITING:
                    status = "starting"
                    health = "starting" if state == "starting" and has_health else None
            error = None
            if last_end is not None and last_end["Status"]["State"] in ("failed", "rejected"):
                error = last_end["Status"].get("Err") or last_end["Status"].get("Message")
            if current is not None and current["Status"].get("Err"):
                error = current["Status"]["Err"]  # e.g. "no suitable node (...)": not placed
            node = nodes.get((task or {}).get("NodeID", ""))
            out.append(
                Observed(
                    id=svc["ID"],
                    name=spec.get("Name", "?"),
                    labels=spec.get("Labels") or {},
                    status=status,
                    health=health,
                    node=((node or {}).get("Description") or {}).get("Hostname"),
                    address=self._address(node) if node else None,
                    error=None if status == "running" else error,
                )
            )
        return out

    def networks(self, event: str) -> dict[str, str]:
        return {n["Name"]: n["Id"] for n in self.api.networks(filters=self._of(event))}

    def volumes(self, event: str) -> list[str]:
        """The event's flag secrets that no service uses any more (a launch cut short): the
        reconciler removes them like stray volumes."""
        used = set()
        for svc in self.api.services(filters=self._of(event)):
            cspec = svc["Spec"]["TaskTemplate"].get("ContainerSpec") or {}
            used.update(s["SecretName"] for s in cspec.get("Secrets") or [])
        return [
            s["Spec"]["Name"]
            for s in self.api.secrets(filters=self._of(event))
            if s["Spec"]["Name"] not in used
        ]

    # --- networks -----------------------------------------------------------------------
    def team_networks(self, event: str, team_id: int) -> list[str]:
        return [network_name(event, team_id), edge_name(event, team_id)]

    def shared_networks(self, event: str) -> list[str]:
        return []  # each team's edge is its own: an overlay cannot forbid traffic inside it

    def _overlay(self, name: str, *, internal: bool, labels: dict[str, str]) -> str:
        with self._lock(f"net:{name}"):
            for n in self.api.networks(names=[name], filters={"label": f"{MANAGED}=1"}):
                if n["Name"] == name:
                    return n["Id"]
            created = self.api.create_network(
                name,
                driver="overlay",
                internal=internal,
                attachable=False,
                scope="swarm",
                labels={MANAGED: "1", **labels},
                check_duplicate=True,
            )
            return created["Id"]

    def ensure_network(self, event: str, team_id: int) -> str:
        base = {EVENT: event, TEAM: str(team_id)}
        self._overlay(
            edge_name(event, team_id), internal=False, labels={**base, ROLE: "edge-network"}
        )
        return self._overlay(
            network_name(event, team_id), internal=True, labels={**base, ROLE: "team-network"}
        )

    def ensure_edge_network(self, event: str) -> str:
        return ""

    # --- the host guard -----------------------------------------------------------------
    def ensure_host_guard(self) -> None:
        """The guard runs on every node; nodes where it is healthy are labelled guarded, the
        others not (no new challenge task goes there). Re-checked at most every 10 s; the first
        time, waits up to two minutes for a first node to be guarded."""
        with self._lock("host-guard"):
            if time.monotonic() - self._guard_checked < 10:
                return
            self._start_guard()
            deadline = time.monotonic() + 120
            # Wait for the nodes whose guard is still on its way (a fresh node pulls its image):
            # tasks placed before they are guarded would all go to the first guarded node.
            while (guarded := self._label_guarded()) != self._eligible() and self._arriving(
                guarded
            ):
                if time.monotonic() > deadline:
                    break
                time.sleep(1)
            while not self._label_guarded():
                if time.monotonic() > deadline:
                    raise BackendError(
                        f"the host guard ({GUARD_SERVICE}) is healthy on no node: no challenge "
                        "task is placed until it is (it needs NET_ADMIN and iptables on each "
                        "node; `docker service ps rc-host-guard` on the manager says why)"
                    )
                time.sleep(1)
            self._guard_checked = time.monotonic()

    def prepare(self, progress: Callable[[str], None]) -> None:
        """Before an event: the guard healthy on every eligible node (ready and active, and
        labelled range.role=challenges when any is), or a clear error naming those it is not."""
        self._start_guard()
        deadline = time.monotonic() + 180
        while True:
            guarded = self._label_guarded()
            wanted = self._eligible()
            missing = sorted(wanted - guarded)
            progress(f"host guard healthy on {len(wanted) - len(missing)} of {len(wanted)} nodes")
            if not missing:
                return
            if time.monotonic() > deadline:
                raise BackendError(f"the host guard is not healthy on: {', '.join(missing)}")
            time.sleep(1)

    def _arriving(self, guarded: set[str]) -> bool:
        """Is the guard on its way (not failed) on an eligible node that is not guarded yet?"""
        hosts = {n["ID"]: n["Description"]["Hostname"] for n in self.api.nodes()}
        waiting = {
            hosts.get(t["NodeID"], "")
            for t in self.api.tasks(filters={"service": GUARD_SERVICE})
            if t.get("DesiredState") == RUNNING and t["Status"]["State"] in WAITING
        }
        return bool((self._eligible() - guarded) & waiting)

    def _eligible(self) -> set[str]:
        nodes = [
            n
            for n in self.api.nodes()
            if n["Status"].get("State") == "ready" and n["Spec"].get("Availability") == "active"
        ]
        marked = [
            n for n in nodes if (n["Spec"].get("Labels") or {}).get(NODE_ROLE) == "challenges"
        ]
        return {n["Description"]["Hostname"] for n in (marked or nodes)}

    def _start_guard(self) -> None:
        image = self._guard_image()
        found = [
            s
            for s in self.api.services(filters={"name": GUARD_SERVICE})
            if s["Spec"]["Name"] == GUARD_SERVICE
        ]
        if found and found[0]["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"] == image:
            return
        if found:
            self.api.remove_service(found[0]["ID"])
        self._create_guard(image)

    def _label_guarded(self) -> set[str]:
        """Label the nodes where the guard is healthy (and unlabel the others); their names."""
        healthy = {
            t["NodeID"]
            for t in self.api.tasks(filters={"service": GUARD_SERVICE})
            if t["Status"]["State"] == RUNNING and t.get("DesiredState") == RUNNING
        }
        names = set()
        for node in self.api.nodes():
            labels = dict((node.get("Spec") or {}).get("Labels") or {})
            want = node["ID"] in healthy
            if want:
                names.add(node["Description"]["Hostname"])
            if (labels.get(GUARDED) == "yes") != want:
                if want:
                    labels[GUARDED] = "yes"
                else:
                    labels.pop(GUARDED, None)
                spec = {**node["Spec"], "Labels": labels}
                self.api.update_node(node["ID"], node["Version"]["Index"], spec)
        return names

    def _guard_image(self) -> str:
        context = Path(__file__).parent / "guard"
        tag = f"range/guard:{images.context_digest(context)[:16]}"
        return self._build_and_publish(context, tag, "(host guard)")

    def _create_guard(self, image: str) -> None:
        spec = ContainerSpec(
            image,
            labels={MANAGED: "1", ROLE: "host-guard"},
            init=True,
            cap_add=["NET_ADMIN", "NET_RAW"],
            cap_drop=["ALL"],
        )
        template = TaskTemplate(
            spec,
            restart_policy=RestartPolicy("any", delay=2_000_000_000),
            networks=[{"Target": "host"}],
            log_driver=DriverConfig("json-file", LOG_MAX),
        )
        self.api.create_service(
            template,
            name=GUARD_SERVICE,
            mode=ServiceMode("global"),
            labels={MANAGED: "1", ROLE: "host-guard"},
        )

    def _placement(self) -> Placement:
        constraints = [f"node.labels.{GUARDED}==yes"]
        if any(
            ((n.get("Spec") or {}).get("Labels") or {}).get(NODE_ROLE) == "challenges"
            for n in self.api.nodes()
        ):
            constraints.append(f"node.labels.{NODE_ROLE}==challenges")
        return Placement(constraints=constraints, preferences=[("spread", "node.id")])

    # --- images -------------------------------------------------------------------------
    def _push(self, tag: str) -> str:
        """Push ``tag`` (already named after the registry); its reference by digest."""
        repo, _, version = tag.rpartition(":")
        try:
            for chunk in self.api.push(repo, version, stream=True, decode=True):
                if "error" in chunk:
                    raise BackendError(
                        f"pushing {tag} to the registry {self.registry} failed: "
                        f"{chunk['error'].strip()} (is it running? infra/registry.sh)"
                    )
        except docker.errors.APIError as exc:
            raise BackendError(
                f"pushing {tag} to {self.registry}: {exc.explanation or exc}"
            ) from None
        digests = self.api.inspect_image(tag).get("RepoDigests") or []
        ref = next((d for d in digests if d.startswith(f"{repo}@")), None)
        if ref is None:
            raise BackendError(f"the registry {self.registry} gave no digest for {tag}")
        return ref

    def _harden(self, tag: str, target: str) -> None:
        """``target``: ``tag`` without setuid or setgid files (the service API has no
        no-new-privileges), as the user it had."""
        user = (self.api.inspect_image(tag).get("Config") or {}).get("User") or "root"
        with tempfile.TemporaryDirectory(prefix="rc-harden-") as d:
            (Path(d) / "Dockerfile").write_text(
                f"FROM {tag}\nUSER root\n"
                "RUN find / -xdev -perm /6000 -type f -exec chmod a-s {} + 2>/dev/null; true\n"
                f"USER {user}\n"
            )
            try:
                images.build_context(
                    self.client,
                    challenge=tag,
                    service="hardened",
                    context=Path(d),
                    dockerfile=None,
                    tag=target,
                )
            except images.ImageError as exc:
                raise BackendError(f"{tag}: cannot remove its setuid bits: {exc}") from None

    def _publish(self, tag: str) -> str:
        """The registry copy of a local image (hardened), by digest; made once per process."""
        with self._lock(f"pub:{tag}"):
            if tag in self._published:
                return self._published[tag]
            target = f"{self.registry}/{tag}"
            if not images.image_exists(self.client, target):
                self._harden(tag, target)
            ref = self._push(target)
            self._published[tag] = ref
            return ref

    def _build_and_publish(self, context: Path, tag: str, label: str) -> str:
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
        return self._publish(tag)

    def ensure_image(self, run: ServiceRun, challenge: str, source_dir: str | None) -> None:
        with self._lock(f"img:{run.image}"):
            if not images.image_exists(self.client, run.image):
                if run.spec.build is None or source_dir is None:
                    raise BackendError(
                        f"challenge {challenge}, service {run.spec.name}: image {run.image!r} "
                        "is not on the manager (no public registry is used: build or import it "
                        "there first)"
                    )
                images.build_context(
                    self.client,
                    challenge=challenge,
                    service=run.spec.name,
                    context=Path(source_dir) / run.spec.build,
                    dockerfile=run.spec.dockerfile,
                    tag=run.image,
                )
        self._publish(run.image)

    def ensure_base_image(
        self, progress: Callable[[str], None], *, rebuild: bool = False, tag: str | None = None
    ) -> bool:
        try:
            return images.build_base(
                self.client, tag=tag or images.BASE_IMAGE, rebuild=rebuild, progress=progress
            )
        except images.ImageError as exc:
            raise BackendError(str(exc)) from None

    def jumpbox_image(self, packages: tuple[str, ...] = ()) -> str:
        context = Path(__file__).parent / "jumpbox"
        tag = f"range/jumpbox:{images.context_digest(context)[:16]}"
        ref = self._build_and_publish(context, tag, "(jumpbox)")
        if not packages:
            return ref
        return self._publish(with_packages(self.client, self._lock, tag, packages))

    # --- WireGuard: not on a Swarm ------------------------------------------------------
    def wireguard_problem(self) -> str | None:
        return (
            "a Swarm service cannot be given /dev/net/tun (services take no devices): "
            "WireGuard access is off with RANGE_ENGINE=swarm; teams use the SSH jumpbox"
        )

    def wireguard_image(self) -> str:
        raise BackendError(str(self.wireguard_problem()))

    def address_pools(self) -> list[str]:
        return []

    def create_gateway(self, gw: DesiredGateway) -> Observed:
        raise BackendError(str(self.wireguard_problem()))

    def gateway_peers(self, obs: Observed) -> list[PeerSeen]:
        return []

    def sync_access(self, obs: Observed, want: DesiredJumpbox | DesiredGateway) -> bool:
        """A service's task cannot be changed in place: a jumpbox whose keys changed is
        replaced (its label says which keys it was given)."""
        return obs.labels.get(ACCESS) == want.access()

    def facts(self) -> EngineFacts:
        """The manager's engine; the guard as the node labels say (unguarded eligible nodes);
        overlay networks come from the swarm's own large pool (not counted)."""
        unguarded = sorted(self._eligible() - self._label_guarded())
        guard = tuple(f"host guard not healthy on node {n}" for n in unguarded)
        return engine_facts(self.client, kind="swarm", guard=guard, free=None)

    def image_present(self, ref: str) -> bool:
        """Whether the manager has the image (it pushes it to the range's registry)."""
        return images.image_exists(self.client, ref)

    def image_ref(self, tag: str) -> str:
        """The registry copy every node pulls (hardened, pushed if not yet), by digest."""
        if not images.image_exists(self.client, tag):
            raise BackendError(f"image {tag!r} is not on the manager: build it first")
        return self._publish(tag)

    def build_image(self, context: Path, tag: str, label: str) -> None:
        self._build_and_publish(context, tag, label)

    # --- creating -----------------------------------------------------------------------
    def _secret(self, name: str, flag: str, labels: dict[str, str], path: str) -> SecretReference:
        secret_name = f"{name[:50]}-flag-{secrets.token_hex(4)}"
        created = self.api.create_secret(
            secret_name, (flag + "\n").encode(), labels={**labels, ROLE: "flag-secret"}
        )
        return SecretReference(
            created["ID"], secret_name, filename=path, uid="0", gid="0", mode=0o400
        )

    def _healthcheck(self, test: list[str] | str | None) -> Healthcheck | None:
        if not test:
            return None
        cmd = ["CMD", *test] if isinstance(test, list) else ["CMD-SHELL", test]
        # Swarm replaces an unhealthy task (one engine only reports it): a service slow to
        # come up gets a minute before its failures count.
        return Healthcheck(
            test=cmd,
            interval=self.health_interval_ns,
            timeout=3_000_000_000,
            retries=3,
            start_period=60_000_000_000,
        )

    def _create(
        self,
        name: str,
        labels: dict[str, str],
        spec: ContainerSpec,
        *,
        networks: list[dict[str, Any]],
        memory: int,
        cpus: float,
        pids: int,
        ports: dict[int, int],
    ) -> Observed:
        resources = Resources(cpu_limit=int(cpus * 1e9), mem_limit=memory)
        resources["Limits"]["Pids"] = pids
        template = TaskTemplate(
            spec,
            resources=resources,
            restart_policy=RestartPolicy("on-failure", delay=5_000_000_000, max_attempts=3),
            placement=self._placement(),
            log_driver=DriverConfig("json-file", LOG_MAX),
            networks=networks,
        )
        endpoint = EndpointSpec(
            mode="dnsrr",
            ports={host: (cport, "tcp", "host") for cport, host in ports.items()} or None,
        )
        try:
            created = self.api.create_service(
                template,
                name=service_name(name),
                labels=labels,
                mode=ServiceMode("replicated", replicas=1),
                endpoint_spec=endpoint,
            )
        except docker.errors.APIError as exc:
            raise BackendError(f"{name}: {exc.explanation or exc}") from None
        return Observed(created["ID"], service_name(name), labels, "starting")

    def create_service(self, inst: DesiredInstance, run: ServiceRun) -> Observed:
        spec = run.spec
        name = container_name(inst.event, inst.team_id, inst.challenge, spec.name)
        labels = {**inst.labels(spec.name), ROLE: "service"}
        env = dict(spec.environment)
        if spec.flag.env:
            env["RANGE_FLAG"] = inst.flag
        refs = []
        if spec.flag.file:
            refs.append(self._secret(name, inst.flag, inst.labels(spec.name), spec.flag.file))
        mounts = [
            Mount(target=path, source=None, type="tmpfs", tmpfs_size=_tmpfs_size(opts))
            for path, opts in spec.tmpfs.items()
        ]
        command = spec.command
        args = ["/bin/sh", "-c", command] if isinstance(command, str) else command
        container = ContainerSpec(
            self._publish(run.image),
            args=args,
            hostname=spec.name,
            env=[f"{k}={v}" for k, v in env.items()],
            labels=labels,
            mounts=mounts,
            secrets=refs or None,
            read_only=spec.read_only,
            healthcheck=self._healthcheck(spec.healthcheck),
            init=True,
            cap_add=spec.cap_add or None,
            cap_drop=["ALL"],
        )
        published = inst.host_ports(spec.name) if spec.exposure == "published" else {}
        nets = [{"Target": network_name(inst.event, inst.team_id), "Aliases": [spec.name]}]
        if published:
            nets.append({"Target": edge_name(inst.event, inst.team_id)})
        try:
            return self._create(
                name,
                labels,
                container,
                networks=nets,
                memory=spec.memory_bytes,
                cpus=spec.cpus,
                pids=spec.pids,
                ports=published,
            )
        except BackendError:
            self._remove_secrets(inst.labels(spec.name))
            raise

    def create_jumpbox(self, jb: DesiredJumpbox) -> Observed:
        name = jumpbox_name(jb.event, jb.team_id)
        labels = {**jb.labels(), ACCESS: jb.access()}
        container = ContainerSpec(
            self.jumpbox_image(jb.packages),
            hostname="jumpbox",
            labels=labels,
            env=[
                f"RANGE_JUMPBOX_PASSWORD={jb.password}",
                "RANGE_JUMPBOX_KEYS=" + "\n".join(jb.keys),
            ],
            # Running means sshd answers (a task moved to another node starts afresh).
            healthcheck=self._healthcheck(["nc", "-z", "127.0.0.1", "2222"]),
            mounts=[Mount(target="/tmp", source=None, type="tmpfs", tmpfs_size=32 * 2**20)],  # noqa: S108
            init=True,
            cap_add=JUMPBOX_CAPS,
            cap_drop=["ALL"],
        )
        nets = [
            {"Target": network_name(jb.event, jb.team_id), "Aliases": ["jumpbox"]},
            {"Target": edge_name(jb.event, jb.team_id)},
        ]
        return self._create(
            name,
            labels,
            container,
            networks=nets,
            memory=128 * 2**20,
            cpus=0.5,
            pids=256,
            ports={2222: jb.port},
        )

    # --- repairing and removing ---------------------------------------------------------
    def restart(self, obs: Observed) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.client.services.get(obs.id).force_update()

    def _remove_secrets(self, labels: dict[str, str]) -> None:
        keys = (MANAGED, EVENT, INSTANCE, SERVICE, TEAM)
        flt = {"label": [f"{k}={v}" for k, v in labels.items() if k in keys]}
        for s in self.api.secrets(filters=flt):
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_secret(s["ID"])

    def remove_container(self, obs: Observed) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_service(obs.id)
        if obs.labels.get(INSTANCE):
            self._remove_secrets(obs.labels)

    def remove_network(self, name: str) -> None:
        try:
            self.api.remove_network(name)
        except docker.errors.APIError as exc:
            if not _gone(exc):
                raise

    def remove_volume(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_secret(name)

    def sweep(self, event: str) -> None:
        for svc in self.api.services(filters=self._of(event)):
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_service(svc["ID"])
        for s in self.api.secrets(filters=self._of(event)):
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_secret(s["ID"])
        deadline = time.monotonic() + 30  # a network goes once its tasks have stopped
        for n in self.api.networks(filters=self._of(event)):
            while True:
                try:
                    self.api.remove_network(n["Id"])
                    break
                except docker.errors.APIError as exc:
                    if _gone(exc) or time.monotonic() > deadline:
                        break
                    time.sleep(0.5)

    # --- jobs ---------------------------------------------------------------------------
    def run_job(self, job: Job, cancel: Cancel) -> JobResult:
        labels = {MANAGED: "1", EVENT: job.event, ROLE: "solver"}
        container = ContainerSpec(
            self._published.get(job.image) or self._publish(job.image),
            args=list(job.command),
            labels=labels,
            init=True,
            cap_drop=["ALL"],
        )
        resources = Resources(mem_limit=512 * 2**20)
        resources["Limits"]["Pids"] = 256
        template = TaskTemplate(
            container,
            resources=resources,
            restart_policy=RestartPolicy("none"),
            networks=[{"Target": job.network}] if job.network else None,
            log_driver=DriverConfig("json-file", {"max-size": "1m"}),
        )
        created = self.api.create_service(
            template,
            name=service_name(job.name),
            labels=labels,
            mode=ServiceMode("replicated", replicas=1),
            endpoint_spec=EndpointSpec(mode="dnsrr"),
        )
        sid = created["ID"]
        try:
            deadline = time.monotonic() + job.timeout
            state, code, timed_out = "", -1, False
            while True:
                tasks = self.api.tasks(filters={"service": sid})
                if tasks:
                    status = tasks[0]["Status"]
                    state = status["State"]
                    code = int((status.get("ContainerStatus") or {}).get("ExitCode", -1))
                    if state in ENDED:
                        break
                if cancel.is_set() or time.monotonic() > deadline:
                    timed_out = not cancel.is_set()
                    break
                time.sleep(0.25)
            out = b"".join(self.api.service_logs(sid, stdout=True, stderr=False)).decode(
                errors="replace"
            )
            err = b"".join(self.api.service_logs(sid, stdout=False, stderr=True)).decode(
                errors="replace"
            )
            if state == "rejected" and not err:
                err = status.get("Err") or ""
            return JobResult(code if not timed_out else -1, out, err, timed_out)
        finally:
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_service(sid)

    def why_down(self, obs: Observed, lines: int) -> str:
        tasks = sorted(
            self.api.tasks(filters={"service": obs.id}),
            key=lambda t: t.get("UpdatedAt", ""),
            reverse=True,
        )
        status = tasks[0]["Status"] if tasks else {}
        code = (status.get("ContainerStatus") or {}).get("ExitCode")
        logs = b"".join(self.api.service_logs(obs.id, stdout=True, stderr=True, tail=lines)).decode(
            errors="replace"
        )
        tail = "\n".join(ln for ln in logs.splitlines() if ln.strip())
        head = f"exit code {code}" if code is not None else status.get("Err", "no task")
        return head + (f":\n{tail}" if tail else "")

    # --- the operator's view ------------------------------------------------------------
    def cluster(self, event: str) -> list[NodeInfo]:
        nodes = self._nodes()
        mine = self.containers(event)
        per_node: dict[str, list[Observed]] = defaultdict(list)
        for o in mine:
            if o.status == "running" and o.node:
                per_node[o.node].append(o)
        limits = {
            s["ID"]: ((s["Spec"]["TaskTemplate"].get("Resources") or {}).get("Limits") or {}).get(
                "MemoryBytes", 0
            )
            for s in self.api.services(filters=self._of(event))
        }
        out = []
        for n in nodes.values():
            host = (n.get("Description") or {}).get("Hostname", n["ID"][:12])
            running = per_node.get(host, [])
            out.append(
                NodeInfo(
                    name=host,
                    role=n["Spec"].get("Role", "worker"),
                    state=n["Status"].get("State", "unknown"),
                    availability=n["Spec"].get("Availability", "active"),
                    address=self._address(n),
                    labels=dict(n["Spec"].get("Labels") or {}),
                    memory_bytes=int(
                        ((n.get("Description") or {}).get("Resources") or {}).get("MemoryBytes", 0)
                    ),
                    reserved_bytes=sum(int(limits.get(o.id, 0)) for o in running),
                    instances=len(running),
                )
            )
        return out
