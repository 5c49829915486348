"""The jumpbox as a team uses it (issue 13): every shipped challenge's solver, copied over SFTP
and run over SSH from the team's jumpbox, unchanged, captures its flag from the team's live
instances. The real Docker engine; the shipped pack and its images as an event builds them."""

from __future__ import annotations

import posixpath
import time
from pathlib import Path

import docker
import paramiko

from range_control.orchestrator.backend import jumpbox_name, network_name
from range_control.services import catalog, environments
from range_control.services import images as builds
from range_control.services.check import check_flag
from range_control.services.environments import Selection
from tests.conftest import jumpbox_ssh
from tests.test_docker_env import live, name_of, web_challenge  # noqa: F401 - live: a fixture

REPO = Path(__file__).resolve().parents[1]
TOOLS = ["python3 -c 'import requests'", "nmap --version", "dig -v", "nc -h", "socat -V",
         "tcpdump --version", "curl --version", "wget --version", "ssh -V", "vi --version",
         "nano --version", "jq --version"]  # fmt: skip


def run(c: paramiko.SSHClient, command: str, timeout: float = 120) -> tuple[int, str, str]:
    _, out, err = c.exec_command(command, timeout=timeout)
    code = out.channel.recv_exit_status()
    return code, out.read().decode(), err.read().decode()


def wait_running(env, rec, slugs: set[str], timeout: float = 240) -> None:
    """Reconciler passes (they record what the engine observes) until every instance runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec.run_once()
        rows = {r.challenge: r for r in environments.status(env.ctx) if r.challenge in slugs}
        if len(rows) == len(slugs) and all(
            r.state == "running" and r.health in (None, "healthy") for r in rows.values()
        ):
            return
        time.sleep(2)
    raise AssertionError(f"not running and healthy in {timeout} s: {rows}")


def test_every_shipped_solver_runs_on_the_jumpbox(live, client: docker.DockerClient) -> None:  # noqa: F811
    env, rec = live
    team_id, _ = env.team("Alpha", "NL")
    pack = catalog.lint([REPO / "challenges"])
    assert pack.ok, [str(p) for p in pack.problems]
    builds.build_pack(rec.backend, pack.challenges, lambda _: None)
    catalog.sync(env.ctx, pack.challenges, actor="test")
    live_slugs = {c.slug for c in pack.challenges if c.spec.environment is not None}
    for slug in sorted(live_slugs):  # named: brought up even while its phase has not opened
        environments.up(env.ctx, Selection(challenge=slug), "test")
    wait_running(env, rec, live_slugs)
    event = env.ctx.event_slug
    port = int(client.api.inspect_container(jumpbox_name(event, team_id))["HostConfig"][
        "PortBindings"]["2222/tcp"][0]["HostPort"])  # fmt: skip
    with jumpbox_ssh("127.0.0.1", port, env.jumpbox_password(team_id), wait=60) as c:
        for tool in TOOLS:
            code, out, err = run(c, tool + " >/dev/null 2>&1 || " + tool)
            assert code == 0, (tool, out, err)
        sftp = c.open_sftp()
        solved = {}
        for item in pack.challenges:
            solver = item.directory / (item.spec.solver.path if item.spec.solver else "solve")
            assert (solver / "solve.py").is_file(), item.slug
            home = f"/home/team/{item.slug}"
            sftp.mkdir(home)
            for f in sorted(solver.rglob("*")):
                if f.is_file():
                    sftp.put(str(f), posixpath.join(home, f.relative_to(solver).as_posix()))
            for name in item.spec.files:  # attachments where the solver contract has them
                sftp.put(str(item.directory / name), f"/files/{Path(name).name}")
            code, out, err = run(c, f"cd {home} && python3 solve.py")
            assert code == 0, (item.slug, out, err)
            last = out.strip().splitlines()[-1] if out.strip() else ""
            solved[item.slug] = check_flag(env.ctx, item, team_id, last)
        sftp.close()
    assert set(solved) == {c.slug for c in pack.challenges} and len(solved) == 7, solved


def test_a_published_service_is_named_on_its_own_team_network_only(
    live,  # noqa: F811
    client: docker.DockerClient,
) -> None:
    """A published service is on the edge network too (for its host port). The engine makes a
    hostname a DNS alias on every network: named after its service, every team's jumpbox would
    resolve "portal" there, to an address the edge network does not forward."""
    env, rec = live
    ids = [env.team("Alpha", "NL")[0], env.team("Bravo", "NO")[0]]
    web_challenge(env, "pub", exposure="published")
    environments.up(env.ctx, Selection(), "test")
    wait_running(env, rec, {"pub"})
    event = env.ctx.event_slug
    for team_id in ids:
        own = client.api.inspect_container(name_of(env, team_id, "pub"))["NetworkSettings"][
            "Networks"][network_name(event, team_id)]["IPAddress"]  # fmt: skip
        port = int(client.api.inspect_container(jumpbox_name(event, team_id))["HostConfig"][
            "PortBindings"]["2222/tcp"][0]["HostPort"])  # fmt: skip
        with jumpbox_ssh("127.0.0.1", port, env.jumpbox_password(team_id), wait=60) as c:
            code, out, _ = run(c, "for i in 1 2 3 4 5 6 7 8; do getent ahostsv4 portal; done "
                               "| cut -d' ' -f1 | sort -u")  # fmt: skip
            assert code == 0 and out.split() == [own], (team_id, out, own)
            code, out, _ = run(c, "curl -s -m 5 http://portal:8080/")
            assert code == 0 and out == "convoy manifest\n"
