"""What the Docker and Swarm engines share: the client, the engine's facts, the sweep of an event,
the jumpbox image with an event's packages, and the state every part of an engine keeps
(``EngineBase``)."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import shlex
import shutil
import threading
from collections import defaultdict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import docker
import docker.errors

from range_control.orchestrator import images
from range_control.orchestrator.types import (
    EVENT,
    MANAGED,
    BackendError,
    EngineFacts,
)

_LOCKS: defaultdict[tuple[str, str], threading.Lock] = defaultdict(threading.Lock)
_GUARD = threading.Lock()


class EngineUnavailable(BackendError):
    """No Docker engine answers where the settings (``DOCKER_HOST``) point."""


def engine_client(timeout: int = 300) -> Any:
    """A client of the engine ``DOCKER_HOST`` (or the local socket) names, known to answer."""
    try:
        client = docker.from_env(timeout=timeout)
        client.ping()
    except Exception as exc:  # noqa: BLE001 - any failure here means "no engine"
        raise EngineUnavailable(
            f"no Docker engine answers ({exc.__class__.__name__}): run infra/engine.sh"
        ) from None
    return client


def engine_facts(
    client: Any, *, kind: str, guard: tuple[str, ...], free: int | None
) -> EngineFacts:
    info = client.api.info()
    root_free = None
    root = info.get("DockerRootDir")
    if root and os.path.isdir(root) and kind == "docker":
        root_free = shutil.disk_usage(root).free
    return EngineFacts(
        kind=kind,
        version=str(info.get("ServerVersion", "?")),
        system_time=info.get("SystemTime"),
        memory_bytes=int(info.get("MemTotal") or 0),
        root_free_bytes=root_free,
        networks_free=free,
        guard_missing=guard,
    )


def networks_free(client: Any) -> int | None:
    """How many more /size networks the engine's default address pools hold: the pools'
    capacity less the bridges already in them."""
    pools = client.api.info().get("DefaultAddressPools") or DOCKER_DEFAULT_POOLS
    nets = [ipaddress.ip_network(p["Base"], strict=False) for p in pools]
    capacity = sum(
        2 ** max(0, int(p["Size"]) - n.prefixlen) for p, n in zip(pools, nets, strict=True)
    )
    used = 0
    for net in client.api.networks(filters={"driver": "bridge"}):
        for cfg in (net.get("IPAM") or {}).get("Config") or []:
            with contextlib.suppress(ValueError, KeyError):
                subnet = ipaddress.ip_network(cfg["Subnet"], strict=False)
                used += any(subnet.subnet_of(n) for n in nets if subnet.version == n.version)
    return max(0, capacity - used)


# Where the engine's default address pools are not set (daemon.json), Docker's built-in ones.
DOCKER_DEFAULT_POOLS = [
    {"Base": "172.17.0.0/12", "Size": 16},
    {"Base": "192.168.0.0/16", "Size": 20},
]


def sweep(client: Any, event: str) -> None:
    """Remove every container, volume and network labelled with ``event``, whatever the
    database says (a backstop for throw-away ranges: checks, tests, benchmarks)."""
    flt = {"label": [f"{MANAGED}=1", f"{EVENT}={event}"]}
    api = client.api

    def remove(cid: str) -> None:
        with contextlib.suppress(docker.errors.APIError):
            api.remove_container(cid, force=True)

    with ThreadPoolExecutor(4) as pool:  # removal is mostly waiting on the engine
        list(pool.map(remove, [c["Id"] for c in api.containers(all=True, filters=flt)]))
    for v in api.volumes(filters=flt).get("Volumes") or []:
        with contextlib.suppress(docker.errors.APIError):
            api.remove_volume(v["Name"], force=True)
    for n in api.networks(filters=flt):
        with contextlib.suppress(docker.errors.APIError):
            api.remove_network(n["Id"])


def with_packages(
    client: Any, lock: Callable[[str], threading.Lock], base: str, packages: tuple[str, ...]
) -> str:
    """``base`` (the jumpbox image) with the event's extra Debian packages, built once per
    list; apt's refusal named (a Swarm publishes the result to its registry afterwards)."""
    tag = images.with_packages_tag(base, packages)
    with lock(f"img:{tag}"):
        try:
            images.build_with_packages(client, base=base, packages=packages, tag=tag)
        except images.ImageError as exc:
            raise BackendError(str(exc)) from None
    return tag


GUARD_RECHECK_SECONDS = 30.0


class EngineBase:
    """What every part of an engine (networks, services, access, jobs) shares: the SDK's
    client and its low-level API, and named locks (one build of an image, one creation of a
    network at a time)."""

    client: Any
    api: Any
    publish_ip: str
    health_interval_ns: int
    _guarded_at: float
    _synced: dict[str, str]  # container id -> the access digest this process synced

    def _lock(self, key: str) -> threading.Lock:
        """One lock per engine and key for the whole process: two backends on one engine (the
        live check's ranges side by side) never build, wrap or push the same tag at once."""
        with _GUARD:
            return _LOCKS[(self.api.base_url, key)]

    def _build_here(self, context: Path, tag: str, label: str) -> None:
        """Build ``context`` into ``tag`` on this engine, once at a time per tag; the build's
        refusal as a BackendError naming it."""
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

    def _create_named(self, image: str, name: str, **kwargs: Any) -> dict[str, Any]:
        """``create_container`` under ``name``. A container of that name the pass did not see
        is one an earlier pass asked for and no longer waited on (it was killed mid-request
        and the engine made it after the pass had listed the event): its state is unknown
        (made, maybe not started, maybe without its flag), so it goes and is made afresh."""
        try:
            return self.api.create_container(image, name=name, **kwargs)
        except docker.errors.APIError as exc:
            if exc.status_code != 409:
                raise
        with contextlib.suppress(docker.errors.NotFound):
            self.api.remove_container(name, force=True)
        return self.api.create_container(image, name=name, **kwargs)

    def _exec(self, container: str, command: list[str], who: str) -> tuple[int | None, str]:
        """Run ``command`` as root in a running container of ours: its exit code and output;
        the engine's refusal as a BackendError naming ``who``."""
        try:
            done = self.api.exec_create(container, command, user="root")
            out = self.api.exec_start(done["Id"]).decode(errors="replace")
            return self.api.exec_inspect(done["Id"]).get("ExitCode"), out
        except docker.errors.APIError as exc:
            raise BackendError(f"{who}: {exc.explanation or exc}") from None

    def _own_image(self, name: str) -> str:
        """One of the range's own images (jumpbox, wireguard, game), built here once per
        content."""
        with images.own_context(name) as context:
            tag = f"range/{name}:{images.context_digest(context)[:16]}"
            with self._lock(f"img:{tag}"):
                images.build_context(
                    self.client,
                    challenge=f"({name})",
                    service=name,
                    context=context,
                    dockerfile=None,
                    tag=tag,
                )
        return tag

    def wrapped(self, kind: str, source: str, challenge: str) -> str:
        """``source`` wrapped for a defended service or a checker (built once)."""
        with self._lock(f"wrap:{kind}:{source}"):
            try:
                return images.build_wrapper(self.client, kind, source, challenge=challenge)
            except images.ImageError as exc:
                raise BackendError(str(exc)) from None

    def defended_command(self, run: Any) -> tuple[list[str], str]:
        """A defended service's command (its image's entrypoint, then the challenge's command
        or the image's) and the user it runs as: the wrapper's supervisor runs them."""
        entrypoint, cmd, user = images.image_command(self.client, run.image)
        given = run.spec.command
        args = shlex.split(given) if isinstance(given, str) else list(given or [])
        return [*entrypoint, *(args or cmd)], user

    def checker_image(self, batch: Any) -> str:
        """The check job's image: the checker's (built from its directory here when this
        engine does not have it yet, as the reconciler builds a service's), wrapped."""
        if batch.context and not images.image_exists(self.client, batch.image):
            self._build_here(Path(batch.context), batch.image, batch.challenge)
        return self.wrapped("checker", batch.image, batch.challenge)

    def checker_command(self, image: str, given: tuple[str, ...]) -> list[str]:
        """What a check job's runner runs: the challenge's checker command, or its image's."""
        if given:
            return list(given)
        entrypoint, cmd, _user = images.image_command(self.client, image)
        return [*entrypoint, *cmd]
