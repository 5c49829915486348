"""Check jobs on one engine: one container per defended service and tick, of the checker's image
wrapped with the range's runner (``contexts/checker``), on every team's defence network,
hardened (``hardening.checker_limits``), its answers read from its output as they come.

A job outlives the process that started it: a worker that restarts finds it by its labels and
reads its output again from the beginning (recording is idempotent), so a tick is neither lost
nor counted twice.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections.abc import Callable

import docker
import docker.errors
from docker.types import Mount

from range_control.orchestrator import hardening
from range_control.orchestrator.docker.engine import EngineBase
from range_control.orchestrator.types import (
    EVENT,
    MANAGED,
    ROLE,
    BackendError,
    Cancel,
    CheckBatch,
    Observed,
)


class DockerChecks(EngineBase):
    def check_jobs(self, event: str) -> list[Observed]:
        rows = self.api.containers(
            all=True, filters={"label": [f"{MANAGED}=1", f"{EVENT}={event}", f"{ROLE}=checker"]}
        )
        return [
            Observed(
                id=r["Id"],
                name=(r.get("Names") or ["?"])[0].lstrip("/"),
                labels=r.get("Labels") or {},
                status=r.get("State", "unknown"),
            )
            for r in rows
        ]

    def run_checks(
        self, batch: CheckBatch, cancel: Cancel, on_line: Callable[[str], None]
    ) -> int | None:
        """Start the batch's job (or find it, started by an earlier process), hand every line it
        prints to ``on_line``, remove it when it has ended: its exit code (None: cancelled)."""
        cid = self._find(batch.name) or self._start(batch)
        stop = threading.Event()

        def watch() -> None:  # a cancel (a pause of the checks) kills the job
            while not stop.wait(0.25):
                if cancel.is_set():
                    with contextlib.suppress(docker.errors.APIError):
                        self.api.kill(cid)
                    return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        try:
            pending = b""
            for chunk in self.api.logs(cid, stdout=True, stderr=False, stream=True, follow=True):
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    if line.strip():
                        on_line(line.decode(errors="replace"))
            if pending.strip():
                on_line(pending.decode(errors="replace"))
            code = self.api.wait(cid, timeout=30).get("StatusCode")
        except docker.errors.APIError as exc:
            raise BackendError(f"check job {batch.name}: {exc.explanation or exc}") from None
        finally:
            stop.set()
        if cancel.is_set():
            code = None
        with contextlib.suppress(docker.errors.APIError):
            self.api.remove_container(cid, force=True)
        return code

    def _find(self, name: str) -> str | None:
        for c in self.api.containers(all=True, filters={"name": f"^/{name}$"}):
            return c["Id"]
        return None

    def _start(self, batch: CheckBatch) -> str:
        mounts = []
        if batch.state_volume:
            self.api.create_volume(
                batch.state_volume,
                labels={MANAGED: "1", EVENT: batch.event, ROLE: "checker-state"},
            )
            mounts.append(Mount("/state", batch.state_volume, type="volume"))
        cores = float(self.api.info().get("NCPU") or 1)
        limits = hardening.checker_limits(batch.job_memory, batch.job_cpus(cores))
        first, *rest = batch.networks
        image = self.checker_image(batch)
        command = self.checker_command(batch.image, batch.command)
        try:
            created = self.api.create_container(
                image,
                name=batch.name,
                environment={"RANGE_CHECK_BATCH": json.dumps(runner_spec(batch, command))},
                labels=batch.labels(),
                host_config=self.api.create_host_config(
                    # The engine answers for the teams' services at once; a name it does not
                    # know (a service that is gone) is asked of a resolver the internal network
                    # cannot reach: one second, once, then DOWN, not 20 s and a timeout.
                    **hardening.docker_host_config(limits, mounts=mounts or None, dns_opt=DNS_OPT)
                ),
                networking_config=self.api.create_networking_config(
                    {first: self.api.create_endpoint_config()}
                ),
            )
            for net in rest:
                self.api.connect_container_to_network(created["Id"], net)
            self.api.start(created["Id"])
        except docker.errors.APIError as exc:
            raise BackendError(
                f"checker of {batch.challenge} (tick {batch.tick}): {exc.explanation or exc}"
            ) from None
        return created["Id"]


DNS_OPT = ["timeout:1", "attempts:1"]


def runner_spec(batch: CheckBatch, command: list[str]) -> dict[str, object]:
    """What the runner reads (``RANGE_CHECK_BATCH``)."""
    return {
        "contract": batch.contract,
        "command": command,
        "port": batch.port,
        "timeout": batch.timeout,
        "deadline": batch.deadline,
        "parallel": batch.parallel,
        "tags": list(batch.tags),
        "targets": [
            {"team": t.team_id, "host": t.host, "start": t.start_after, "actions": list(t.actions)}
            for t in batch.targets
        ],
    }
