"""Images and one-shot jobs on one engine, and the operator's view of it."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from pathlib import Path

import docker
import docker.errors

from range_control.orchestrator import hardening, images
from range_control.orchestrator.docker.engine import (
    GUARD_RECHECK_SECONDS,
    EngineBase,
    engine_facts,
    networks_free,
)
from range_control.orchestrator.docker.guard import (
    host_guard_missing,
)
from range_control.orchestrator.types import (
    EVENT,
    MANAGED,
    ROLE,
    BackendError,
    Cancel,
    EngineFacts,
    Job,
    JobResult,
    NodeInfo,
)


class DockerJobs(EngineBase):
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

    def image_present(self, ref: str) -> bool:
        """Whether the engine has the image (the range pulls from no public registry)."""
        return images.image_exists(self.client, ref)

    def image_ref(self, tag: str) -> str:
        """One engine runs its local images as they are: nothing to push anywhere."""
        if not images.image_exists(self.client, tag):
            raise BackendError(f"image {tag!r} is not on this engine")
        return tag

    def build_image(self, context: Path, tag: str, label: str) -> None:
        self._build_here(context, tag, label)

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
                **hardening.docker_host_config(hardening.JOB, network_mode=job.network or "none")
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

    def facts(self) -> EngineFacts:
        return engine_facts(
            self.client, kind="docker", guard=host_guard_missing(), free=networks_free(self.client)
        )

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
