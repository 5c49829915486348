"""One-shot jobs on a Swarm (a service of one task that is never restarted), WireGuard (off:
services take no devices) and the operator's view of the swarm."""

from __future__ import annotations

import contextlib
import time
from collections import defaultdict

import docker
import docker.errors
from docker.types import (
    EndpointSpec,
    RestartPolicy,
    ServiceMode,
)

from range_control.orchestrator import hardening
from range_control.orchestrator.docker.access import session_lines
from range_control.orchestrator.docker.engine import (
    engine_facts,
)
from range_control.orchestrator.swarm.common import (
    ENDED,
    SwarmBase,
    service_name,
    task_template,
)
from range_control.orchestrator.types import (
    ACCESS,
    EVENT,
    MANAGED,
    ROLE,
    BackendError,
    Cancel,
    DesiredGateway,
    DesiredJumpbox,
    EngineFacts,
    Job,
    JobResult,
    NodeInfo,
    Observed,
    PeerSeen,
)


class SwarmJobs(SwarmBase):
    # --- jobs ---------------------------------------------------------------------------
    def run_job(self, job: Job, cancel: Cancel) -> JobResult:
        labels = {MANAGED: "1", EVENT: job.event, ROLE: "solver"}
        template = task_template(
            self._published.get(job.image) or self._publish(job.image),
            hardening.JOB,
            mounts=[],
            args=list(job.command),
            labels=labels,
            restart_policy=RestartPolicy("none"),
            networks=[{"Target": job.network}] if job.network else None,
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

    # --- WireGuard: not on a Swarm ------------------------------------------------------
    def wireguard_problem(self) -> str | None:
        return (
            "a Swarm service cannot be given /dev/net/tun (services take no devices): "
            "WireGuard access is off with RANGE_ENGINE=swarm; teams use the SSH jumpbox"
        )

    def address_pools(self) -> list[str]:
        return []

    def create_gateway(self, gw: DesiredGateway) -> Observed:
        raise BackendError(str(self.wireguard_problem()))

    def gateway_peers(self, obs: Observed) -> list[PeerSeen]:
        return []

    def session_log(self, obs: Observed, since: int) -> list[str]:
        """The service's output (its task's, wherever it ran) from ``since`` on."""
        try:
            logs = self.api.service_logs(obs.id, stdout=True, stderr=False, since=since or None)
            out = b"".join(logs)
        except docker.errors.APIError as exc:
            raise BackendError(f"{obs.name}: {exc.explanation or exc}") from None
        return session_lines(out)

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
