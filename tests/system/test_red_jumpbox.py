"""The red cell's jumpbox on the real engine (``services.redcell.jumpbox``): in a defence tick
it reaches every team's convoy tracker at its game address, on its service port only, while
the teams' own jumpboxes reach nobody else's; each member of the red cell logs in with a login
of their own, every command of their sessions (given to ssh, or typed in a shell) comes back
into the ground truth with who, when and the team and service it names, once; nobody in a
session can write into another member's log; the organisers' close holds for it too."""

from __future__ import annotations

import shutil
import time

import docker
import pytest

from range_control.orchestrator.types import RED_CELL, jumpbox_name
from range_control.services.defence import game
from range_control.services.people import accounts
from range_control.services.redcell import commands, jumpbox
from tests.support.defence import load_defence
from tests.support.engine import jumpbox_ssh
from tests.support.env import TEST, Env
from tests.system.test_defence import PACK, up
from tests.system.test_game_network import reaches, wait_for

PORT = 8080


def run(c, command: str) -> tuple[int, str]:
    _, out, err = c.exec_command(command, timeout=30)
    text = out.read().decode() + err.read().decode()
    return out.channel.recv_exit_status(), text


def test_the_red_cell_s_jumpbox_reaches_every_team_and_logs_each_command(
    defence_range: Env, client: docker.DockerClient
) -> None:
    env = defence_range
    shutil.copytree(PACK / "convoy-tracker", env.tmp / "pack" / "convoy-tracker")
    ids = {name: env.team(name, cc)[0] for name, cc in (("Alpha", "NL"), ("Bravo", "NO"))}
    rex = accounts.add(env.ctx, "Rex Red", "red", TEST, email="rex@red.example").account
    rita = accounts.add(env.ctx, "Rita Red", "red", TEST, email="rita@red.example").account
    load_defence(env, {"convoy-tracker": 1}, tick="60s", phases={"hold": "10m"})
    _backend, rec = up(env, client)
    report = rec.run_once()
    assert report.game_error is None, report.game_error
    event = env.ctx.event_slug
    red_box = jumpbox_name(event, RED_CELL)
    alpha_box = jumpbox_name(event, ids["Alpha"])
    at = {t.team: t.address for t in game.status(env.ctx).targets}

    # A defence tick: the red cell reaches every team's tracker, on its port only; a team's
    # jumpbox reaches no other team's.
    wait_for(lambda: reaches(client, red_box, at["Bravo"], PORT))
    assert reaches(client, red_box, at["Alpha"], PORT)
    assert not reaches(client, red_box, at["Bravo"], 2222)
    assert not reaches(client, alpha_box, at["Bravo"], PORT)

    # Each member logs in as themselves (not as the team user); the access shown is theirs
    # alone (an organiser has none).
    mine = jumpbox.access(env.ctx, rex.id)
    assert mine is not None and mine.user == f"red{rex.id}" and mine.port
    boss = accounts.add(env.ctx, "Olga Org", "organiser", TEST, email="olga@org.example").account
    assert jumpbox.access(env.ctx, boss.id) is None
    with jumpbox_ssh("127.0.0.1", mine.port, mine.password, wait=30, user=mine.user) as c:
        code, out = run(c, f"nc -z -w 3 {at['Bravo']} {PORT} && echo reached")
        assert code == 0 and "reached" in out, out
        # Rita's log is hers: Rex cannot write into it.
        code, out = run(c, f"echo 1 forged > /run/range-log/red{rita.id}")
        assert code != 0 and "Permission denied" in out, out
        shell = c.invoke_shell()
        shell.send(f"nc -z -w 3 {at['Alpha']} {PORT}; echo done-$((40+2))\n")
        seen, deadline = "", time.monotonic() + 20
        while "done-42" not in seen and time.monotonic() < deadline:
            if shell.recv_ready():
                seen += shell.recv(4096).decode(errors="replace")
            time.sleep(0.1)
        assert "done-42" in seen, seen
        shell.send("exit\n")
        shell.close()
    with (
        pytest.raises(AssertionError),
        jumpbox_ssh("127.0.0.1", mine.port, mine.password, wait=3, user="team"),
    ):
        pass

    # The next pass reads the sessions back: who, the command, the team and service named.
    rec.run_once()
    logged = [(c.by, c.command, c.team, c.service) for c in reversed(commands.commands(env.ctx))]
    assert (
        "rex@red.example",
        f"nc -z -w 3 {at['Bravo']} {PORT} && echo reached",
        "Bravo",
        "convoy-tracker",
    ) in logged, (logged, client.containers.get(red_box).logs()[-3000:])
    assert (
        "rex@red.example",
        f"nc -z -w 3 {at['Alpha']} {PORT}; echo done-$((40+2))",
        "Alpha",
        "convoy-tracker",
    ) in logged, logged
    assert ("rex@red.example", "(interactive session)", None, None) in logged, logged
    assert all(by == "rex@red.example" for by, *_ in logged), logged
    # Stored once: another pass reads the same lines and adds nothing.
    rec.run_once()
    assert len(commands.commands(env.ctx)) == len(logged)
    # Bravo's view of the ground truth holds only what named Bravo.
    assert {c.team for c in commands.commands(env.ctx, ids["Bravo"])} == {"Bravo"}

    # Closed by the organisers: the red cell reaches nobody either.
    game.set_closed(env.ctx, True, TEST)
    assert rec.run_once().game_error is None
    assert not reaches(client, red_box, at["Bravo"], PORT)
