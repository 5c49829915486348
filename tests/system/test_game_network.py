"""The game network on the real engine (``orchestrator.game``): in an attack-defence tick each
team's jumpbox (and a member's laptop through the team's WireGuard) reaches the other team's convoy tracker at its game address, on its service port
only, runs the pack's published exploit there and its captures score exactly; never the other
team's other ports (its shell, a listener the test starts), its jumpbox, the checkers' network
or the host (listeners the test starts). Closed by the organisers, or for a team cut off, or in
a defence tick: no reach, and a connection opened before ends."""

from __future__ import annotations

import io
import shutil
import tarfile
import time

import docker

from range_control.orchestrator.types import container_name, game_router_name, jumpbox_name
from range_control.services.audit import audit_log
from range_control.services.defence import game
from range_control.services.defence.submit import Submissions
from range_control.services.defence.ticks import DefenceTicks
from range_control.services.environments import team_access
from range_control.services.play import scoreboard
from tests.support.defence import load_defence, run_tick
from tests.support.env import TEST, Env
from tests.support.instances import sh
from tests.support.wireguard import client_image, connect, handshake, laptop, wait_gateways
from tests.support.wireguard import sh as wg_sh
from tests.system.test_defence import (
    PACK,
    _free_port,
    _host_ip,
    _ip,
    _listen,
    up,
)

PORT = 8080


def reaches(client: docker.DockerClient, box: str, address: str, port: int) -> bool:
    """A TCP connection from ``box`` to ``address:port`` is accepted within 3 s."""
    code, _out = sh(
        client,
        box,
        f"python3 -c \"import socket; socket.create_connection(('{address}', {port}), 3)\"",
    )
    return code == 0


def wait_for(what, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while not what():
        assert time.monotonic() < deadline, "not within the time"
        time.sleep(0.5)


def put_file(client: docker.DockerClient, box: str, path: str, data: bytes) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        info = tarfile.TarInfo(path.rsplit("/", 1)[1])
        info.size, info.mode = len(data), 0o755
        tar.addfile(info, io.BytesIO(data))
    client.containers.get(box).put_archive(path.rsplit("/", 1)[0], buf.getvalue())


def test_teams_reach_each_others_service_ports_only_and_the_controls_hold(
    defence_range: Env, client: docker.DockerClient
) -> None:
    env = defence_range
    shutil.copytree(PACK / "convoy-tracker", env.tmp / "pack" / "convoy-tracker")
    ids = {name: env.team(name, cc)[0] for name, cc in (("Alpha", "NL"), ("Bravo", "NO"))}
    load_defence(
        env,
        {"convoy-tracker": 1},
        tick="60s",
        phases={"attack": "10m", "hold": "10m"},
        mode="attack-defence",
        modes={"hold": "defence"},
        captures={"formula": "faust", "value": 10},
    )
    backend, rec = up(env, client)
    event = env.ctx.event_slug
    alpha, bravo = jumpbox_name(event, ids["Alpha"]), jumpbox_name(event, ids["Bravo"])
    at = {t.team: t.address for t in game.status(env.ctx).targets}
    assert at == {"Alpha": f"10.60.{ids['Alpha']}.1", "Bravo": f"10.60.{ids['Bravo']}.1"}

    # Tick 1 is attack-defence: each jumpbox reaches the other's tracker at its game address.
    report = rec.run_once()
    assert report.game_error is None, report.game_error
    wait_for(lambda: reaches(client, alpha, at["Bravo"], PORT))
    wait_for(lambda: reaches(client, bravo, at["Alpha"], PORT))
    assert reaches(client, alpha, at["Alpha"], PORT)  # its own, the way others see it

    # Never another port of the target: its shell, a listener the test starts in it.
    tracker = container_name(event, ids["Bravo"], "convoy-tracker", "tracker")
    client.containers.get(tracker).exec_run(
        ["python3", "-m", "http.server", "9999"], detach=True, user="10001"
    )
    bravo_ip = _ip(client, tracker, f"rc-{event}-t{ids['Bravo']}")
    wait_for(lambda: reaches(client, bravo, bravo_ip, 9999))  # the listener is up
    assert not reaches(client, alpha, at["Bravo"], 9999)
    assert not reaches(client, alpha, at["Bravo"], 2222)
    # Never the other team's jumpbox, nor its tracker on its own networks.
    client.containers.get(bravo).exec_run(
        ["python3", "-m", "http.server", "9998"], detach=True, user="team"
    )
    bravo_box = _ip(client, bravo, f"rc-{event}-t{ids['Bravo']}")
    wait_for(lambda: reaches(client, bravo, bravo_box, 9998))
    assert not reaches(client, alpha, bravo_box, 9998)
    assert not reaches(client, alpha, bravo_ip, 9999)
    # Never the router itself, nor the host (a listener the test starts, at every address the
    # host has towards the range's networks).
    router = game_router_name(event)
    nets = client.containers.get(router).attrs["NetworkSettings"]["Networks"]
    host_port = _free_port()
    seen: list[str] = []
    listener = _listen(host_port, seen)
    try:
        gateways = {n["Gateway"] for n in nets.values() if n.get("Gateway")}
        for address in {*gateways, _host_ip(), *(n["IPAddress"] for n in nets.values())}:
            assert not reaches(client, alpha, address, host_port), address
        assert seen == []
    finally:
        listener.close()

    # The published exploit from Alpha's jumpbox at Bravo's game address: the flags of tick 1
    # (placed by the checker), submitted, scored as FAUST does: +10 x (1 + 1/1) for Alpha,
    # -10 x 1^0.75 for Bravo.
    ticks = DefenceTicks(env.ctx, backend)
    run_tick(ticks)
    exploit = (PACK / "convoy-tracker" / "solve" / "exploit.py").read_bytes()
    put_file(client, alpha, "/home/team/exploit.py", exploit)
    code, out = sh(client, alpha, f"python3 /home/team/exploit.py {at['Bravo']} {PORT}")
    flags = out.split()
    assert code == 0 and flags, out
    answers = Submissions(env.ctx).submit(ids["Alpha"], flags, "tcp")
    assert [a.code.value for a in answers].count("OK") == 1, answers
    points = {
        name: sorted(
            (e.kind, e.points)
            for e in scoreboard.ledger(env.ctx, ids[name], public=False).entries
            if e.kind in ("capture", "flag-lost")
        )
        for name in ids
    }
    assert points == {"Alpha": [("capture", 20)], "Bravo": [("flag-lost", -10)]}

    # Closed by the organisers: a connection opened before ends, no new one is made.
    keep = (
        "import socket, time\n"
        f"s = socket.create_connection(('{at['Bravo']}', {PORT}), 3)\n"
        "time.sleep(8)\n"
        "s.sendall(b'GET / HTTP/1.0\\r\\n\\r\\n')\n"
        "s.settimeout(4)\n"
        "try:\n"
        "    print('ANSWERED' if s.recv(100) else 'CLOSED')\n"
        "except OSError:\n"
        "    print('CUT')\n"
    )
    put_file(client, alpha, "/home/team/keep.py", keep.encode())
    control = sh(client, alpha, "python3 /home/team/keep.py")[1]
    assert control.strip() == "ANSWERED", control  # left open, such a connection is answered
    held = client.containers.get(alpha).exec_run(
        ["python3", "/home/team/keep.py"],
        detach=False,
        stream=True,
    )
    time.sleep(1)
    game.set_closed(env.ctx, True, TEST)
    assert rec.run_once().game_error is None
    said = b"".join(held.output).decode()
    assert said.strip() in ("CUT", "CLOSED"), said
    assert not reaches(client, alpha, at["Bravo"], PORT)
    assert not reaches(client, bravo, at["Alpha"], PORT)
    game.set_closed(env.ctx, False, TEST)
    rec.run_once()
    wait_for(lambda: reaches(client, alpha, at["Bravo"], PORT))

    # Alpha cut off until tick 3: Alpha reaches nobody and submits nothing; Bravo still
    # reaches Alpha (a cut is no shelter).
    game.cut(env.ctx, "Alpha", 3, TEST, reason="scanning the control plane")
    rec.run_once()
    assert not reaches(client, alpha, at["Bravo"], PORT)
    assert reaches(client, bravo, at["Alpha"], PORT)
    time.sleep(1.1)  # the submissions' game is read again after a second
    refused = Submissions(env.ctx).submit(ids["Alpha"], flags, "tcp")
    assert refused[0].code.value == "ERR", refused
    game.restore(env.ctx, "Alpha", TEST)
    rec.run_once()
    wait_for(lambda: reaches(client, alpha, at["Bravo"], PORT))
    actions = [a.action for a in audit_log(env.ctx)]
    assert {"game.close", "game.open", "game.cut", "game.restore"} <= set(actions)

    # A defence tick (phase "hold"): nobody reaches another team's service; each team still
    # reaches its own on its own network.
    env.clock.advance(seconds=600)
    assert game.status(env.ctx).mode == "defence"
    rec.run_once()
    assert not reaches(client, alpha, at["Bravo"], PORT)
    assert not reaches(client, bravo, at["Alpha"], PORT)
    assert reaches(client, alpha, "tracker", PORT)


def test_a_members_laptop_reaches_the_game_through_wireguard(
    wg_range, client: docker.DockerClient, tmp_path
) -> None:
    """A device of Alpha's, through Alpha's gateway: Bravo's tracker at its game address on its
    service port, not its shell; closed, nothing."""
    env, rec, lan = wg_range
    shutil.copytree(PACK / "convoy-tracker", env.tmp / "pack" / "convoy-tracker")
    ids = {name: env.team(name, cc)[0] for name, cc in (("Alpha", "NL"), ("Bravo", "NO"))}
    load_defence(env, {"convoy-tracker": 1}, tick="60s", mode="attack-defence")
    mine = team_access.add_peer(env.ctx, ids["Alpha"], "Ana's laptop", TEST)
    assert "10.60.0.0/16" in mine.config.split("AllowedIPs = ")[1].splitlines()[0]
    team_access.add_peer(env.ctx, ids["Bravo"], "Bo's laptop", TEST)  # both teams have gateways
    wait_gateways(env, rec, client, list(ids.values()), {"convoy-tracker"})
    assert rec.run_once().game_error is None
    ana = laptop(client, client_image(client, rec.backend, tmp_path), lan, env.ctx.event_slug, "a")
    connect(ana, mine.config)
    assert handshake(ana)
    bravo = f"10.60.{ids['Bravo']}.1"

    def laptop_reaches(port: int) -> bool:
        code, _out = wg_sh(ana, f"nc -z -w 3 {bravo} {port}", timeout=10)
        return code == 0

    wait_for(lambda: laptop_reaches(PORT))
    assert not laptop_reaches(2222)
    game.set_closed(env.ctx, True, TEST)
    rec.run_once()
    assert not laptop_reaches(PORT)
