"""The Swarm backend on a real three-node swarm (tests/swarm_lab.py: Docker-in-Docker nodes on
this machine, the range's registry on the manager): the same range, the same isolation, on
every node. A lab that cannot start is a failure, never a skip."""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import docker
import pytest
import yaml
from sqlalchemy import select

from range_control.orchestrator.swarm import SwarmBackend
from range_control.orchestrator.swarm.common import service_name
from range_control.orchestrator.types import BackendError
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.environments import instances
from range_control.services.environments.instances import Selection
from range_control.services.environments.run import EnvironmentReconciler
from range_control.store import migrate
from range_control.store.engine import make_engine
from range_control.store.models import PortAllocation
from tests.support import REPO
from tests.support.engine import jumpbox_ssh
from tests.support.env import FLAG_SECRET, TEST, Env, make_env, unique_event
from tests.support.swarm_lab import MANAGER_IP, REGISTRY, Lab, node_ip

BUSYBOX = Path("/bin/busybox")
GATEWAY = "172.30.99.1"  # this machine, on the lab network


@pytest.fixture(scope="session")
def lab(client: docker.DockerClient) -> Iterator[Lab]:
    the_lab = Lab(client)
    try:
        the_lab.up()
    except Exception as exc:  # noqa: BLE001 - reported as the failure it is
        pytest.fail(f"the swarm lab did not start: {exc}\n" + "\n".join(the_lab.log), pytrace=False)
    yield the_lab
    the_lab.down()


@pytest.fixture
def swarm(lab: Lab, tmp_path: Path) -> Iterator[tuple[Env, EnvironmentReconciler, SwarmBackend]]:
    event = unique_event("s")
    url = f"sqlite:///{tmp_path / 'range.db'}"
    engine = make_engine(url)
    migrate.upgrade(engine)
    engine.dispose()
    env = make_env(
        url,
        tmp_path,
        event_slug=event,
        port_range="23000-23499",
        engine="swarm",
        registry=REGISTRY,
        health_interval=2,
        public_host="range.invalid",
    )
    backend = SwarmBackend(lab.client(1), registry=REGISTRY, health_interval=2)
    backend.prepare(lambda _msg: None)  # as `rangectl cluster prepare` does before an event
    rec = EnvironmentReconciler(env.ctx, backend, pool=8)
    try:
        yield env, rec, backend
    finally:
        lab.activate_all()
        backend.sweep(event)
        env.ctx.store.dispose()


def web_challenge(env: Env, slug: str = "web", services: int = 1) -> None:
    """busybox httpd services FROM the base image; the flag by env and by file."""
    d = env.tmp / "pack" / slug
    (d / "src").mkdir(parents=True, exist_ok=True)
    shutil.copy(BUSYBOX, d / "src" / "busybox")
    (d / "src" / "index.html").write_text(f"{slug} works\n")
    (d / "src" / "Dockerfile").write_text(
        "FROM range/base:bookworm\nCOPY busybox /bin/busybox\nCOPY index.html /srv/www/index.html\n"
        'CMD ["/bin/busybox", "httpd", "-f", "-p", "8080", "-h", "/srv/www"]\n'
    )
    svcs = [
        {
            "name": f"s{i}",
            "build": "src",
            "ports": [8080],
            "memory": "64m",
            "healthcheck": [
                "/bin/busybox",
                "wget",
                "-q",
                "-O",
                "/dev/null",
                "http://127.0.0.1:8080/",
            ],
            "flag": {"env": True, "file": "/run/flag/flag"},
        }
        for i in range(services)
    ]
    spec = {
        "name": slug,
        "slug": slug,
        "value": 100,
        "dynamic_flag": {"prefix": "ICE"},
        "environment": {"services": svcs},
    }
    (d / "challenge.yml").write_text(yaml.safe_dump(spec))
    result = lint([env.tmp / "pack"])
    assert result.ok, [str(p) for p in result.problems]
    sync(env.ctx, result.challenges, actor=TEST)


def converge(rec: EnvironmentReconciler, ready: Callable[[Any], bool], timeout: float = 240) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        report = rec.run_once()
        if ready(report):
            return report
        if time.monotonic() > deadline:
            raise AssertionError(f"not converged: {report.observed} {report.failed}")
        time.sleep(2)


def healthy(teams: int) -> Callable[[Any], bool]:
    """Every instance running and healthy, each of the teams' jumpboxes running (sshd up)."""

    def ready(report: Any) -> bool:
        states = report.observed.values()
        return (
            bool(report.observed)
            and all(s.state == "running" and s.health == "healthy" for s in states)
            and len(report.jumpboxes_at) == teams
        )

    return ready


def task_container(lab: Lab, service: str) -> tuple[int, Any]:
    """The running container of a Swarm service, on whichever node runs it."""
    for i in range(1, lab.nodes + 1):
        found = lab.client(i).containers.list(
            filters={"label": f"com.docker.swarm.service.name={service}"}
        )
        if found:
            return i, found[0]
    raise AssertionError(f"no running container of {service}")


def run_in(container: Any, cmd: str) -> tuple[int, str]:
    done = container.exec_run(["/bin/sh", "-c", cmd])
    return done.exit_code, done.output.decode(errors="replace")


def connects(container: Any, host: str, port: int) -> bool:
    code, _ = run_in(container, f"timeout 4 bash -c 'exec 3<>/dev/tcp/{host}/{port}'")
    return code == 0


class Listener:
    """A listener on this machine's lab address: proof of "no route out" when it sees nobody."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind((GATEWAY, 0))
        self.sock.listen(8)
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.seen = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            self.seen += 1
            conn.close()

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        self.sock.close()


def ssh(host: str, port: int, password: str, cmd: str) -> tuple[int, str]:
    with jumpbox_ssh(host, port, password, wait=30) as c:
        _, out, err = c.exec_command(cmd, timeout=30)
        text = out.read().decode() + err.read().decode()
        return out.channel.recv_exit_status(), text


def instance_of(env: Env, headers: dict[str, str], slug: str = "web") -> dict[str, Any]:
    return env.client.get(f"/api/v1/challenges/{slug}/instance", headers=headers).json


def test_not_a_manager_is_a_clear_error_and_nothing_is_made(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    with pytest.raises(BackendError) as refused:
        SwarmBackend(client, registry="127.0.0.1:5000")
    assert "is not a Swarm manager: run `docker swarm init" in str(refused.value)
    env = {
        **os.environ,
        "RANGE_DATA_DIR": str(tmp_path / "var"),
        "RANGE_ENGINE": "swarm",
        "RANGE_REGISTRY": "127.0.0.1:5000",
    }
    env.pop("DOCKER_HOST", None)
    done = subprocess.run(
        [sys.executable, "-m", "range_control.cli", "cluster", "status"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    lines = done.stderr.strip().splitlines()
    assert done.returncode == 1 and len(lines) == 1 and "docker swarm init" in lines[0], done
    assert client.api.info()["Swarm"]["LocalNodeState"] != "active"


def test_isolation_on_every_node_and_the_jumpbox_across_nodes(swarm, lab: Lab) -> None:
    env, rec, backend = swarm
    teams = {n: env.team(n, "NL") for n in ("Alpha", "Bravo", "Charlie")}
    web_challenge(env, "web", services=3)
    env.start()
    instances.up(env.ctx, Selection(), TEST)
    report = converge(rec, healthy(3))
    event = env.ctx.event_slug
    # Spread: the nine services and three jumpboxes use every node.
    nodes = {s.node for s in report.observed.values()} | {
        n for n, _ in report.jumpboxes_at.values()
    }
    assert len({n for ns in nodes for n in (ns or "").split(", ")} - {""}) == lab.nodes, report
    # Team "A" of the checks below: one whose jumpbox and a service of its own are on different
    # nodes. Swarm places each task where it likes, so which team that is varies from run to
    # run (a CI run had Alpha's four tasks on one node); none at all fails, saying so.
    placement = {}
    for name, (team_id, _) in teams.items():
        services = {task_container(lab, f"rc-{event}-t{team_id}-web-s{i}")[0] for i in range(3)}
        placement[name] = (services, task_container(lab, f"rc-{event}-t{team_id}-jumpbox")[0])
    across = [name for name, (services, jb) in placement.items() if services - {jb}]
    assert across, f"no team has a service on another node than its jumpbox: {placement}"
    a_id, a_h = teams[across[0]]
    b_id, _ = teams[next(name for name in teams if name != across[0])]
    # The organisers see where each instance runs.
    rows = env.client.get("/api/v1/admin/environments", headers=env.admin()).json
    assert all(r["node"] and r["node"].startswith("node") for r in rows), rows
    # The connection info names the node that runs the team's jumpbox.
    info = instance_of(env, a_h)
    jb = info["connection"]["jumpbox"]
    where = report.jumpboxes_at[a_id][1]
    assert jb["host"] == where and where in {node_ip(i) for i in range(1, lab.nodes + 1)}
    listener = Listener()
    try:
        # From the jumpbox: every one of the team's services by name, on whatever node it runs.
        code, out = ssh(
            jb["host"],
            jb["port"],
            jb["password"],
            "for s in s0 s1 s2; do curl -s -m 5 http://$s:8080/; done",
        )
        assert code == 0 and out.count("web works") == 3, out
        b_service = f"rc-{event}-t{b_id}-web-s0"
        _, b_box = task_container(lab, b_service)
        b_addr = run_in(b_box, "hostname -i")[1].split()[0]
        probe = (
            f"curl -s -m 3 http://{b_addr}:8080/ || echo team-b-unreachable; "
            f"curl -s -m 3 http://{GATEWAY}:{listener.port}/ || echo host-unreachable; "
            f"curl -s -m 3 http://{node_ip(2)}:2375/version || echo node-unreachable; "
            f"curl -s -m 3 http://{MANAGER_IP}:5000/v2/ || echo registry-unreachable"
        )
        code, out = ssh(jb["host"], jb["port"], jb["password"], probe)
        for word in (
            "team-b-unreachable",
            "host-unreachable",
            "node-unreachable",
            "registry-unreachable",
        ):
            assert word in out, out
        # From a team service on each node: only its own team.
        for i in range(3):
            node, box = task_container(lab, f"rc-{event}-t{a_id}-web-s{i}")
            assert connects(box, f"s{(i + 1) % 3}", 8080), (node, i)
            assert not connects(box, b_addr, 8080)
            assert not connects(box, GATEWAY, listener.port)
            for other in range(1, lab.nodes + 1):
                assert not connects(box, node_ip(other), 2375), (node, other)
            # The flag: a secret file, 0400, root's, and the service runs as root.
            code, out = run_in(box, "stat -c '%a %u %g' /run/flag/flag; id -u; cat /run/flag/flag")
            mode, uid = out.split()[0], out.split()[1]
            assert (mode, uid, out.split()[3]) == ("400", "0", "0"), out
            assert out.split()[4].startswith("ICE{"), out
            caps = run_in(box, "grep CapEff /proc/self/status")[1]
            assert caps.split()[1] == "0000000000000000"
        assert listener.seen == 0
    finally:
        listener.close()


def test_a_drained_node_moves_instances_and_the_connection_info_follows(swarm, lab: Lab) -> None:
    env, rec, backend = swarm
    a_id, a_h = env.team("Alpha", "NL")
    web_challenge(env)
    env.start()
    instances.up(env.ctx, Selection(), TEST)
    report = converge(rec, healthy(1))
    before_node, before_host = report.jumpboxes_at[a_id]
    assert instance_of(env, a_h)["connection"]["jumpbox"]["host"] == before_host
    lab.drain(before_node)
    report = converge(rec, lambda r: healthy(1)(r) and r.jumpboxes_at[a_id][0] != before_node)
    after_node, after_host = report.jumpboxes_at[a_id]
    assert after_node != before_node and after_host != before_host
    jb = instance_of(env, a_h)["connection"]["jumpbox"]
    assert jb["host"] == after_host
    code, out = ssh(jb["host"], jb["port"], jb["password"], "curl -s -m 5 http://s0:8080/")
    assert code == 0 and "web works" in out
    # Never a duplicate: one service per instance service, one per jumpbox.
    assert len(backend.containers(env.ctx.event_slug)) == 2
    # A service under the name a pass makes that the pass does not see (an earlier pass was
    # killed mid-request, the manager made it after the listing): it goes, made afresh.
    api = lab.client(1).api
    obs = next(o for o in backend.containers(env.ctx.event_slug) if o.role == "service")
    image = api.inspect_service(obs.id)["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"]
    api.remove_service(obs.id)
    unseen = api.create_service(
        docker.types.TaskTemplate(docker.types.ContainerSpec(image, ["sleep", "300"])),
        name=obs.name,
    )
    report = rec.run_once()
    assert not report.failed, report.failed
    made = api.inspect_service(obs.name)
    assert made["ID"] != unseen["ID"] and made["Spec"]["Labels"]["range.role"] == "service"


def test_missing_image_and_a_registry_that_does_not_answer_fail_the_instance_only(
    swarm, lab: Lab
) -> None:
    env, rec, backend = swarm
    env.team("Alpha", "NL")
    web_challenge(env, "good")
    d = env.tmp / "pack" / "gone"
    d.mkdir(parents=True)
    (d / "challenge.yml").write_text(
        yaml.safe_dump(
            {
                "name": "Gone",
                "slug": "gone",
                "value": 10,
                "flags": ["ICE{g}"],
                "environment": {"services": [{"name": "x", "image": "local/missing:1"}]},
            }
        )
    )
    sync(env.ctx, lint([env.tmp / "pack"]).challenges, actor=TEST)
    env.start()
    instances.up(env.ctx, Selection(), TEST)
    report = converge(rec, lambda r: any(s.state == "running" for s in r.observed.values()))
    failed = [s for s in report.observed.values() if s.state == "failed"]
    assert len(failed) == 1 and "image 'local/missing:1' is not on the manager" in failed[0].error
    # The registry stops answering: a challenge needing a new image fails, with why.
    lab.exec(1, ["pkill", "-x", "docker-registry"])
    try:
        web_challenge(env, "late")  # a build context of its own: a new image to push
        instances.up(env.ctx, Selection(challenge="late"), TEST)
        report = rec.run_once()
        late = next(s for s in report.observed.values() if s.error and "pushing" in s.error)
        assert late.state == "failed" and f"to the registry {REGISTRY} failed" in late.error
        assert "is it running? infra/registry.sh" in late.error
        assert any(s.state == "running" for s in report.observed.values())  # others go on
    finally:
        lab.exec(1, ["/usr/local/sbin/registry.sh"])


def test_sigkill_while_bringing_up_100_instances_then_one_pass_is_exact(swarm, lab: Lab) -> None:
    env, rec, backend = swarm
    teams = [env.team(f"Team {i:02d}", "NL")[0] for i in range(20)]
    for slug in ("c1", "c2", "c3", "c4", "c5"):
        web_challenge(env, slug)
    env.start()
    event = env.ctx.event_slug
    cli_env = {
        **os.environ,
        "DOCKER_HOST": lab.manager_url,
        "RANGE_ENGINE": "swarm",
        "RANGE_REGISTRY": REGISTRY,
        "RANGE_DATA_DIR": str(env.tmp / "var"),
        "RANGE_DATABASE_URL": env.ctx.settings.resolved_database_url,
        "RANGE_EVENT_SLUG": event,
        "RANGE_FLAG_SECRET": FLAG_SECRET,
        "RANGE_ADMIN_TOKEN": "x",
        "RANGE_PORT_RANGE": env.ctx.settings.port_range,
        "RANGE_LAUNCH_POOL": "8",
    }
    up = [sys.executable, "-m", "range_control.cli", "env", "up"]
    proc = subprocess.Popen(up, env=cli_env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    api = lab.client(1).api
    flt = {"label": ["range.managed=1", f"range.event={event}"]}
    deadline = time.monotonic() + 180
    while len(api.services(filters=flt)) < 40 and time.monotonic() < deadline:
        time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait(10)
    midway = len(api.services(filters=flt))
    assert 40 <= midway < 120, midway
    report = rec.run_once()
    assert not report.failed and not report.jumpbox_errors, (report.failed, report.jumpbox_errors)
    services = api.services(filters=flt)
    keys = [
        (s["Spec"]["Labels"].get("range.instance"), s["Spec"]["Labels"].get("range.service"))
        for s in services
        if s["Spec"]["Labels"].get("range.role") == "service"
    ]
    jbs = [s for s in services if s["Spec"]["Labels"].get("range.role") == "jumpbox"]
    assert len(keys) == len(set(keys)) == 100
    assert sorted(int(s["Spec"]["Labels"]["range.team"]) for s in jbs) == sorted(teams)
    # One flag secret per service, and none without its service.
    secrets = api.secrets(filters=flt)
    assert len(secrets) == 100, len(secrets)
    again = rec.run_once()
    assert again.created == again.removed == again.restarted == []
    with env.ctx.store.read() as s:
        held = sorted(a.team_id for a in s.scalars(select(PortAllocation)))
    assert held == sorted(teams)
    # Down: services, secrets and networks go with their instances.
    instances.down(env.ctx, Selection(), TEST)
    rec.run_once()
    deadline = time.monotonic() + 60
    while api.networks(filters=flt) and time.monotonic() < deadline:
        time.sleep(1)
        rec.run_once()
    assert api.services(filters=flt) == [] and api.secrets(filters=flt) == []
    assert api.networks(filters=flt) == []


def live_check_on_lab(lab: Lab, tmp_path: Path, *slugs: str) -> None:
    """`rangectl challenges check --live` of shipped challenges with RANGE_ENGINE=swarm: all
    pass, and nothing of theirs is left on the Swarm."""
    env = {
        **os.environ,
        "DOCKER_HOST": lab.manager_url,
        "RANGE_ENGINE": "swarm",
        "RANGE_REGISTRY": REGISTRY,
        "RANGE_DATA_DIR": str(tmp_path / "var"),
    }
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "range_control.cli",
            "challenges",
            "check",
            "--live",
            "--junit",
            str(tmp_path / "out.xml"),
            *(str(REPO / "challenges" / slug) for slug in slugs),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{len(slugs)} passed, 0 failed" in done.stdout
    api = lab.client(1).api
    left = [
        s["Spec"]["Name"]
        for s in api.services()
        if (s["Spec"].get("Labels") or {}).get("range.event", "").startswith("chk")
    ]
    assert left == []


def test_the_live_check_proves_challenges_on_the_swarm(lab: Lab, tmp_path: Path) -> None:
    """`rangectl challenges check --live` with RANGE_ENGINE=swarm: images pushed to the
    registry, instances on the nodes, the solver a one-shot service on the team's overlay."""
    live_check_on_lab(lab, tmp_path, "logistics-portal", "radio-intercept")


def test_a_node_without_the_guard_gets_no_task_and_the_instance_says_why(swarm, lab: Lab) -> None:
    env, rec, backend = swarm
    env.team("Alpha", "NL")
    web_challenge(env)
    env.start()
    api = lab.client(1).api
    guard = api.inspect_service("rc-host-guard")
    node3 = next(n for n in api.nodes() if n["Description"]["Hostname"] == "node3")
    spec = {
        **node3["Spec"],
        "Labels": {**(node3["Spec"].get("Labels") or {}), "range.role": "challenges"},
    }
    api.update_node(node3["ID"], node3["Version"]["Index"], spec)
    template = guard["Spec"]["TaskTemplate"]
    template["Placement"] = {"Constraints": ["node.hostname!=node3"]}
    api.update_service(
        guard["ID"],
        guard["Version"]["Index"],
        task_template=template,
        name="rc-host-guard",
        mode=guard["Spec"]["Mode"],
        labels=guard["Spec"].get("Labels"),
    )
    try:
        deadline = time.monotonic() + 60
        while "range.guarded" in ((api.inspect_node(node3["ID"])["Spec"].get("Labels")) or {}):
            backend._guard_checked = 0  # re-check now, not in 10 s
            backend.ensure_host_guard()
            assert time.monotonic() < deadline, "node3 kept its guarded label"
            time.sleep(1)
        instances.up(env.ctx, Selection(), TEST)
        report = converge(rec, lambda r: any(s.error for s in r.observed.values()), timeout=90)
        status = next(iter(report.observed.values()))
        assert status.state == "pending" and "no suitable node" in status.error, status
        rows = env.client.get("/api/v1/admin/environments", headers=env.admin()).json
        assert "no suitable node" in rows[0]["last_error"]
        names = {n.name: n for n in backend.cluster(env.ctx.event_slug)}
        assert "range.guarded" not in names["node3"].labels
        assert names["node1"].labels.get("range.guarded") == "yes"
    finally:
        guard = api.inspect_service("rc-host-guard")
        template = guard["Spec"]["TaskTemplate"]
        template["Placement"] = {}
        api.update_service(
            guard["ID"],
            guard["Version"]["Index"],
            task_template=template,
            name="rc-host-guard",
            mode=guard["Spec"]["Mode"],
            labels=guard["Spec"].get("Labels"),
        )
        node3 = api.inspect_node(node3["ID"])
        labels = {k: v for k, v in (node3["Spec"].get("Labels") or {}).items() if k != "range.role"}
        api.update_node(node3["ID"], node3["Version"]["Index"], {**node3["Spec"], "Labels": labels})
        backend._guard_checked = 0


def test_the_defence_gate_runs_on_the_swarm(lab: Lab, tmp_path: Path) -> None:
    """The conformance suite of both ICE defended services with RANGE_ENGINE=swarm: the
    wrapped service and the checker images pushed to the registry, the team's copy a Swarm
    service on the defence overlay, each check a one-task job placed by the Swarm; DOWN when
    the service is gone, CORRUPT or MUMBLE when its data is wiped."""
    live_check_on_lab(lab, tmp_path, "convoy-tracker", "message-hub")


def test_defence_ticks_on_the_swarm(swarm, lab: Lab) -> None:
    """Three teams' copies of the convoy tracker spread over the nodes, each tick's checker a
    one-task job the Swarm places, on every team's defence overlay: OK for all, then DOWN for
    the team whose service is gone, and no checker job left behind."""
    from range_control.orchestrator.types import ROLE, container_name
    from range_control.services.defence.ticks import DefenceTicks
    from range_control.store.models import Challenge, DefenceVerdict, Team
    from tests.support.defence import load_defence, run_tick

    env, rec, backend = swarm
    shutil.copytree(REPO / "challenges" / "convoy-tracker", env.tmp / "pack" / "convoy-tracker")
    ids = {n: env.team(n, cc)[0] for n, cc in (("Alpha", "NL"), ("Bravo", "NO"), ("Charlie", "DE"))}
    load_defence(env, {"convoy-tracker": 1}, tick="30s")
    converge(  # the tracker has no healthcheck: running is what there is to see
        rec,
        lambda r: (
            len(r.observed) == 3
            and all(x.state == "running" for x in r.observed.values())
            and len(r.jumpboxes_at) == 3
        ),
        timeout=480,
    )
    event = env.ctx.event_slug
    nodes = {
        team: task_container(lab, container_name(event, tid, "convoy-tracker", "tracker"))[0]
        for team, tid in ids.items()
    }
    assert len(set(nodes.values())) >= 2, nodes  # spread, not piled on one node

    def verdicts(tick: int) -> dict[str, str]:
        with env.ctx.store.read() as s:
            rows = s.execute(
                select(Team.name, DefenceVerdict.verdict)
                .join(Team, Team.id == DefenceVerdict.team_id)
                .join(Challenge, Challenge.id == DefenceVerdict.challenge_id)
                .where(DefenceVerdict.tick == tick)
            )
            return dict(rows.all())

    ticks = DefenceTicks(env.ctx, backend)
    run_tick(ticks)
    assert verdicts(1) == {"Alpha": "OK", "Bravo": "OK", "Charlie": "OK"}
    env.clock.advance(seconds=30)

    gone = container_name(event, ids["Bravo"], "convoy-tracker", "tracker")
    for o in backend.containers(event):
        if o.name == gone:
            backend.remove_container(o)
    deadline = time.monotonic() + 60
    while any(
        lab.client(i).containers.list(filters={"label": f"com.docker.swarm.service.name={gone}"})
        for i in range(1, lab.nodes + 1)
    ):
        assert time.monotonic() < deadline, "the removed service's task never stopped"
        time.sleep(1)
    run_tick(ticks)
    assert verdicts(2) == {"Alpha": "OK", "Bravo": "DOWN", "Charlie": "OK"}
    jobs = [
        s["Spec"]["Name"]
        for s in lab.client(1).api.services()
        if (s["Spec"].get("Labels") or {}).get(ROLE) == "checker"
        and (s["Spec"].get("Labels") or {}).get("range.event") == event
    ]
    assert jobs == []


def test_the_game_network_on_the_swarm(swarm, lab: Lab) -> None:
    """Attack-defence on the swarm: the router runs on the manager, on both teams' overlays and
    their defence overlays; each team's jumpbox (wherever it runs) reaches the other's convoy
    tracker at its game address on its service port only (not a listener the test starts in it,
    not its shell), runs the pack's published exploit there and its capture scores; closed by
    the organisers, nothing passes, and opened again it does."""
    from range_control.orchestrator.types import container_name, game_router_name, jumpbox_name
    from range_control.services.defence import game
    from range_control.services.defence.submit import Submissions
    from range_control.services.defence.ticks import DefenceTicks
    from range_control.services.play import scoreboard
    from tests.support.defence import load_defence, run_tick
    from tests.system.test_game_network import put_file, wait_for

    env, rec, backend = swarm
    shutil.copytree(REPO / "challenges" / "convoy-tracker", env.tmp / "pack" / "convoy-tracker")
    ids = {n: env.team(n, cc)[0] for n, cc in (("Alpha", "NL"), ("Bravo", "NO"))}
    load_defence(
        env,
        {"convoy-tracker": 1},
        tick="60s",
        phases={"attack": "10m"},
        mode="attack-defence",
        captures={"formula": "faust", "value": 10},
    )
    report = converge(
        rec,
        lambda r: (
            len(r.observed) == 2
            and all(x.state == "running" for x in r.observed.values())
            and len(r.jumpboxes_at) == 2
            and r.game_error is None
        ),
        timeout=480,
    )
    assert report.game_error is None, report.game_error
    event = env.ctx.event_slug
    assert task_container(lab, service_name(game_router_name(event)))[0] == 1  # the manager
    at = {t.team: t.address for t in game.status(env.ctx).targets}
    _, alpha = task_container(lab, service_name(jumpbox_name(event, ids["Alpha"])))
    _, bravo = task_container(lab, service_name(jumpbox_name(event, ids["Bravo"])))
    wait_for(lambda: connects(alpha, at["Bravo"], 8080), 60)
    wait_for(lambda: connects(bravo, at["Alpha"], 8080), 60)

    # Never another port of the target: a listener the test starts in it, its shell.
    _, tracker = task_container(
        lab, service_name(container_name(event, ids["Bravo"], "convoy-tracker", "tracker"))
    )
    tracker.exec_run(["python3", "-m", "http.server", "9999"], detach=True, user="10001")
    wait_for(lambda: tracker.exec_run(["python3", "-c", CONNECT_9999]).exit_code == 0)
    assert not connects(alpha, at["Bravo"], 9999)
    assert not connects(alpha, at["Bravo"], 2222)

    # The published exploit from Alpha's jumpbox at Bravo's game address: tick 1's flag,
    # submitted, scored as FAUST does (+10 x (1 + 1/1) for Alpha, -10 for Bravo).
    run_tick(DefenceTicks(env.ctx, backend))
    exploit = (REPO / "challenges" / "convoy-tracker" / "solve" / "exploit.py").read_bytes()
    put_file(alpha.client, alpha.name, "/home/team/exploit.py", exploit)
    code, out = run_in(alpha, f"python3 /home/team/exploit.py {at['Bravo']} 8080")
    flags = out.split()
    assert code == 0 and flags, out
    answers = Submissions(env.ctx).submit(ids["Alpha"], flags, "tcp")
    assert [a.code.value for a in answers].count("OK") == 1, answers
    captured = [
        e.points
        for e in scoreboard.ledger(env.ctx, ids["Alpha"], public=False).entries
        if e.kind == "capture"
    ]
    assert captured == [20]

    # Closed by the organisers: nobody reaches anybody; opened again, they do.
    game.set_closed(env.ctx, True, TEST)
    assert rec.run_once().game_error is None
    assert not connects(alpha, at["Bravo"], 8080)
    assert not connects(bravo, at["Alpha"], 8080)
    game.set_closed(env.ctx, False, TEST)
    assert rec.run_once().game_error is None
    wait_for(lambda: connects(alpha, at["Bravo"], 8080), 30)


CONNECT_9999 = "import socket; socket.create_connection(('127.0.0.1', 9999), 2)"
