"""The jumpbox as a team uses it: every shipped challenge's solver, copied over SFTP and
run over SSH from the team's jumpbox, unchanged, captures its flag from the team's
instance_range instances. The real Docker engine; the shipped pack and its images as an event
builds them."""

from __future__ import annotations

import io
import posixpath
import time
from pathlib import Path

import docker
import paramiko
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from range_control.orchestrator.types import BackendError, jumpbox_name, network_name
from range_control.services.catalog import builds
from range_control.services.catalog.lint import lint
from range_control.services.catalog.live_check import check_flag
from range_control.services.catalog.sync import sync
from range_control.services.environments import instances, team_access
from range_control.services.environments.instances import Selection
from range_control.services.event import scenario
from range_control.services.people import teams
from tests.support import REPO
from tests.support.engine import jumpbox_ssh
from tests.support.env import TEST
from tests.support.instances import name_of, web_challenge

TOOLS = [
    "python3 -c 'import requests'",
    "nmap --version",
    "dig -v",
    "nc -h",
    "socat -V",
    "tcpdump --version",
    "curl --version",
    "wget --version",
    "ssh -V",
    "vi --version",
    "nano --version",
    "jq --version",
]


def run(c: paramiko.SSHClient, command: str, timeout: float = 120) -> tuple[int, str, str]:
    _, out, err = c.exec_command(command, timeout=timeout)
    code = out.channel.recv_exit_status()
    return code, out.read().decode(), err.read().decode()


def wait_running(env, rec, slugs: set[str], timeout: float = 240) -> None:
    """Reconciler passes (they record what the engine observes) until every instance runs."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        rec.run_once()
        rows = {r.challenge: r for r in instances.status(env.ctx) if r.challenge in slugs}
        if len(rows) == len(slugs) and all(
            r.state == "running" and r.health in (None, "healthy") for r in rows.values()
        ):
            return
        time.sleep(2)
    raise AssertionError(f"not running and healthy in {timeout} s: {rows}")


def test_every_shipped_solver_runs_on_the_jumpbox(
    instance_range, client: docker.DockerClient
) -> None:
    env, rec = instance_range
    team_id, _ = env.team("Alpha", "NL")
    pack = lint([REPO / "challenges"])
    assert pack.ok, [str(p) for p in pack.problems]
    builds.build_pack(rec.backend, pack.challenges, lambda _: None)
    sync(env.ctx, pack.challenges, actor=TEST)
    live_slugs = {c.slug for c in pack.challenges if c.spec.environment is not None}
    for slug in sorted(live_slugs):  # named: brought up even while its phase has not opened
        instances.up(env.ctx, Selection(challenge=slug), TEST)
    wait_running(env, rec, live_slugs)
    event = env.ctx.event_slug
    port = int(
        client.api.inspect_container(jumpbox_name(event, team_id))["HostConfig"]["PortBindings"][
            "2222/tcp"
        ][0]["HostPort"]
    )
    with jumpbox_ssh("127.0.0.1", port, env.jumpbox_password(team_id), wait=60) as c:
        for tool in TOOLS:
            code, out, err = run(c, tool + " >/dev/null 2>&1 || " + tool)
            assert code == 0, (tool, out, err)
        sftp = c.open_sftp()
        solved = {}
        # A graded task without flags has no solver: people grade it (test_tasks.py); the two
        # defended services have checkers instead (test_defence.py).
        flagged = [i for i in pack.challenges if i.spec.solvable_by_flag]
        assert len(flagged) == len(pack.challenges) - 3
        for item in flagged:
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
    assert set(solved) == {c.slug for c in flagged} and len(solved) == 7, solved


def test_a_published_service_is_named_on_its_own_team_network_only(
    instance_range,
    client: docker.DockerClient,
) -> None:
    """A published service is on the edge network too (for its host port). The engine makes a
    hostname a DNS alias on every network: named after its service, every team's jumpbox would
    resolve "portal" there, to an address the edge network does not forward."""
    env, rec = instance_range
    ids = [env.team("Alpha", "NL")[0], env.team("Bravo", "NO")[0]]
    web_challenge(env, "pub", exposure="published")
    instances.up(env.ctx, Selection(), TEST)
    wait_running(env, rec, {"pub"})
    event = env.ctx.event_slug
    for team_id in ids:
        own = client.api.inspect_container(name_of(env, team_id, "pub"))["NetworkSettings"][
            "Networks"
        ][network_name(event, team_id)]["IPAddress"]
        port = int(
            client.api.inspect_container(jumpbox_name(event, team_id))["HostConfig"][
                "PortBindings"
            ]["2222/tcp"][0]["HostPort"]
        )
        with jumpbox_ssh("127.0.0.1", port, env.jumpbox_password(team_id), wait=60) as c:
            code, out, _ = run(
                c,
                "for i in 1 2 3 4 5 6 7 8; do getent ahostsv4 portal; done "
                "| cut -d' ' -f1 | sort -u",
            )
            assert code == 0 and out.split() == [own], (team_id, out, own)
            code, out, _ = run(c, "curl -s -m 5 http://portal:8080/")
            assert code == 0 and out == "convoy manifest\n"


def _member_key() -> tuple[str, paramiko.PKey]:
    """A member's key pair: the public line for the portal, the private key for paramiko."""
    private = ed25519.Ed25519PrivateKey.generate()
    text = private.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    ).decode()
    line = (
        private.public_key()
        .public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
        .decode()
    )
    return line, paramiko.Ed25519Key.from_private_key(io.StringIO(text))


def _port(client: docker.DockerClient, event: str, team_id: int) -> int:
    return int(
        client.api.inspect_container(jumpbox_name(event, team_id))["HostConfig"]["PortBindings"][
            "2222/tcp"
        ][0]["HostPort"]
    )


def _refused(port: int, password: str | None = None, pkey: paramiko.PKey | None = None) -> bool:
    try:
        with jumpbox_ssh("127.0.0.1", port, password, wait=0, pkey=pkey):
            return False
    except AssertionError:
        return True


def test_members_keys_work_in_place_and_the_token_rotates_the_way_in(
    instance_range,
    client: docker.DockerClient,
) -> None:
    """A key added in the portal logs in on the next pass without replacing the jumpbox (a
    teammate's open session stays); removed, it stops; a new token replaces the jumpbox with
    a new password and no keys."""
    env, rec = instance_range
    team_id, _ = env.team("Alpha", "NL")
    web_challenge(env, "web")
    instances.up(env.ctx, Selection(), TEST)
    wait_running(env, rec, {"web"})
    event = env.ctx.event_slug
    port, password = _port(client, event, team_id), env.jumpbox_password(team_id)
    before = client.api.inspect_container(jumpbox_name(event, team_id))["Id"]
    line, pkey = _member_key()
    with jumpbox_ssh("127.0.0.1", port, password, wait=60) as teammate:
        assert _refused(port, pkey=pkey)
        key = team_access.add_ssh_key(env.ctx, team_id, "Ana", line + " ana@laptop", TEST)
        rec.run_once()
        with jumpbox_ssh("127.0.0.1", port, None, wait=10, pkey=pkey) as ana:
            assert run(ana, "id -un")[1].strip() == "team"
        assert run(teammate, "echo still here")[1] == "still here\n"  # nobody was cut off
        assert client.api.inspect_container(jumpbox_name(event, team_id))["Id"] == before
        code, out, _ = run(
            teammate, "ls -l /etc/ssh/range_keys/team; echo x >> /etc/ssh/range_keys/team"
        )
        assert out.startswith("-rw-r--r-- 1 root root") and code != 0  # not the team's to edit
        team_access.remove_ssh_key(env.ctx, team_id, key.id, TEST)
        rec.run_once()
        assert _refused(port, pkey=pkey)
    team_access.add_ssh_key(env.ctx, team_id, "Ana", line, TEST)
    rec.run_once()
    teams.rotate_token(env.ctx, team_id, TEST)
    rec.run_once()
    after = client.api.inspect_container(jumpbox_name(event, team_id))["Id"]
    assert after != before
    new_password = env.jumpbox_password(team_id)
    with jumpbox_ssh("127.0.0.1", port, new_password, wait=60) as c:
        assert run(c, "true")[0] == 0
    assert _refused(port, password=password) and _refused(port, pkey=pkey)


def test_the_event_s_extra_packages_are_on_every_jumpbox(
    instance_range,
    client: docker.DockerClient,
) -> None:
    """``jumpbox: packages`` in the scenario: the image is built once for that list (tagged by
    it), every team's jumpbox runs it; a name Debian does not know is refused by apt, named."""
    env, rec = instance_range
    team_id, _ = env.team("Alpha", "NL")
    web_challenge(env, "web")
    spec = scenario.parse(
        {
            "event": "ICE",
            "phases": [{"id": "p", "title": "P", "duration": "1h", "challenges": ["web"]}],
            "jumpbox": {"packages": ["bc", "bc"]},
        },
        "scenario.yml",
    )
    assert spec.jumpbox.packages == ["bc"]
    scenario.load(env.ctx, spec, TEST)
    instances.up(env.ctx, Selection(challenge="web"), TEST)
    wait_running(env, rec, {"web"})
    event = env.ctx.event_slug
    image = client.api.inspect_container(jumpbox_name(event, team_id))["Config"]["Image"]
    assert image == rec.backend.jumpbox_image(("bc",)) and image != rec.backend.jumpbox_image()
    with jumpbox_ssh(
        "127.0.0.1", _port(client, event, team_id), env.jumpbox_password(team_id), wait=60
    ) as c:
        code, out, _ = run(c, "echo '6*7' | bc")
        assert code == 0 and out == "42\n"
    with pytest.raises(BackendError, match="Unable to locate package range-no-such-package"):
        rec.backend.jumpbox_image(("range-no-such-package",))
