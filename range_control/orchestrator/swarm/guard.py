"""The host guard on a Swarm: a global service on every node's host network (``NET_ADMIN``) keeping
the packet-filter rules of ``contexts/guard/guard.sh`` in place; its healthcheck is the rules.
Nodes where it is healthy carry ``range.guarded=yes``, and the range's tasks go only there."""

from __future__ import annotations

import time
from collections.abc import Callable

from docker.types import (
    RestartPolicy,
    ServiceMode,
)

from range_control.orchestrator import hardening, images
from range_control.orchestrator.swarm.common import (
    GUARD_SERVICE,
    GUARDED,
    NODE_ROLE,
    RUNNING,
    WAITING,
    SwarmBase,
    task_template,
)
from range_control.orchestrator.types import (
    MANAGED,
    ROLE,
    BackendError,
)


class SwarmGuard(SwarmBase):
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
        context = images.CONTEXTS / "guard"
        tag = f"range/guard:{images.context_digest(context)[:16]}"
        return self._build_and_publish(context, tag, "(host guard)")

    def _create_guard(self, image: str) -> None:
        template = task_template(
            image,
            hardening.HOST_GUARD,
            mounts=[],
            labels={MANAGED: "1", ROLE: "host-guard"},
            restart_policy=RestartPolicy("any", delay=2_000_000_000),
            networks=[{"Target": "host"}],
        )
        self.api.create_service(
            template,
            name=GUARD_SERVICE,
            mode=ServiceMode("global"),
            labels={MANAGED: "1", ROLE: "host-guard"},
        )
