"""A team instance's service containers on one engine, under the isolation contract
(``orchestrator.hardening``), and what exists of an event."""

from __future__ import annotations

import contextlib
import io
import posixpath
import tarfile
from pathlib import Path

import docker
import docker.errors
from docker.types import Mount

from range_control.orchestrator import hardening, images
from range_control.orchestrator.docker.engine import (
    EngineBase,
    sweep,
)
from range_control.orchestrator.types import (
    EVENT,
    MANAGED,
    ROLE,
    BackendError,
    DesiredInstance,
    Observed,
    ServiceRun,
    container_name,
    dns_name,
    edge_network_name,
    flag_volume_name,
    network_name,
)
from range_control.specs.environment import ServiceSpec


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


class DockerServices(EngineBase):
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
                **hardening.docker_host_config(
                    hardening.HELPER, mounts=[Mount("/d", volume, type="volume")]
                )
            ),
        )
        try:
            self.api.put_archive(helper["Id"], "/d", _flag_tar(posixpath.basename(path), inst.flag))
        finally:
            self.api.remove_container(helper["Id"], force=True)
        return Mount(posixpath.dirname(path), volume, type="volume", read_only=True)

    def _healthcheck(self, spec: ServiceSpec) -> dict[str, object] | None:
        if not spec.healthcheck:
            return None
        test = (
            ["CMD", *spec.healthcheck]
            if isinstance(spec.healthcheck, list)
            else ["CMD-SHELL", spec.healthcheck]
        )
        return {
            "test": test,
            "interval": self.health_interval_ns,
            "timeout": 3_000_000_000,
            "retries": 3,
            "start_period": 1_000_000_000,
        }

    def _defended(
        self, inst: DesiredInstance, run: ServiceRun, env: dict[str, str]
    ) -> tuple[str, list[str] | str | None, list[Mount], hardening.Limits]:
        """A defended service's image (the wrapper), command, data volumes and limits."""
        d = run.defended
        assert d is not None
        image = self.wrapped("defended", run.image, inst.challenge)
        command, user = self.defended_command(run)
        env["RANGE_SERVICE_USER"] = user
        if d.shell:
            env["RANGE_SHELL_PASSWORD"] = d.password
        mounts = []
        for volume, path in inst.data_volumes(run):
            self.api.create_volume(
                volume, labels={**inst.labels(run.spec.name), ROLE: "data-volume"}
            )
            mounts.append(Mount(path, volume, type="volume"))
        return image, command, mounts, hardening.defended_limits(run.spec, d.shell)

    def create_service(self, inst: DesiredInstance, run: ServiceRun) -> Observed:
        spec = run.spec
        name = container_name(inst.event, inst.team_id, inst.challenge, spec.name)
        net = network_name(inst.event, inst.team_id)
        env = dict(spec.environment)
        if spec.flag.env:
            env["RANGE_FLAG"] = inst.flag
        image, command = run.image, spec.command
        mounts: list[Mount] = []
        limits = hardening.service_limits(spec)
        if run.defended is not None:
            image, command, mounts, limits = self._defended(inst, run, env)
        elif spec.flag.file and spec.read_only:
            mounts.append(self._flag_volume(inst, run))
        published = inst.host_ports(spec.name) if spec.exposure == "published" else {}
        host_config = self.api.create_host_config(
            **hardening.docker_host_config(
                limits,
                port_bindings={c: (self.publish_ip, h) for c, h in published.items()} or None,
                mounts=mounts or None,
            )
        )
        if published:  # first on the edge network (for the port), then on the team's
            first = {edge_network_name(inst.event): self.api.create_endpoint_config()}
        else:
            first = {net: self.api.create_endpoint_config(aliases=[spec.name])}
        try:
            created = self._create_named(
                image,
                name=name,
                # The engine makes a container's hostname a DNS alias on *every* network it
                # joins: a published service named by it on the edge network would answer for
                # its name to every team's jumpbox there (and to its own team's, at an address
                # the edge network does not forward). Its name stays on the team network only.
                hostname=name[:63] if published else spec.name,
                command=command,
                environment=env,
                labels={**inst.labels(spec.name), ROLE: "service"},
                host_config=host_config,
                healthcheck=self._healthcheck(spec),
                ports=list(published) or None,
                networking_config=self.api.create_networking_config(first),
            )
            if published:
                self.api.connect_container_to_network(created["Id"], net, aliases=[spec.name])
            if run.defended is not None and run.defended.target:
                # The checkers reach it by its name, unique across teams (a DNS label).
                defence = self.ensure_defence_network(inst.event, inst.team_id)
                self.api.connect_container_to_network(
                    created["Id"], defence, aliases=[dns_name(name)]
                )
            if spec.flag.file and not (spec.read_only and run.defended is None):
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

    def remove_volume(self, name: str) -> None:
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_volume(name, force=True)

    def sweep(self, event: str) -> None:
        sweep(self.client, event)

    def why_down(self, obs: Observed, lines: int) -> str:
        info = self.api.inspect_container(obs.id)["State"]
        logs = self.api.logs(obs.id, tail=lines).decode(errors="replace")
        tail = "\n".join(ln for ln in logs.splitlines() if ln.strip())
        return f"exit code {info.get('ExitCode')}" + (f":\n{tail}" if tail else "")
