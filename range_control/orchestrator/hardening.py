"""The isolation contract of every container the range starts, written once.

Challenge services, the teams' entry points (jumpbox, WireGuard gateway) and one-shot jobs
(the live check's solvers, the flag helper) all get it, on one engine as on the Swarm:

- every capability dropped, then only the ones the spec allows added back;
- ``no-new-privileges`` (the Swarm's service API has no such option: the images it runs are
  rebuilt without setuid/setgid bits instead, ``swarm.registry``);
- never privileged, never a host path, never the Docker socket (no code path mounts anything
  but a tmpfs, the instance's flag volume or, for a defended service, its own data volume);
- an init (PID 1 that reaps), a read-only root where the spec says so, with its tmpfs;
- memory (no swap), CPU and pids limits;
- a capped log (two files of 1 MiB).

:class:`Limits` says what varies per container; :func:`docker_host_config` and
:func:`swarm_task` render the contract for each engine. Pure: the engines pass the results to
the Docker SDK.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from range_control.specs.environment import ServiceSpec

LOG_MAX = {"max-size": "1m", "max-file": "2"}
DROP_ALL = ["ALL"]
NO_NEW_PRIVILEGES = ["no-new-privileges:true"]


@dataclass(frozen=True)
class Limits:
    """What a container may use and keep: its limits and the few things the spec adds."""

    memory: int  # bytes, no swap beyond it
    cpus: float
    pids: int
    cap_add: tuple[str, ...] = ()
    read_only: bool = True
    tmpfs: Mapping[str, str] = field(default_factory=dict)  # path -> mount options ("size=8m")


def service_limits(spec: ServiceSpec) -> Limits:
    """A challenge's service as its ``challenge.yml`` limits it."""
    return Limits(
        memory=spec.memory_bytes,
        cpus=spec.cpus,
        pids=spec.pids,
        cap_add=tuple(spec.cap_add),
        read_only=spec.read_only,
        tmpfs=dict(spec.tmpfs),
    )


# What a team's shell in its defended service needs beyond the service's own: OpenSSH's
# privilege separation (SETUID, SETGID, SYS_CHROOT), root of the container editing the service's
# files whoever owns them (CHOWN, DAC_OVERRIDE, FOWNER) and restarting it (KILL). All of them
# Docker's defaults, none beyond; never privileged, never a host path.
SHELL_CAPS = (
    "CHOWN",
    "DAC_OVERRIDE",
    "FOWNER",
    "SETUID",
    "SETGID",
    "SYS_CHROOT",
    "KILL",
    "AUDIT_WRITE",
)


# A team's jumpbox: sshd (privilege separation, the team's login, its own host keys and
# password); not read-only, the entry point writes the password and fresh host keys. NET_ADMIN
# for root's route to the game network only: sshd and every session start without it (it is
# dropped from their bounding set).
JUMPBOX = Limits(
    memory=128 * 2**20,
    cpus=0.5,
    pids=256,
    cap_add=(*SHELL_CAPS, "NET_ADMIN"),  # the same sshd with a root-capable login
    read_only=False,
    tmpfs={"/tmp": "size=32m"},  # noqa: S108
)
# A team's WireGuard gateway: NET_ADMIN for the tun device, its address and its packet filter
# (forwarding in its own namespace only).
GATEWAY = Limits(
    memory=64 * 2**20,
    cpus=0.5,
    pids=64,
    cap_add=("NET_ADMIN",),
    read_only=True,
    tmpfs={"/run": "size=4m", "/tmp": "size=4m"},  # noqa: S108
)
# The event's game router (orchestrator.game): forwarding and its packet filter in its own
# namespace, nothing else; read-only.
GAME_ROUTER = Limits(
    memory=64 * 2**20,
    cpus=0.5,
    pids=32,
    cap_add=("NET_ADMIN",),
    read_only=True,
    tmpfs={"/run": "size=1m", "/tmp": "size=1m"},  # noqa: S108
)
# The range's own packet-filter keeper on each Swarm node (the host's network): it runs
# iptables, nothing else.
HOST_GUARD = Limits(
    memory=64 * 2**20, cpus=0.25, pids=64, cap_add=("NET_ADMIN", "NET_RAW"), read_only=False
)


def defended_limits(spec: ServiceSpec, shell: bool) -> Limits:
    """A team's copy of a defended service: its challenge's limits, a writable root (the team
    patches it), and the shell's capabilities when the team has a shell in it."""
    caps = tuple(dict.fromkeys((*spec.cap_add, *(SHELL_CAPS if shell else ()))))
    return Limits(
        memory=spec.memory_bytes,
        cpus=spec.cpus,
        pids=spec.pids,
        cap_add=caps,
        read_only=False,
        tmpfs=dict(spec.tmpfs),
    )


def checker_limits(memory: int, cpus: float) -> Limits:
    """A check job: the range's runner closes the container to connections in (NET_ADMIN,
    iptables), drops to an unprivileged user for the checker (SETUID, SETGID) and kills a
    checker past its timeout (KILL); the checker itself runs with no capability. Read-only
    root; its state lives in a volume."""
    return Limits(
        memory=memory,
        cpus=cpus,
        pids=1024,
        cap_add=("NET_ADMIN", "SETUID", "SETGID", "KILL"),
        read_only=True,
        tmpfs={"/tmp": "size=64m", "/run": "size=4m"},  # noqa: S108
    )


# A one-shot job (a solver, a helper): a little of everything, a writable root.
JOB = Limits(memory=512 * 2**20, cpus=1.0, pids=256, read_only=False)
HELPER = Limits(memory=32 * 2**20, cpus=0.25, pids=16, read_only=False)


def docker_host_config(limits: Limits, **extra: Any) -> dict[str, Any]:
    """Keyword arguments of the Docker SDK's ``create_host_config`` (``extra``: ports,
    mounts, devices, sysctls, network mode: what is not part of the contract)."""
    if "privileged" in extra or "binds" in extra or "volumes_from" in extra:
        raise ValueError("the isolation contract has no privileged mode and no host path")
    return {
        "cap_drop": DROP_ALL,
        "cap_add": list(limits.cap_add) or None,
        "security_opt": NO_NEW_PRIVILEGES,
        "privileged": False,
        "read_only": limits.read_only,
        "tmpfs": dict(limits.tmpfs) or None,
        "mem_limit": limits.memory,
        "memswap_limit": limits.memory,
        "nano_cpus": int(limits.cpus * 1e9),
        "pids_limit": limits.pids,
        "log_config": {"type": "json-file", "config": dict(LOG_MAX)},
        "init": True,
        **extra,
    }


@dataclass(frozen=True)
class SwarmTask:
    """The contract as a Swarm task takes it: the container spec's part, the resources and
    the log driver."""

    container: dict[str, Any]  # keyword arguments of docker.types.ContainerSpec
    memory: int
    nano_cpus: int
    pids: int
    log: dict[str, str]


def swarm_task(limits: Limits) -> SwarmTask:
    return SwarmTask(
        container={
            "cap_drop": DROP_ALL,
            "cap_add": list(limits.cap_add) or None,
            "read_only": limits.read_only,
            "init": True,
        },
        memory=limits.memory,
        nano_cpus=int(limits.cpus * 1e9),
        pids=limits.pids,
        log=dict(LOG_MAX),
    )


def tmpfs_bytes(options: str) -> int | None:
    """``size=8m`` (of a tmpfs's mount options) in bytes; None when no size is given."""
    sizes = {"k": 1024, "m": 1024**2, "g": 1024**3}
    for part in options.split(","):
        key, _, value = part.partition("=")
        if key.strip() == "size" and value:
            value = value.strip().lower()
            return int(value[:-1]) * sizes[value[-1]] if value[-1] in sizes else int(value)
    return None
