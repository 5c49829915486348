"""A team instance's services and the jumpboxes as Swarm services, under the isolation contract
(``orchestrator.hardening``), and what exists of an event."""

from __future__ import annotations

import contextlib
import secrets
import time
from collections import defaultdict
from typing import Any

import docker
import docker.errors
from docker.types import (
    EndpointSpec,
    Healthcheck,
    Mount,
    RestartPolicy,
    SecretReference,
    ServiceMode,
)

from range_control.orchestrator import hardening
from range_control.orchestrator.swarm.common import (
    ENDED,
    RUNNING,
    WAITING,
    SwarmBase,
    _gone,
    edge_name,
    service_name,
    task_template,
)
from range_control.orchestrator.types import (
    ACCESS,
    EVENT,
    INSTANCE,
    MANAGED,
    ROLE,
    SERVICE,
    TEAM,
    BackendError,
    DesiredInstance,
    DesiredJumpbox,
    Observed,
    ServiceRun,
    container_name,
    defence_network_name,
    jumpbox_name,
    network_name,
)


class SwarmServices(SwarmBase):
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

    def ensure_defence_network(self, event: str, team_id: int) -> str:
        labels = {EVENT: event, TEAM: str(team_id), ROLE: "defence-network"}
        return self._overlay(defence_network_name(event, team_id), internal=True, labels=labels)

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
        image: str,
        limits: hardening.Limits,
        *,
        networks: list[dict[str, Any]],
        ports: dict[int, int],
        mounts: list[Mount] | None = None,
        **container: Any,
    ) -> Observed:
        """One replicated service of one task under the isolation contract: ``container``
        holds the ContainerSpec's own arguments (command, environment, healthcheck...)."""
        template = task_template(
            image,
            limits,
            labels=labels,
            mounts=mounts or [],
            restart_policy=RestartPolicy("on-failure", delay=5_000_000_000, max_attempts=3),
            placement=self._placement(),
            networks=networks,
            **container,
        )
        endpoint = EndpointSpec(
            mode="dnsrr",
            ports={host: (cport, "tcp", "host") for cport, host in ports.items()} or None,
        )
        spec = {
            "name": service_name(name),
            "labels": labels,
            "mode": ServiceMode("replicated", replicas=1),
            "endpoint_spec": endpoint,
        }
        try:
            try:
                created = self.api.create_service(template, **spec)
            except docker.errors.APIError as exc:
                if "already exists" not in str(exc.explanation or exc):
                    raise
                # A service of that name the pass did not see: an earlier pass was killed
                # mid-request and the manager made it after this pass listed the event. Its
                # state is unknown: it goes and is made afresh.
                with contextlib.suppress(docker.errors.NotFound):
                    self.api.remove_service(service_name(name))
                created = self.api.create_service(template, **spec)
        except docker.errors.APIError as exc:
            raise BackendError(f"{name}: {exc.explanation or exc}") from None
        return Observed(created["ID"], service_name(name), labels, "starting")

    def _defended(
        self, inst: DesiredInstance, run: ServiceRun, env: dict[str, str], name: str
    ) -> tuple[str, list[str] | None, list[Mount], hardening.Limits, list[dict[str, Any]]]:
        """A defended service's image (the wrapper, published), command, data volumes (on
        the node its task runs on), limits and its place on the team's defence network."""
        d = run.defended
        assert d is not None
        image = self._publish(self.wrapped("defended", run.image, inst.challenge))
        command, user = self.defended_command(run)
        env["RANGE_SERVICE_USER"] = user
        if d.shell:
            env["RANGE_SHELL_PASSWORD"] = d.password
        mounts = [
            Mount(
                path,
                volume,
                type="volume",
                labels={**inst.labels(run.spec.name), ROLE: "data-volume"},
            )
            for volume, path in inst.data_volumes(run)
        ]
        nets = []
        if d.target:
            self.ensure_defence_network(inst.event, inst.team_id)
            nets.append({"Target": defence_network_name(inst.event, inst.team_id)})
        limits = hardening.defended_limits(run.spec, d.shell)
        return image, command, mounts, limits, nets

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
        command = spec.command
        args = ["/bin/sh", "-c", command] if isinstance(command, str) else command
        published = inst.host_ports(spec.name) if spec.exposure == "published" else {}
        nets = [{"Target": network_name(inst.event, inst.team_id), "Aliases": [spec.name]}]
        if published:
            nets.append({"Target": edge_name(inst.event, inst.team_id)})
        mounts: list[Mount] = []
        limits = hardening.service_limits(spec)
        image = ""
        try:
            if run.defended is not None:
                image, args, mounts, limits, more = self._defended(inst, run, env, name)
                nets.extend(more)
            return self._create(
                name,
                labels,
                image or self._publish(run.image),
                limits,
                networks=nets,
                ports=published,
                mounts=mounts,
                args=args,
                hostname=spec.name,
                env=[f"{k}={v}" for k, v in env.items()],
                secrets=refs or None,
                healthcheck=self._healthcheck(spec.healthcheck),
            )
        except BackendError:
            self._remove_secrets(inst.labels(spec.name))
            raise

    def create_jumpbox(self, jb: DesiredJumpbox) -> Observed:
        name = jumpbox_name(jb.event, jb.team_id)
        labels = {**jb.labels(), ACCESS: jb.access()}
        nets = [
            {"Target": network_name(jb.event, jb.team_id), "Aliases": ["jumpbox"]},
            {"Target": edge_name(jb.event, jb.team_id)},
        ]
        return self._create(
            name,
            labels,
            self.jumpbox_image(jb.packages),
            hardening.JUMPBOX,
            networks=nets,
            ports={2222: jb.port},
            hostname="jumpbox",
            env=[f"{k}={v}" for k, v in jb.environment().items()],
            # Running means sshd answers (a task moved to another node starts afresh).
            healthcheck=self._healthcheck(["nc", "-z", "127.0.0.1", "2222"]),
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
