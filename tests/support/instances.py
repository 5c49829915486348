"""Live challenge instances on the real engine for a test: a range with a reconciler, a web
challenge that serves its flag, names and a shell in its containers."""

from __future__ import annotations

import random
import shutil
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest
import yaml

from range_control.orchestrator.docker import DockerBackend
from range_control.orchestrator.docker.engine import sweep
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.environments.run import EnvironmentReconciler
from tests.support.engine import BUSYBOX
from tests.support.env import TEST, Env, make_env, migrated_sqlite, unique_event


@pytest.fixture
def instance_range(
    client: docker.DockerClient, tmp_path: Path
) -> Iterator[tuple[Env, EnvironmentReconciler]]:
    event = unique_event()
    url = migrated_sqlite(tmp_path / "range.db")
    # A port range of its own (the engine is shared), below Linux's ephemeral ports (32768+),
    # which outgoing connections of this very run may hold.
    low = 21000 + random.randrange(0, 110) * 100
    env = make_env(
        url, tmp_path, event_slug=event, port_range=f"{low}-{low + 99}", public_host="127.0.0.1"
    )
    backend = DockerBackend(client, publish_ip="127.0.0.1", health_interval=1.0)
    rec = EnvironmentReconciler(env.ctx, backend, pool=4)
    try:
        yield env, rec
    finally:
        sweep(client, event)
        env.ctx.store.dispose()


def web_challenge(
    env: Env, slug: str = "web", environment_lifetime: str = "2h", **service: object
) -> None:
    """A live challenge: busybox httpd FROM the base image, flag by env and by file."""
    d = env.tmp / "pack" / slug
    (d / "src").mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, d / "src" / "busybox")
    (d / "src" / "index.html").write_text("convoy manifest\n")
    (d / "src" / "Dockerfile").write_text(
        "FROM range/base:bookworm\nCOPY busybox /bin/busybox\nCOPY index.html /srv/www/index.html\n"
        'CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv/www"]\n'
    )
    svc = {
        "name": "portal",
        "build": "src",
        "ports": [8080],
        "healthcheck": ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"],
        "flag": {"env": True, "file": "/run/flag/flag"},
    }
    svc.update(service)
    spec = {
        "name": slug,
        "slug": slug,
        "value": 100,
        "dynamic_flag": {"prefix": "ICE"},
        "environment": {"lifetime": environment_lifetime, "services": [svc]},
    }
    (d / "challenge.yml").write_text(yaml.safe_dump(spec))
    result = lint([env.tmp / "pack"])
    assert result.ok, [str(p) for p in result.problems]
    sync(env.ctx, result.challenges, actor=TEST)


def sh(client: docker.DockerClient, container: str, cmd: str) -> tuple[int, str]:
    res = client.containers.get(container).exec_run(["/bin/sh", "-c", cmd])
    return res.exit_code, res.output.decode(errors="replace")


def fetch(client: docker.DockerClient, container: str, host: str, port: int) -> tuple[int, str]:
    """HTTP GET from inside a container with bash's /dev/tcp (no client tool needed)."""
    script = f'exec 3<>/dev/tcp/{host}/{port} && printf "GET / HTTP/1.0\\r\\n\\r\\n" >&3 && cat <&3'
    return sh(client, container, f"timeout 4 bash -c '{script}'")


def name_of(env: Env, team_id: int, slug: str = "web", svc: str = "portal") -> str:
    return f"rc-{env.ctx.event_slug}-t{team_id}-{slug}-{svc}"
