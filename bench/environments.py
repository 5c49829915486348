"""Environment bring-up benchmark: 40 teams x 5 single-service challenges (200 containers).

Measured in the same run, on the same engine, with the same parallelism (8):

* raw: a plain Docker SDK loop creating the equivalent objects (a network per team; per team
  five hardened service containers with the flag in the environment, and a jumpbox);
* ours: ``environments.up`` + one reconciler pass (desired state in SQLite, port allocation,
  labels, the same containers).

Reports containers/s for both, the overhead of ours, the time until every service container is
healthy, and the memory of an idle instance (cgroup v1 ``memory.usage_in_bytes``).

    python bench/environments.py [--teams 40] [--challenges 5] [--pool 8]
    python bench/environments.py --engine swarm [--swarm-first]

With ``--engine swarm`` the comparison is the product against itself: the same range (same
teams, challenges, settings) brought up by the reconciler on this machine's one engine and on
the three-node Swarm lab (tests/support/swarm_lab.py, Docker-in-Docker nodes sharing this machine's
cores), each by a process of its own whose peak memory is the control plane's. Until all
healthy means every instance running and healthy as the reconciler observes it (passes every
second, as ``rangectl worker`` would). The lab's nodes pull the images before the timed run
(not timed: a real event pulls them once, the day before).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import docker
import yaml
from docker.types import LogConfig

from range_control.context import Range
from range_control.core.actors import Actor
from range_control.core.settings import Settings
from range_control.orchestrator import images
from range_control.orchestrator.docker import DockerBackend
from range_control.orchestrator.docker.engine import sweep
from range_control.orchestrator.docker.guard import bridge_name
from range_control.orchestrator.types import EVENT, MANAGED
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.environments import instances
from range_control.services.environments.instances import Selection
from range_control.services.environments.run import EnvironmentReconciler
from range_control.services.people import teams
from range_control.store import migrate

BENCH = Actor.range("bench")
HEALTH_INTERVAL = 10.0  # the product's default (RANGE_HEALTH_INTERVAL)
HEALTH = ["/bin/busybox", "wget", "-q", "-O", "/dev/null", "http://127.0.0.1:8080/"]


def pack(root: Path, n: int) -> None:
    for i in range(n):
        d = root / f"b{i}"
        (d / "src").mkdir(parents=True)
        shutil.copy("/bin/busybox", d / "src" / "busybox")
        (d / "src" / "index.html").write_text(f"challenge {i}\n")
        (d / "src" / "Dockerfile").write_text(
            "FROM range/base:bookworm\nCOPY busybox /bin/busybox\n"
            "COPY index.html /srv/www/index.html\n"
            'CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv/www"]\n'
        )
        spec = {
            "name": f"b{i}",
            "slug": f"b{i}",
            "value": 100,
            "dynamic_flag": {"prefix": "ICE"},
            "environment": {
                "services": [
                    {
                        "name": "web",
                        "build": "src",
                        "ports": [8080],
                        "healthcheck": HEALTH,
                        "flag": {"env": True},
                    }
                ]
            },
        }
        (d / "challenge.yml").write_text(yaml.safe_dump(spec))


def raw_loop(
    client: docker.DockerClient,
    event: str,
    n_teams: int,
    tags: list[str],
    jumpbox: str,
    pool: int,
    port0: int,
) -> float:
    """The same objects with plain SDK calls: the floor for what the engine itself costs."""
    api = client.api
    labels = {MANAGED: "1", EVENT: event}

    def team(t: int) -> None:
        net = f"rc-{event}-raw{t}"
        api.create_network(
            net,
            driver="bridge",
            internal=True,
            labels=labels,
            options={
                "com.docker.network.bridge.name": bridge_name(net),
                "com.docker.network.bridge.enable_ip_masquerade": "false",
            },
        )
        for i, tag in enumerate(tags):
            hc = api.create_host_config(
                cap_drop=["ALL"],
                security_opt=["no-new-privileges:true"],
                read_only=True,
                tmpfs={"/tmp": "size=16m"},  # noqa: S108
                mem_limit=256 * 1024**2,
                memswap_limit=256 * 1024**2,
                nano_cpus=500_000_000,
                pids_limit=128,
                init=True,
                log_config=LogConfig(type="json-file", config={"max-size": "1m", "max-file": "2"}),
            )
            c = api.create_container(
                tag,
                name=f"rc-{event}-raw{t}-{i}",
                hostname="web",
                labels=labels,
                environment={"RANGE_FLAG": "ICE{x}"},
                host_config=hc,
                healthcheck={
                    "test": ["CMD", *HEALTH],
                    "interval": int(HEALTH_INTERVAL * 1e9),
                    "timeout": 3_000_000_000,
                    "retries": 3,
                    "start_period": 1_000_000_000,
                },
                networking_config=api.create_networking_config(
                    {net: api.create_endpoint_config(aliases=["web"])}
                ),
            )
            api.start(c["Id"])
        hc = api.create_host_config(
            cap_drop=["ALL"],
            security_opt=["no-new-privileges:true"],
            port_bindings={2222: ("127.0.0.1", port0 + t)},
            mem_limit=128 * 1024**2,
            pids_limit=256,
            init=True,
        )
        c = api.create_container(
            jumpbox,
            name=f"rc-{event}-raw{t}-jb",
            labels=labels,
            environment={"RANGE_JUMPBOX_PASSWORD": "x"},
            host_config=hc,
            ports=[2222],
        )
        api.connect_container_to_network(c["Id"], net, aliases=["jumpbox"])
        api.start(c["Id"])

    t0 = time.perf_counter()
    with ThreadPoolExecutor(pool) as ex:
        list(ex.map(team, range(n_teams)))
    return time.perf_counter() - t0


def wait_healthy(client: docker.DockerClient, event: str, expect: int, t0: float) -> float:
    flt = {"label": [f"{MANAGED}=1", f"{EVENT}={event}"]}
    while time.perf_counter() - t0 < 600:
        rows = [
            c for c in client.api.containers(all=True, filters=flt) if "(healthy)" in c["Status"]
        ]
        if len(rows) >= expect:
            return time.perf_counter() - t0
        time.sleep(0.2)
    raise RuntimeError("not all healthy within 600 s")


def idle_memory_mb(client: docker.DockerClient, event: str) -> tuple[float, float]:
    flt = {"label": [f"{MANAGED}=1", f"{EVENT}={event}", "range.role=service"]}
    values = []
    for c in client.api.containers(filters=flt):
        path = Path(f"/sys/fs/cgroup/memory/docker/{c['Id']}/memory.usage_in_bytes")
        if not path.exists():  # cgroup v2
            path = Path(f"/sys/fs/cgroup/system.slice/docker-{c['Id']}.scope/memory.current")
        values.append(int(path.read_text()) / 1024**2)
    return statistics.mean(values), max(values)


def bring_up(engine: str, teams_n: int, challenges_n: int, pool: int) -> dict:
    """One bring-up by the product on ``engine`` (docker | swarm), in this process: the figures
    as JSON on stdout. Everything it made is removed before it returns."""
    from range_control.orchestrator.swarm import SwarmBackend

    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    from tests.support.swarm_lab import REGISTRY, Lab

    host = docker.from_env(timeout=600)
    tmp = Path(tempfile.mkdtemp(prefix=f"range-envbench-{engine}-"))
    event = "b" + uuid.uuid4().hex[:8]
    settings = Settings(
        data_dir=tmp,
        database_url=f"sqlite:///{tmp / 'range.db'}",
        event_slug=event,
        admin_token="x",
        flag_secret="x",
        secret_key="x",
        port_range="41000-41999",
        publish_ip="127.0.0.1",
        launch_pool=pool,
        engine=engine,
        registry=REGISTRY if engine == "swarm" else None,
    )
    ctx = Range.from_settings(settings)
    migrate.upgrade(ctx.store.engine)
    pack(tmp / "pack", challenges_n)
    result = lint([tmp / "pack"])
    sync(ctx, result.challenges, actor=BENCH)
    for t in range(teams_n):
        teams.add_team(ctx, f"Team {t:03d}", "NL", actor=BENCH)
    if engine == "swarm":
        lab = Lab(host)
        backend = SwarmBackend(lab.client(1), registry=REGISTRY, health_interval=HEALTH_INTERVAL)
    else:
        backend = DockerBackend(host, publish_ip="127.0.0.1", health_interval=HEALTH_INTERVAL)
    from range_control.orchestrator.types import ServiceRun

    refs = [backend.jumpbox_image()]
    for item in result.challenges:  # images first, not timed
        svc = item.spec.environment.services[0]
        tag = images.image_tag(item.slug, svc.name, images.context_digest(item.directory / "src"))
        backend.ensure_image(ServiceRun(svc, tag), item.slug, str(item.directory))
        refs.append(backend.image_ref(tag))
    backend.prepare(lambda _msg: None)
    if engine == "swarm":
        for i in range(1, lab.nodes + 1):
            for ref in refs:
                lab.client(i).api.pull(ref)
    rec = EnvironmentReconciler(ctx, backend, pool=pool)
    try:
        t0 = time.perf_counter()
        instances.up(ctx, Selection(), BENCH)
        report = rec.run_once()
        created = time.perf_counter() - t0
        assert not report.failed, report.failed
        # Watch as cheaply as an operator would (one listing a second): every service
        # container started, then every one healthy. Same watcher for both engines.
        want = teams_n * challenges_n
        started = None
        while True:
            seen = [o for o in backend.containers(event) if o.role == "service"]
            if started is None and sum(o.status == "running" for o in seen) >= want:
                started = time.perf_counter() - t0
            if sum(o.status == "running" and o.health == "healthy" for o in seen) >= want:
                break
            if time.perf_counter() - t0 > 900:
                raise RuntimeError("not all healthy within 900 s")
            time.sleep(1)
        healthy = time.perf_counter() - t0
        report = rec.run_once()  # where each instance landed
        per_node: dict[str, int] = {}
        for st in report.observed.values():
            per_node[st.node or "engine"] = per_node.get(st.node or "engine", 0) + 1
    finally:
        instances.down(ctx, Selection(), BENCH)
        backend.sweep(event)
        ctx.store.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "engine": engine,
        "created_s": created,
        "healthy_s": healthy,
        "started_s": started,
        "containers": teams_n * (challenges_n + 1),
        "per_node": per_node,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def compare_engines(args: argparse.Namespace) -> None:
    repo = Path(__file__).resolve().parents[1]
    sys.path.insert(0, str(repo))
    from tests.support.swarm_lab import Lab

    lab = Lab(docker.from_env(timeout=600))
    lab.up()
    order = ["swarm", "docker"] if args.swarm_first else ["docker", "swarm"]
    rows = []
    for engine in order:
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--child",
                engine,
                "--teams",
                str(args.teams),
                "--challenges",
                str(args.challenges),
                "--pool",
                str(args.pool),
            ],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            raise SystemExit(f"{engine} run failed:\n{done.stdout}\n{done.stderr}")
        rows.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(
        f"{args.teams} teams x {args.challenges} challenges, pool {args.pool}, "
        f"{rows[0]['containers']} containers"
    )
    print(
        f"{'':18} {'pass s':>7} {'all started s':>14} {'containers/s':>13} "
        f"{'all healthy s':>14} {'peak MB':>8}"
    )
    for r in rows:
        label = "one engine" if r["engine"] == "docker" else f"swarm, {lab.nodes} nodes"
        print(
            f"{label:18} {r['created_s']:7.1f} {r['started_s']:14.1f} "
            f"{r['containers'] / r['started_s']:13.1f} {r['healthy_s']:14.1f} "
            f"{r['peak_rss_mb']:8.0f}"
        )
    by = {r["engine"]: r for r in rows}
    print(
        f"swarm / one engine, until all healthy: "
        f"{by['swarm']['healthy_s'] / by['docker']['healthy_s']:.2f}x; "
        f"instances per node: {by['swarm']['per_node']}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--teams", type=int, default=40)
    ap.add_argument("--challenges", type=int, default=5)
    ap.add_argument("--pool", type=int, default=8)
    ap.add_argument("--ours-first", action="store_true", help="run ours before the raw loop")
    ap.add_argument(
        "--engine",
        choices=["docker", "swarm"],
        default="docker",
        help="swarm: the product on one engine against the 3-node Swarm lab",
    )
    ap.add_argument("--swarm-first", action="store_true", help="with --engine swarm")
    ap.add_argument("--child", choices=["docker", "swarm"], help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        print(json.dumps(bring_up(args.child, args.teams, args.challenges, args.pool)))
        return
    if args.engine == "swarm":
        compare_engines(args)
        return
    client = docker.from_env(timeout=600)
    if not images.image_exists(client, images.BASE_IMAGE):
        images.build_base(client)
    tmp = Path(tempfile.mkdtemp(prefix="range-envbench-"))
    event = "b" + uuid.uuid4().hex[:8]
    settings = Settings(
        data_dir=tmp,
        database_url=f"sqlite:///{tmp / 'range.db'}",
        event_slug=event,
        admin_token="x",
        flag_secret="x",
        secret_key="x",
        port_range="41000-41999",
        publish_ip="127.0.0.1",
        launch_pool=args.pool,
    )
    ctx = Range.from_settings(settings)
    migrate.upgrade(ctx.store.engine)
    pack(tmp / "pack", args.challenges)
    result = lint([tmp / "pack"])
    sync(ctx, result.challenges, actor=BENCH)
    for t in range(args.teams):
        teams.add_team(ctx, f"Team {t:03d}", "NL", actor=BENCH)
    backend = DockerBackend(client, publish_ip="127.0.0.1", health_interval=HEALTH_INTERVAL)
    # Images first (not timed): the same for both.
    from range_control.orchestrator.types import ServiceRun

    tags = []
    for item in result.challenges:
        svc = item.spec.environment.services[0]
        tag = images.image_tag(item.slug, svc.name, images.context_digest(item.directory / "src"))
        backend.ensure_image(ServiceRun(svc, tag), item.slug, str(item.directory))
        tags.append(tag)
    jumpbox = backend.jumpbox_image()
    n_containers = args.teams * (args.challenges + 1)
    try:

        def run_raw() -> tuple[float, float]:
            t0 = time.perf_counter()
            took = raw_loop(client, event, args.teams, tags, jumpbox, args.pool, 42000)
            healthy = wait_healthy(client, event, args.teams * args.challenges, t0)
            sweep(client, event)
            return took, healthy

        def run_ours() -> tuple[float, float]:
            t0 = time.perf_counter()
            instances.up(ctx, Selection(), BENCH)
            report = EnvironmentReconciler(ctx, backend, pool=args.pool).run_once()
            took = time.perf_counter() - t0
            assert not report.failed, report.failed
            assert len(report.created) == n_containers, len(report.created)
            return took, wait_healthy(client, event, args.teams * args.challenges, t0)

        # Whichever runs second meets an engine still cleaning up after the first: --ours-first
        # swaps the order to show how much of a difference is order, not code.
        if args.ours_first:
            ours, ours_healthy = run_ours()
            idle = idle_memory_mb(client, event)
            instances.down(ctx, Selection(), BENCH)
            sweep(client, event)
            raw, raw_healthy = run_raw()
        else:
            raw, raw_healthy = run_raw()
            ours, ours_healthy = run_ours()
            time.sleep(5)
            idle = idle_memory_mb(client, event)
        mean_mb, max_mb = idle
    finally:
        sweep(client, event)
        ctx.store.dispose()
        shutil.rmtree(tmp, ignore_errors=True)
    print(
        f"{args.teams} teams x {args.challenges} challenges: {n_containers} containers "
        f"({args.teams} jumpboxes), {args.teams} networks, pool {args.pool}"
    )
    print(f"{'':18} {'seconds':>8} {'containers/s':>13} {'all healthy s':>14}")
    print(f"{'raw Docker SDK':18} {raw:8.1f} {n_containers / raw:13.1f} {raw_healthy:14.1f}")
    print(f"{'range control':18} {ours:8.1f} {n_containers / ours:13.1f} {ours_healthy:14.1f}")
    print(f"overhead: {100 * (ours / raw - 1):+.1f} % (goal within 15 %)")
    print(f"idle instance memory: mean {mean_mb:.1f} MB, max {max_mb:.1f} MB")


if __name__ == "__main__":
    main()
