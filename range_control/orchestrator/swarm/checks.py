"""Check jobs on a Swarm: one service of one task per defended service and tick, of the
checker's wrapped image (published to the range's registry), on every team's defence overlay,
hardened like a job (``hardening.checker_limits``), its answers read from its logs as they
come. A job started by an earlier process is found by its name and read again."""

from __future__ import annotations

import contextlib
import json
import time
from collections.abc import Callable

import docker
import docker.errors
from docker.types import DNSConfig, EndpointSpec, Mount, RestartPolicy, ServiceMode

from range_control.orchestrator import hardening
from range_control.orchestrator.docker.checks import DNS_OPT, runner_spec
from range_control.orchestrator.swarm.common import ENDED, SwarmBase, service_name, task_template
from range_control.orchestrator.types import (
    EVENT,
    MANAGED,
    ROLE,
    BackendError,
    Cancel,
    CheckBatch,
    Observed,
)


class SwarmChecks(SwarmBase):
    def check_jobs(self, event: str) -> list[Observed]:
        rows = self.api.services(
            filters={"label": [f"{MANAGED}=1", f"{EVENT}={event}", f"{ROLE}=checker"]}
        )
        return [
            Observed(r["ID"], r["Spec"]["Name"], r["Spec"].get("Labels") or {}, "running")
            for r in rows
        ]

    def run_checks(
        self, batch: CheckBatch, cancel: Cancel, on_line: Callable[[str], None]
    ) -> int | None:
        sid = self._find_job(batch.name) or self._start_job(batch)
        seen = 0  # lines already handed over (the logs are read again from the start)
        code: int | None = None
        try:
            while True:
                state, code = self._state(sid)
                logs = b"".join(self.api.service_logs(sid, stdout=True, stderr=False))
                lines = [ln for ln in logs.split(b"\n") if ln.strip()]
                for ln in lines[seen:]:
                    on_line(ln.decode(errors="replace"))
                seen = max(seen, len(lines))
                if state in ENDED or cancel.is_set():
                    break
                time.sleep(0.5)
        except docker.errors.APIError as exc:
            raise BackendError(f"check job {batch.name}: {exc.explanation or exc}") from None
        finally:
            with contextlib.suppress(docker.errors.APIError):
                self.api.remove_service(sid)
        return None if cancel.is_set() else code

    def _state(self, sid: str) -> tuple[str, int | None]:
        tasks = self.api.tasks(filters={"service": sid})
        if not tasks:
            return "new", None
        status = tasks[0]["Status"]
        code = (status.get("ContainerStatus") or {}).get("ExitCode")
        return status["State"], code

    def _find_job(self, name: str) -> str | None:
        for svc in self.api.services(filters={"name": service_name(name)}):
            if svc["Spec"]["Name"] == service_name(name):
                return svc["ID"]
        return None

    def _start_job(self, batch: CheckBatch) -> str:
        image = self._publish(self.checker_image(batch))
        command = self.checker_command(batch.image, batch.command)
        cores = float(self.api.info().get("NCPU") or 1)
        limits = hardening.checker_limits(batch.job_memory, batch.job_cpus(cores))
        mounts = []
        if batch.state_volume:
            mounts.append(Mount("/state", batch.state_volume, type="volume"))
        template = task_template(
            image,
            limits,
            mounts=mounts,
            env=[f"RANGE_CHECK_BATCH={json.dumps(runner_spec(batch, command))}"],
            labels=batch.labels(),
            restart_policy=RestartPolicy("none"),
            networks=[{"Target": net} for net in batch.networks],
            dns_config=DNSConfig(options=DNS_OPT),
        )
        try:
            created = self.api.create_service(
                template,
                name=service_name(batch.name),
                labels=batch.labels(),
                mode=ServiceMode("replicated", replicas=1),
                endpoint_spec=EndpointSpec(mode="dnsrr"),
            )
        except docker.errors.APIError as exc:
            raise BackendError(
                f"checker of {batch.challenge} (tick {batch.tick}): {exc.explanation or exc}"
            ) from None
        return created["ID"]
