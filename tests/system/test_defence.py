"""Defence on the real engine: every team's copy of the ICE pack's convoy tracker (an exit-code
checker written with PyPI's checklib) and message hub (an EnoEngine HTTP checker), checked tick
after tick, every verdict provoked on purpose: the service stopped (DOWN), its data corrupted
(RECOVERING), patched wrong by the team through its own shell (MUMBLE), reset to the baseline
(the data wiped: RECOVERING, and it costs). Checkers that hang, crash, print megabytes, exit
outside the contract or answer HTTP garbage are checker errors, never charged. A team reaches
neither another team's services nor the checker; the checker reaches neither the host nor the
control plane (listeners the test starts)."""

from __future__ import annotations

import ipaddress
import random
import shutil
import socket
import threading
import time
from pathlib import Path

import docker
import yaml
from sqlalchemy import select

from range_control.orchestrator.docker import DockerBackend
from range_control.orchestrator.docker.engine import sweep
from range_control.orchestrator.types import (
    SHELL_PORT,
    container_name,
    defence_network_name,
    jumpbox_name,
)
from range_control.services.defence import actions, views
from range_control.services.defence.ticks import DefenceTicks
from range_control.services.environments.run import EnvironmentReconciler
from range_control.services.play import scoreboard
from range_control.store.models import Challenge, DefenceVerdict, Team
from tests.support import REPO
from tests.support.defence import load_defence, run_tick
from tests.support.engine import jumpbox_ssh
from tests.support.env import TEST, Env, migrated_sqlite, unique_event
from tests.support.instances import sh

PACK = REPO / "challenges"
BAD = Path(__file__).parent / "checkers"


def up(env: Env, client: docker.DockerClient) -> tuple[DockerBackend, EnvironmentReconciler]:
    backend = DockerBackend(client, publish_ip="127.0.0.1", health_interval=1.0)
    rec = EnvironmentReconciler(env.ctx, backend, pool=4)
    converge(env, rec)
    return backend, rec


def converge(env: Env, rec: EnvironmentReconciler) -> None:
    deadline = time.monotonic() + 240
    while True:
        report = rec.run_once()
        assert not report.failed, report.failed
        with env.ctx.store.read() as s:
            from range_control.store.models import Instance

            states = [i.state for i in s.scalars(select(Instance))]
        if states and all(x == "running" for x in states):
            return
        assert time.monotonic() < deadline, states
        time.sleep(1)


def verdicts(env: Env, tick: int) -> dict[tuple[str, str], tuple[str, str, str]]:
    with env.ctx.store.read() as s:
        rows = s.execute(
            select(
                Team.name,
                Challenge.slug,
                DefenceVerdict.verdict,
                DefenceVerdict.public,
                DefenceVerdict.private,
            )
            .join(Team, Team.id == DefenceVerdict.team_id)
            .join(Challenge, Challenge.id == DefenceVerdict.challenge_id)
            .where(DefenceVerdict.tick == tick)
        )
        return {(t, c): (v, pub, priv) for t, c, v, pub, priv in rows}


def next_tick(env: Env, ticks: DefenceTicks, seconds: int = 20) -> None:
    run_tick(ticks)
    env.clock.advance(seconds=seconds)


def test_both_contracts_and_every_verdict_provoked_on_purpose(
    defence_range: Env, client: docker.DockerClient
) -> None:
    env = defence_range
    for slug in ("convoy-tracker", "message-hub"):
        shutil.copytree(PACK / slug, env.tmp / "pack" / slug)
    ids = {name: env.team(name, cc)[0] for name, cc in (("Alpha", "NL"), ("Bravo", "NO"))}
    load_defence(
        env, {"convoy-tracker": 1, "message-hub": 2}, tick="20s", reset_cost=30, flag_lifetime=5
    )
    backend, rec = up(env, client)
    ticks = DefenceTicks(env.ctx, backend)
    event = env.ctx.event_slug

    next_tick(env, ticks)  # tick 1: everyone's services as shipped
    assert {v[0] for v in verdicts(env, 1).values()} == {"OK"}, verdicts(env, 1)

    # Tick 2: Bravo's tracker is gone (DOWN); its hub loses every message (RECOVERING: this
    # tick's flag is placed and read, tick 1's is gone).
    tracker = container_name(event, ids["Bravo"], "convoy-tracker", "tracker")
    client.containers.get(tracker).remove(force=True)
    hub = container_name(event, ids["Bravo"], "message-hub", "hub")
    code, _ = sh(client, hub, 'echo \'{"users": {}, "inbox": {}}\' > /srv/data/hub.json')
    assert code == 0
    next_tick(env, ticks)
    got = verdicts(env, 2)
    assert got[("Bravo", "convoy-tracker")][0] == "DOWN", got
    assert got[("Bravo", "message-hub")][0] == "RECOVERING", got
    assert got[("Alpha", "convoy-tracker")][0] == got[("Alpha", "message-hub")][0] == "OK"

    # Tick 3: the reconciler brings the tracker back, its data kept in its volume (tick 1's
    # orders are still there).
    converge(env, rec)
    next_tick(env, ticks)
    assert verdicts(env, 3)[("Bravo", "convoy-tracker")][0] == "OK", verdicts(env, 3)

    # Tick 4: Bravo patches its tracker wrong through its own shell (SSH from its jumpbox to
    # the service, as root of that container) and restarts the service: MUMBLE.
    view = views.team_view(env.ctx, ids["Bravo"])
    assert view.shell_password and view.services[0].shell == f"ssh -p {SHELL_PORT} root@tracker"
    patch_over_ssh(env, client, ids["Bravo"], view.shell_password)
    next_tick(env, ticks)
    down = verdicts(env, 4)[("Bravo", "convoy-tracker")]
    assert down[0] == "MUMBLE" and down[1] == "Cannot read a convoy", down

    # Tick 5: a reset to the baseline: the patch and the data are gone (RECOVERING), and it
    # costs what the scenario says.
    assert actions.reset(env.ctx, ids["Bravo"], "convoy-tracker", TEST) == 30
    converge(env, rec)
    next_tick(env, ticks)
    assert verdicts(env, 5)[("Bravo", "convoy-tracker")][0] == "RECOVERING", verdicts(env, 5)

    ledger = scoreboard.ledger(env.ctx, ids["Bravo"], public=True)
    why = [e.why for e in ledger.entries]
    assert "convoy-tracker reset to its baseline" in why
    assert any(w.startswith("convoy-tracker DOWN at tick 2:") for w in why), why
    assert "availability: message-hub RECOVERING at tick 2 (an older flag is gone): half" in why
    alpha = scoreboard.ledger(env.ctx, ids["Alpha"], public=True)
    assert alpha.score == 5 * (10 + 20)  # every tick OK: the value times the weight
    health = {h.slug: h for h in views.health(env.ctx)}
    assert health["convoy-tracker"].checker_errors == 0 and health["message-hub"].checks == 10


def patch_over_ssh(env: Env, client: docker.DockerClient, team_id: int, password: str) -> None:
    """Log into the team's jumpbox, then from there into its tracker (port 2222, the shell
    password), break the convoy reader and restart the service."""
    import paramiko

    port = jumpbox_port(client, env.ctx.event_slug, team_id)
    with jumpbox_ssh("127.0.0.1", port, env.jumpbox_password(team_id)) as jump:
        channel = jump.get_transport().open_channel(
            "direct-tcpip", ("tracker", SHELL_PORT), ("127.0.0.1", 0)
        )
        inner = paramiko.SSHClient()
        inner.set_missing_host_key_policy(paramiko.AutoAddPolicy())  # noqa: S507 - a test box
        inner.connect(
            "tracker",
            username="root",
            password=password,
            sock=channel,
            allow_agent=False,
            look_for_keys=False,
            timeout=20,
        )
        try:
            cmd = (
                'id -u && sed -i \'s/_send(200, {"id"/_send(500, {"id"/\' /app/app.py && range-restart '
                "&& sleep 3"
            )
            _in, out, err = inner.exec_command(cmd, timeout=30)
            said = out.read().decode() + err.read().decode()
            assert out.channel.recv_exit_status() == 0, said
            assert said.startswith("0\n") and "the service is restarting" in said, said
        finally:
            inner.close()


def jumpbox_port(client: docker.DockerClient, event: str, team_id: int) -> int:
    box = client.containers.get(jumpbox_name(event, team_id))
    return int(box.attrs["NetworkSettings"]["Ports"]["2222/tcp"][0]["HostPort"])


def bad_checker(
    root: Path, slug: str, mode: str, contract: str = "exit-code", timeout: str = "5s"
) -> None:
    d = root / slug
    shutil.copytree(PACK / "convoy-tracker" / "service", d / "service")
    shutil.copytree(BAD, d / "checker")
    command = ["python3", "/checker/bad.py", *mode.split(" ")]
    spec = {
        "name": slug,
        "slug": slug,
        "type": "defended",
        "value": 10,
        "environment": {"services": [{"name": "tracker", "build": "service", "ports": [8080]}]},
        "defence": {
            "checker": {
                "contract": contract,
                "build": "checker",
                "command": command,
                "timeout": timeout,
            }
        },
    }
    (d / "challenge.yml").write_text(yaml.safe_dump(spec))


def test_misbehaving_checkers_are_checker_errors_never_charged(
    defence_range: Env, client: docker.DockerClient
) -> None:
    env = defence_range
    modes = {"hang": "hang", "crash": "crash", "spam": "spam", "odd": "odd"}
    for slug, mode in modes.items():
        bad_checker(env.tmp / "pack", slug, mode)
    bad_checker(env.tmp / "pack", "garbage", "http-garbage", contract="http")
    team, _ = env.team("Alpha", "NL")
    load_defence(env, dict.fromkeys([*modes, "garbage"], 1), tick="20s")
    backend, _rec = up(env, client)
    next_tick(env, DefenceTicks(env.ctx, backend))
    got = verdicts(env, 1)
    assert {slug: v[0] for (_t, slug), v in got.items()} == dict.fromkeys(
        [*modes, "garbage"], "CHECKER ERROR"
    ), got
    private = {slug: v[2] for (_t, slug), v in got.items()}
    assert "timed out after" in private["hang"]
    assert "exit code 1 (not in the contract)" in private["crash"]
    assert "RuntimeError: the checker's own bug" in private["crash"]
    assert "printed 4194304 bytes" in private["spam"]
    assert "exit code 42 (not in the contract)" in private["odd"]
    assert "HTTP 200: <html>not what the contract says" in private["garbage"]
    assert all(len(p) <= 1024 for p in private.values())
    assert {v[1] for v in got.values()} == {
        "the range could not check this service (not the team's fault)"
    }
    entries = scoreboard.ledger(env.ctx, team, public=True).entries
    assert len(entries) == 5 and all("credited in full" in e.why for e in entries)
    assert sum(e.points for e in entries) == 50


def test_teams_and_checkers_reach_only_what_they_should(
    defence_range: Env, client: docker.DockerClient
) -> None:
    env = defence_range
    shutil.copytree(PACK / "convoy-tracker", env.tmp / "pack" / "convoy-tracker")
    bad_checker(env.tmp / "pack", "listen", "listen", timeout="30s")
    host_port = _free_port()
    seen: list[str] = []
    listener = _listen(host_port, seen)
    # The host as the engine's default bridge sees it, and its own address.
    subnet = client.networks.get("bridge").attrs["IPAM"]["Config"][0]["Subnet"]
    docker0 = str(next(ipaddress.ip_network(subnet).hosts()))
    targets = f"{docker0}:{host_port},{_host_ip()}:{host_port}"
    bad_checker(env.tmp / "pack", "probe", f"probe {targets}", timeout="15s")
    ids = {name: env.team(name, cc)[0] for name, cc in (("Alpha", "NL"), ("Bravo", "NO"))}
    load_defence(env, {"convoy-tracker": 1, "listen": 1, "probe": 1}, tick="60s")
    backend, _rec = up(env, client)
    event = env.ctx.event_slug

    # A listener in Bravo's tracker: Bravo's jumpbox reaches it, Alpha's neither from its
    # jumpbox nor from its own defended service (its shell).
    bravo = container_name(event, ids["Bravo"], "convoy-tracker", "tracker")
    client.containers.get(bravo).exec_run(
        ["python3", "-m", "http.server", "9999"], detach=True, user="10001"
    )
    ip = _ip(client, bravo, f"rc-{event}-t{ids['Bravo']}")
    probe = f"curl -s -m 3 -o /dev/null -w '%{{http_code}}' http://{ip}:9999/; echo rc=$?"
    for _ in range(40):  # the listener is up a moment after it starts
        if "200" in sh(client, jumpbox_name(event, ids["Bravo"]), probe)[1]:
            break
        time.sleep(0.25)
    assert "200" in sh(client, jumpbox_name(event, ids["Bravo"]), probe)[1]
    assert "200" not in sh(client, jumpbox_name(event, ids["Alpha"]), probe)[1]
    alpha_tracker = container_name(event, ids["Alpha"], "convoy-tracker", "tracker")
    code, out = sh(
        client,
        alpha_tracker,
        f"python3 -c \"import socket; socket.create_connection(('{ip}', 9999), 3)\"",
    )
    assert code != 0, out

    # The tick's check jobs run; while the listening checker listens (its port is open in
    # the job), Alpha's tracker (on Alpha's defence network, where the job is) cannot connect
    # to it; the job's own loopback can (the control: the checker says who came in).
    ticks = DefenceTicks(env.ctx, backend)
    ticks.step()
    job = _wait_job(client, f"rc-{event}-check-listen-1")
    deadline = time.monotonic() + 60
    while "0A" not in _listening(client, job, 9999):
        assert time.monotonic() < deadline, "the checker never listened"
        time.sleep(0.3)
    job_ip = _ip(client, job, defence_network_name(event, ids["Alpha"]))
    code, out = sh(
        client,
        alpha_tracker,
        f"python3 -c \"import socket; socket.create_connection(('{job_ip}', 9999), 3)\"",
    )
    assert code != 0, out
    client.containers.get(job).exec_run(
        ["python3", "-c", "import socket; socket.create_connection(('127.0.0.1', 9999), 3)"]
    )
    for run in list(ticks.runs.values()):
        run.thread.join(timeout=120)
    ticks.step()
    got = verdicts(env, 1)
    # OK: the first connection that came in was the job's own (a team's is CORRUPT, none at
    # all MUMBLE).
    assert ids["Alpha"] == 1  # the listening checker listens in the first team's chain
    assert got[("Alpha", "listen")][0] == "OK", got[("Alpha", "listen")]
    # The probing checker reached neither the host nor the control plane's machine.
    assert got[("Alpha", "probe")][0] == "DOWN", got[("Alpha", "probe")]  # CORRUPT: reached
    said = got[("Alpha", "probe")][1]
    assert said.count("not reached") == 2 and " reached" not in said.replace("not reached", ""), (
        said
    )
    assert seen == []  # nothing ever arrived at the test's listener
    listener.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _host_ip() -> str:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.connect(("192.0.2.1", 9))  # no packet is sent: the route's source address
        return s.getsockname()[0]


def _listen(port: int, seen: list[str]) -> socket.socket:
    srv = socket.socket()
    srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    srv.bind(("0.0.0.0", port))  # noqa: S104 - the test's own listener, for "no reach"
    srv.listen()

    def accept() -> None:
        while True:
            try:
                conn, peer = srv.accept()
            except OSError:
                return
            seen.append(peer[0])
            conn.close()

    threading.Thread(target=accept, daemon=True).start()
    return srv


def _ip(client: docker.DockerClient, name: str, network: str) -> str:
    nets = client.containers.get(name).attrs["NetworkSettings"]["Networks"]
    return nets[network]["IPAddress"]


def _listening(client: docker.DockerClient, name: str, port: int) -> str:
    """The job's TCP sockets on ``port`` with their state (0A: listening), from /proc."""
    out = client.containers.get(name).exec_run(["cat", "/proc/net/tcp"]).output.decode()
    return " ".join(
        line.split()[3] for line in out.splitlines()[1:] if line.split()[1].endswith(f":{port:04X}")
    )


def _wait_job(client: docker.DockerClient, name: str) -> str:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            c = client.containers.get(name)
            if c.status == "running":
                return name
        except docker.errors.NotFound:
            pass
        time.sleep(0.3)
    raise AssertionError(f"no check job {name}")


def test_a_worker_killed_mid_tick_loses_no_tick_and_charges_none_twice(
    client: docker.DockerClient, tmp_path: Path
) -> None:
    """`rangectl worker` on the real clock: killed with SIGKILL while a tick's checks run, then
    started again. Every tick ends with exactly one verdict per team and service (the first
    from the check job the new worker found and read again, or NOT CHECKED: never both, never
    none), and no check job is left behind."""
    import os
    import signal
    import subprocess
    import sys

    from range_control.context import Range
    from range_control.core.settings import Settings
    from range_control.services.catalog.lint import lint
    from range_control.services.catalog.sync import sync
    from range_control.services.event import controls, scenario
    from range_control.services.people import teams
    from range_control.store.models import DefenceTick

    event = unique_event("k")
    low = 21000 + random.randrange(0, 110) * 100
    settings = {
        "data_dir": tmp_path / "var",
        "database_url": migrated_sqlite(tmp_path / "range.db"),
        "admin_token": "k" * 32,
        "flag_secret": "f" * 32,
        "secret_key": "s" * 32,
        "event_slug": event,
        "port_range": f"{low}-{low + 99}",
        "publish_ip": "127.0.0.1",
        "public_host": "127.0.0.1",
        "reconcile_seconds": 1.0,
    }
    env = {f"RANGE_{k.upper()}": str(v) for k, v in settings.items()}
    ctx = Range.from_settings(Settings(**settings))  # type: ignore[arg-type]
    shutil.copytree(PACK / "convoy-tracker", tmp_path / "pack" / "convoy-tracker")
    sync(ctx, lint([tmp_path / "pack"]).challenges, actor=TEST)
    for name in ("Alpha", "Bravo"):
        teams.add_team(ctx, name, "NL", actor=TEST)
    spec = scenario.parse(
        {
            "event": "kill",
            "phases": [{"id": "hold", "title": "Hold", "duration": "10m"}],
            "defence": {"phases": ["hold"], "tick": "20s", "services": {"convoy-tracker": 1}},
        }
    )
    scenario.load(ctx, spec, TEST)
    log = (tmp_path / "worker.log").open("a")

    def worker() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-m", "range_control.cli", "worker"],
            env={**os.environ, **env},
            stdout=log,
            stderr=subprocess.STDOUT,
        )

    def ticks() -> dict[int, str]:
        with ctx.store.read() as s:
            return {t.number: t.status for t in s.scalars(select(DefenceTick))}

    def wait(what, timeout: float = 240) -> None:
        deadline = time.monotonic() + timeout
        while not what():
            assert time.monotonic() < deadline, (
                ticks(),
                (tmp_path / "worker.log").read_text()[-3000:],
            )
            time.sleep(0.5)

    first = worker()
    try:
        controls.start(ctx, TEST)
        wait(lambda: _running_copies(ctx) == 2)  # ticks before this one: not checked (pending)
        prefix = f"rc-{event}-check-convoy-tracker-"
        jobs: list[str] = []

        def a_job() -> bool:
            jobs[:] = [
                c.name for c in client.containers.list(all=True) if c.name.startswith(prefix)
            ]
            return bool(jobs)

        wait(a_job)
        n = int(jobs[0].rsplit("-", 1)[1])
        first.send_signal(signal.SIGKILL)  # in the middle of tick n's checks
        first.wait(20)
        assert jobs[0] in [c.name for c in client.containers.list(all=True)]  # orphaned, alive
        second = worker()
        try:
            wait(lambda: ticks().get(n + 1) == "done")
        finally:
            second.send_signal(signal.SIGTERM)
            second.wait(30)
        with ctx.store.read() as s:
            rows = list(
                s.execute(
                    select(DefenceVerdict.tick, DefenceVerdict.team_id, DefenceVerdict.verdict)
                )
            )
        for number in range(1, n + 2):
            mine = [(team, v) for t, team, v in rows if t == number]
            assert len(mine) == 2 and len({team for team, _ in mine}) == 2, (number, mine)
        assert {v for t, _team, v in rows if t == n} <= {"OK", "NOT CHECKED"}, rows
        assert {v for t, _team, v in rows if t == n + 1} == {"OK"}, rows
        assert not [c.name for c in client.containers.list(all=True) if c.name.startswith(prefix)]
    finally:
        for p in (first,):
            if p.poll() is None:
                p.kill()
        log.close()
        sweep(client, event)
        ctx.store.dispose()


def _running_copies(ctx) -> int:
    from range_control.store.models import Instance

    with ctx.store.read() as s:
        return sum(1 for i in s.scalars(select(Instance)) if i.state == "running")
