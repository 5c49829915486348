"""What every part of the Swarm engine shares: service names, node labels, task states, and the
state it keeps (``SwarmBase``)."""

from __future__ import annotations

from typing import Any

import docker
import docker.errors
from docker.types import (
    ContainerSpec,
    DriverConfig,
    Mount,
    Placement,
    Resources,
    TaskTemplate,
)

from range_control.orchestrator import hardening
from range_control.orchestrator.docker.engine import (
    EngineBase,
)
from range_control.orchestrator.types import (
    EVENT,
    MANAGED,
    dns_name,
    network_name,
)

GUARD_SERVICE = "rc-host-guard"


GUARDED = "range.guarded"  # node label the reconciler keeps: the guard is healthy there


NODE_ROLE = "range.role"  # node label the operator sets: "challenges" (where tasks may go)


PUBLIC_HOST = "range.public-host"  # node label: the address teams use to reach that node


RUNNING = "running"


WAITING = {"new", "pending", "assigned", "accepted", "preparing", "ready", "starting"}


ENDED = {"complete", "failed", "shutdown", "rejected", "orphaned", "remove"}


def service_name(name: str) -> str:
    """A Swarm service name: the engine's name, cut to 63 characters with a hash when longer."""
    return dns_name(name)


def edge_name(event: str, team_id: int) -> str:
    return f"{network_name(event, team_id)}-edge"


def _gone(exc: docker.errors.APIError) -> bool:
    """A Swarm manager answers 500 "... not found" for what another request removed."""
    return isinstance(exc, docker.errors.NotFound) or "not found" in str(exc.explanation or exc)


class SwarmBase(EngineBase):
    registry: str
    _published: dict[str, str]  # local tag -> registry reference by digest
    _guard_checked: float

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

    def _placement(self) -> Placement:
        constraints = [f"node.labels.{GUARDED}==yes"]
        if any(
            ((n.get("Spec") or {}).get("Labels") or {}).get(NODE_ROLE) == "challenges"
            for n in self.api.nodes()
        ):
            constraints.append(f"node.labels.{NODE_ROLE}==challenges")
        return Placement(constraints=constraints, preferences=[("spread", "node.id")])


def task_template(
    image: str, limits: hardening.Limits, *, mounts: list[Mount], **task: Any
) -> TaskTemplate:
    """A Swarm task under the isolation contract (``orchestrator.hardening``): ``limits``
    rendered into its container spec, resources and log driver. ``task``: the ContainerSpec's
    own arguments and the template's (restart policy, placement, networks)."""
    contract = hardening.swarm_task(limits)
    template_keys = ("restart_policy", "placement", "networks")
    of_template = {k: task.pop(k) for k in template_keys if k in task}
    tmpfs = [
        Mount(target=path, source=None, type="tmpfs", tmpfs_size=hardening.tmpfs_bytes(opts))
        for path, opts in limits.tmpfs.items()
    ]
    spec = ContainerSpec(image, mounts=[*tmpfs, *mounts], **contract.container, **task)
    resources = Resources(cpu_limit=contract.nano_cpus, mem_limit=contract.memory)
    resources["Limits"]["Pids"] = contract.pids
    return TaskTemplate(
        spec, resources=resources, log_driver=DriverConfig("json-file", contract.log), **of_template
    )
