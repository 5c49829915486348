"""Flag submission behind its three doors (the agreed TCP line protocol, ForcAD's HTTP PUT, the
range's JSON API), on SQLite and PostgreSQL: every answer code provoked (a capture, a
duplicate through another door, the team's own flag, a flag too old, the NOP team's, garbage,
another event's flag, past the rate limit, outside an attack-defence phase); a client that
pipelines and reads the agreed codes, and one that behaves as DestructiveFarm's ``forcad_tcp``
(greeting words, a token, one flag at a time, answers read by their words); the captures
scored exactly in the ledger; the attack data without a secret."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Iterator

import pytest

from range_control.domain.defence import flags as flagging
from range_control.domain.defence.flags import FlagFacts
from range_control.orchestrator.fake import FakeBackend
from range_control.services.defence.flagserver import FlagServer
from range_control.services.environments import engine
from range_control.services.play import scoreboard
from range_control.store.models import Challenge, DefenceFlag
from tests.support.defence import farm_reads, load_defence, write_defended
from tests.support.env import FLAG_SECRET, Env

TICK = 60


@pytest.fixture
def game(env: Env, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Env, dict, dict, int]]:
    monkeypatch.setattr(engine, "backend", lambda *_a, **_k: FakeBackend())
    ids, heads = {}, {}
    for name, cc in (("Alpha", "NL"), ("Bravo", "NO"), ("Charlie", "DE"), ("NOP", "BE")):
        ids[name], heads[name] = env.team(name, cc)
    write_defended(env.tmp / "pack", "tracker", timeout="10s")
    load_defence(
        env,
        {"tracker": 1},
        tick=f"{TICK}s",
        mode="attack-defence",
        nop_team="NOP",
        flag_lifetime=2,
        submit_rate=40,
        captures={"formula": "faust", "value": 10},
    )
    with env.ctx.store.read() as s:
        service = s.query(Challenge).filter_by(slug="tracker").one().id
    env.clock.advance(seconds=2 * TICK + 5)  # tick 3
    yield env, ids, heads, service


def flag(env: Env, team: int, service: int, tick: int, fmt: str = "forcad") -> str:
    return flagging.make(
        FLAG_SECRET, env.ctx.event_slug, FlagFacts(tick, team, service, 1), fmt, "tracker"
    )


def submit(env: Env, head: dict, flags: list[str]) -> list[tuple[str, str]]:
    got = env.client.post("/api/v1/captures", json={"flags": flags}, headers=head)
    assert got.status_code == 200, got.get_json()
    return [(a["code"], a["message"]) for a in got.get_json()["answers"]]


def test_every_answer_code_and_the_ledger(game) -> None:
    env, ids, heads, svc = game
    alpha, bravo, charlie, nop = ids["Alpha"], ids["Bravo"], ids["Charlie"], ids["NOP"]
    other = flagging.make(
        FLAG_SECRET, "another-event", FlagFacts(3, bravo, svc, 1), "forcad", "tracker"
    )
    codes = submit(
        env,
        heads["Alpha"],
        [
            flag(env, bravo, svc, 3),  # OK
            flag(env, bravo, svc, 3),  # DUP in the same batch
            flag(env, charlie, svc, 2),  # OK: tick 2 is valid 2 ticks
            flag(env, charlie, svc, 1),  # OLD
            flag(env, alpha, svc, 3),  # OWN
            flag(env, nop, svc, 3),  # INV: the NOP team's
            other,  # INV: another event's
            "ICE{not-a-flag}",
            "X" * 5000,  # bounded
        ],
    )
    assert [c for c, _m in codes] == ["OK", "DUP", "OK", "OLD", "OWN", "INV", "INV", "INV", "INV"]
    assert codes[0][1] == "accepted" and codes[1][1] == "already submitted"
    # Through ForcAD's door, with its header: a duplicate across doors; Bravo captures too.
    put = env.client.put(
        "/api/v1/flags",
        json=[flag(env, bravo, svc, 3), flag(env, charlie, svc, 3)],
        headers={"X-Team-Token": heads["Alpha"]["Authorization"].split()[1]},
    )
    assert put.status_code == 200, put.get_json()
    assert [(a["status"], a["msg"].split(" ", 1)[1]) for a in put.get_json()] == [
        ("DUP", "DUP already submitted"),
        ("OK", "OK accepted"),
    ]
    assert [c for c, _ in submit(env, heads["Bravo"], [flag(env, charlie, svc, 3)])] == ["OK"]
    # FAUST: Alpha captured Bravo@3 alone (10 x 2 = 20), Charlie@2 alone (20), Charlie@3 with
    # Bravo (10 x 1.5 = 15); Bravo gets 15 and loses 10 x 1^0.75 = 10 (@3, one captor);
    # Charlie loses 10 (@2, one captor) and 10 x 2^0.75 = 16.8 -> 17 (@3, two).
    got = {
        name: sorted(
            (e.kind, e.points)
            for e in scoreboard.ledger(env.ctx, ids[name], public=False).entries
            if e.kind in ("capture", "flag-lost")
        )
        for name in ("Alpha", "Bravo", "Charlie")
    }
    assert got == {
        "Alpha": [("capture", 15), ("capture", 20), ("capture", 20)],
        "Bravo": [("capture", 15), ("flag-lost", -10)],
        "Charlie": [("flag-lost", -17), ("flag-lost", -10)],
    }
    whys = [e.why for e in scoreboard.ledger(env.ctx, charlie, public=False).entries]
    assert "our tracker flag of tick 3 captured by 2 teams" in whys
    # The public grid counts them per team and service: captured, and own flags lost.
    grid = env.client.get("/api/v1/defence/grid").get_json()
    counts = {r["team"]: (r["cells"][0]["captured"], r["cells"][0]["lost"]) for r in grid["rows"]}
    assert counts == {"Alpha": (3, 0), "Bravo": (1, 1), "Charlie": (0, 2), "NOP": (0, 0)}


def test_the_rate_limit_and_a_closed_game_are_errors_to_retry(game) -> None:
    env, ids, heads, svc = game
    many = [flag(env, ids["Bravo"], svc, 3)] + [f"junk{i}" for i in range(45)]
    codes = [c for c, _ in submit(env, heads["Alpha"], many)]
    assert codes[0] == "OK" and codes[39] == "INV" and set(codes[40:]) == {"ERR"}
    env.clock.advance(seconds=61)
    from range_control.services.event import controls
    from tests.support.env import TEST

    controls.pause(env.ctx, TEST)
    time.sleep(1.1)  # the game's state is read again after a second
    answers = submit(env, heads["Alpha"], [flag(env, ids["Bravo"], svc, 4)])
    assert answers[0][0] == "ERR" and "try again later" in answers[0][1]


def test_the_attack_data_has_no_secret(game) -> None:
    env, ids, heads, svc = game
    with env.ctx.store.write() as s:
        for team, public in ((ids["Bravo"], "user-4711"), (ids["Charlie"], "")):
            f = flag(env, team, svc, 3)
            s.add(
                DefenceFlag(
                    tick=3,
                    team_id=team,
                    challenge_id=svc,
                    store=1,
                    flag=f,
                    flag_id="private-id-" + str(team),
                    public_info=public,
                    placed=True,
                    created_at=env.clock.now(),
                )
            )
    body = env.client.get("/api/v1/attack-data").get_json()
    assert body["tick"] == 3
    assert body["services"]["tracker"][str(ids["Bravo"])] == {"3": ["user-4711"]}
    # write_defended's checker is exit-code without pfr: ForcAD publishes the flag id itself.
    assert body["services"]["tracker"][str(ids["Charlie"])] == {
        "3": ["private-id-" + str(ids["Charlie"])]
    }
    text = env.client.get("/api/v1/attack-data").get_data(as_text=True)
    assert flag(env, ids["Bravo"], svc, 3) not in text


# --- the TCP door ---------------------------------------------------------------------------------
@pytest.fixture
def door(game) -> Iterator[tuple[int, tuple]]:
    env = game[0]
    loop = asyncio.new_event_loop()
    server = FlagServer(env.ctx)
    port = loop.run_until_complete(server.start("127.0.0.1", 0))
    thread = threading.Thread(target=loop.run_forever, daemon=True)
    thread.start()
    try:
        yield port, game
    finally:
        asyncio.run_coroutine_threadsafe(server.close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(5)
        loop.close()


def recv_until(sock: socket.socket, end: bytes, timeout: float = 10) -> bytes:
    sock.settimeout(timeout)
    data = b""
    while not data.endswith(end):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_a_pipelining_client_reads_the_agreed_codes(door) -> None:
    port, (env, ids, heads, svc) = door
    token = heads["Alpha"]["Authorization"].split()[1]
    with socket.create_connection(("127.0.0.1", port)) as sock:
        banner = recv_until(sock, b"\n\n")
        assert banner.endswith(b"\n\n") and b"Enter your flags" in banner
        mine = flag(env, ids["Alpha"], svc, 3)
        theirs = flag(env, ids["Bravo"], svc, 3)
        sock.sendall(f"{token}\n{theirs}\n{mine}\n{theirs}\nnonsense\n".encode())
        lines = recv_until(sock, b"\n").decode()
        while lines.count("\n") < 5:
            lines += recv_until(sock, b"\n").decode()
    first, *answers = lines.strip().split("\n")
    assert "enter your flags" in first
    assert [a.split(" ")[:2] for a in answers] == [
        [theirs, "OK"],
        [mine, "OWN"],
        [theirs, "DUP"],
        ["nonsense", "INV"],
    ]


def test_a_client_that_behaves_as_destructivefarm(door) -> None:
    """forcad_tcp: the greeting must say "Welcome", the token line is answered with "enter
    your flags", then one flag at a time, each answer sorted by its words."""
    port, (env, ids, heads, svc) = door
    token = heads["Bravo"]["Authorization"].split()[1]
    sent = [
        flag(env, ids["Charlie"], svc, 3),
        flag(env, ids["Charlie"], svc, 3),
        flag(env, ids["Bravo"], svc, 3),
        flag(env, ids["Charlie"], svc, 1),
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
    ]
    statuses = []
    with socket.create_connection(("127.0.0.1", port)) as sock:
        greeting = recv_until(sock, b"\n\n")
        assert b"Welcome" in greeting
        sock.sendall(token.encode() + b"\n")
        assert b"enter your flags" in recv_until(sock, b"\n")
        for f in sent:
            sock.sendall(f.encode() + b"\n")
            response = recv_until(sock, b"\n").decode().strip().splitlines()[0]
            statuses.append(farm_reads(response, f))
    assert statuses == ["ACCEPTED", "REJECTED", "REJECTED", "REJECTED", "REJECTED"]


def test_the_door_refuses_a_bad_token_and_flags_before_one(door) -> None:
    port, (env, ids, heads, svc) = door
    with socket.create_connection(("127.0.0.1", port)) as sock:
        recv_until(sock, b"\n\n")
        sock.sendall(flag(env, ids["Charlie"], svc, 3).encode() + b"\n")
        assert b" ERR try again later: send your team token first" in recv_until(sock, b"\n")
    with socket.create_connection(("127.0.0.1", port)) as sock:
        recv_until(sock, b"\n\n")
        sock.sendall(b"rct_wrong\n")
        assert recv_until(sock, b"\n") == b"ERR invalid team token\n"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        recv_until(sock, b"\n\n")
        sock.sendall(b"A" * 10_000 + b"\n")
        assert b"ERR line too long" in recv_until(sock, b"\n")


def test_a_flag_of_a_tick_that_just_began_is_not_refused(game) -> None:
    """The game's state is reused for a second: a flag of a tick that began within it is
    judged against the game read again, not refused as a tick to come."""
    env, ids, heads, svc = game
    assert submit(env, heads["Alpha"], [flag(env, ids["Bravo"], svc, 3)])[0][0] == "OK"
    env.clock.advance(seconds=TICK)  # tick 4, within the same wall-clock second
    assert submit(env, heads["Alpha"], [flag(env, ids["Bravo"], svc, 4)])[0][0] == "OK"
    assert submit(env, heads["Alpha"], [flag(env, ids["Bravo"], svc, 5)])[0][0] == "INV"


def test_the_report_has_each_teams_defence_timeline_and_time_to_restore(game) -> None:
    """The after-action report: per team, its services' verdict changes, captures made and
    suffered, resets, and the time from a service's first DOWN/MUMBLE/CORRUPT to its next OK."""
    from datetime import timedelta

    from range_control.services.whitecell.report import build
    from range_control.services.whitecell.report.render import csv_files, html
    from range_control.store.models import DefenceVerdict

    env, ids, heads, svc = game
    t0 = env.clock.now()
    with env.ctx.store.write() as s:
        for tick, verdict in ((1, "OK"), (2, "DOWN"), (3, "DOWN"), (4, "MUMBLE"), (5, "OK")):
            at = t0 + timedelta(seconds=60 * tick)
            s.add(
                DefenceVerdict(
                    tick=tick,
                    team_id=ids["Bravo"],
                    challenge_id=svc,
                    verdict=verdict,
                    public="connection refused" if verdict == "DOWN" else "",
                    private="",
                    cause="check",
                    seconds=1.0,
                    checked_at=at,
                    at=at,
                    reruns=0,
                )
            )
    assert submit(env, heads["Alpha"], [flag(env, ids["Bravo"], svc, 3)])[0][0] == "OK"
    doc = build(env.ctx)
    bravo = next(t for t in doc["teams"] if t["name"] == "Bravo")
    assert bravo["restores"] == [
        {
            "challenge": "tracker",
            "down_at": bravo["restores"][0]["down_at"],
            "restored_at": bravo["restores"][0]["restored_at"],
            "seconds": 180,  # DOWN at tick 2 to OK at tick 5
        }
    ]
    kinds = [(e["kind"], e.get("outcome")) for e in bravo["events"]]
    assert [k for k in kinds if k[0] == "defence_verdict"] == [
        ("defence_verdict", "OK"),
        ("defence_verdict", "DOWN"),  # tick 3's DOWN is no change: not repeated
        ("defence_verdict", "MUMBLE"),
        ("defence_verdict", "OK"),
    ]
    assert ("flag_lost", None) in kinds
    alpha = next(t for t in doc["teams"] if t["name"] == "Alpha")
    assert any(e["kind"] == "capture" and "Bravo" in e["what"] for e in alpha["events"])
    page = html(doc)
    assert "Time to restore" in page and "connection refused" in page
    assert "its flag of tick 3 captured by Alpha" in csv_files(doc)["timeline.csv"]
    anonymous = build(env.ctx, anonymise=True)
    assert "Bravo" not in json.dumps(anonymous) and "Alpha" not in json.dumps(anonymous)


def test_a_capture_shows_on_the_cached_scoreboard_at_once(game) -> None:
    env, ids, heads, svc = game

    def score(name: str) -> int:
        rows = env.client.get("/api/v1/scoreboard").get_json()["standings"]
        return next(r["score"] for r in rows if r["team"] == name)

    before = score("Alpha")  # computed and cached now
    assert [c for c, _m in submit(env, heads["Alpha"], [flag(env, ids["Bravo"], svc, 3)])] == ["OK"]
    assert score("Alpha") == before + 20  # FAUST: 10 x (1 + 1/1), not the cached board


def test_a_farm_on_its_teams_network_needs_no_token(door) -> None:
    """ructf_tcp sends no token: the door names the team by the connection's address (the
    networks the organisers gave it); another address is no team's, and a token still names
    its team from anywhere."""
    port, (env, ids, heads, svc) = door
    admin = env.admin()
    put = env.client.put(
        "/api/v1/admin/teams/Bravo/networks", json={"networks": ["127.0.0.2/32"]}, headers=admin
    )
    assert put.status_code == 200 and put.get_json()["networks"] == ["127.0.0.2/32"]
    clash = env.client.put(
        "/api/v1/admin/teams/Alpha/networks", json={"networks": ["127.0.0.0/24"]}, headers=admin
    )
    assert clash.status_code == 409 and "Bravo" in clash.get_data(as_text=True)
    bad = env.client.put(
        "/api/v1/admin/teams/Alpha/networks", json={"networks": ["10.1.300.0/24"]}, headers=admin
    )
    assert bad.status_code == 400 and "networks.0" in bad.get_data(as_text=True)
    sent = [flag(env, ids["Charlie"], svc, 3), flag(env, ids["Bravo"], svc, 3)]
    statuses = []
    with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.2", 0)) as sock:
        assert b"Enter your flags" in recv_until(sock, b"\n\n")
        for f in sent:  # one at a time, answers read by their words
            sock.sendall(f.encode() + b"\n")
            statuses.append(farm_reads(recv_until(sock, b"\n").decode().strip(), f))
    assert statuses == ["ACCEPTED", "REJECTED"]  # Charlie's: captured; Bravo's own: refused
    with socket.create_connection(("127.0.0.1", port), source_address=("127.0.0.3", 0)) as sock:
        recv_until(sock, b"\n\n")
        sock.sendall(sent[0].encode() + b"\n")
        assert b" ERR " in recv_until(sock, b"\n")
    actions = [a["action"] for a in env.client.get("/api/v1/admin/audit", headers=admin).json]
    assert "team.networks" in actions
