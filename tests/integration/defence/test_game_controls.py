"""The game network's controls through the organisers' API, on both databases: closed and opened,
a team cut off until a tick and restored, each audited; a closed game or a cut team's flags are
errors to retry; the game addresses in the status and in the attack data; bad input named."""

from __future__ import annotations

import time

import pytest

from range_control.domain.defence import flags as flagging
from range_control.domain.defence.flags import FlagFacts
from range_control.orchestrator.fake import FakeBackend
from range_control.services.environments import engine
from range_control.store.models import Challenge
from tests.support.defence import load_defence, write_defended
from tests.support.env import FLAG_SECRET, Env


@pytest.fixture
def ad(env: Env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(engine, "backend", lambda *_a, **_k: FakeBackend())
    heads = {}
    for name, cc in (("Alpha", "NL"), ("Bravo", "NO")):
        _id, heads[name] = env.team(name, cc)
    write_defended(env.tmp / "pack", "tracker", timeout="10s")
    load_defence(env, {"tracker": 1}, tick="60s", mode="attack-defence")
    with env.ctx.store.read() as s:
        service = s.query(Challenge).filter_by(slug="tracker").one().id
    env.clock.advance(seconds=65)  # tick 2
    return env, heads, service


def capture(env: Env, head: dict, victim: int, service: int) -> str:
    flag = flagging.make(
        FLAG_SECRET, env.ctx.event_slug, FlagFacts(2, victim, service, 1), "forcad", "tracker"
    )
    got = env.client.post("/api/v1/captures", json={"flags": [flag]}, headers=head)
    assert got.status_code == 200, got.get_json()
    return got.get_json()["answers"][0]["code"]


def test_close_open_cut_restore_each_audited_and_each_felt_by_submissions(ad) -> None:
    env, heads, svc = ad
    admin = env.admin()
    status = env.client.get("/api/v1/admin/game-network", headers=admin).get_json()
    assert status["open"] and status["mode"] == "attack-defence" and status["tick"] == 2
    assert {(t["team"], t["address"]) for t in status["targets"]} == {
        ("Alpha", "10.60.1.1"),
        ("Bravo", "10.60.2.1"),
    }
    hosts = env.client.get("/api/v1/attack-data").get_json()["teams"]
    assert {t["name"]: t["hosts"]["tracker"] for t in hosts} == {
        "Alpha": "10.60.1.1",
        "Bravo": "10.60.2.1",
    }
    closed = env.client.post("/api/v1/admin/game-network", json={"closed": True}, headers=admin)
    assert closed.status_code == 200 and closed.get_json()["open"] is False
    time.sleep(1.1)  # submissions read the game again after a second
    assert capture(env, heads["Alpha"], 2, svc) == "ERR"
    env.client.post("/api/v1/admin/game-network", json={"closed": False}, headers=admin)
    cut = env.client.post(
        "/api/v1/admin/game-network/cuts",
        json={"team": "Alpha", "until_tick": 4, "reason": "scanning"},
        headers=admin,
    )
    assert cut.status_code == 200, cut.get_json()
    assert cut.get_json()["cuts"] == [{"team": "Alpha", "until_tick": 4, "active": True}]
    time.sleep(1.1)
    assert capture(env, heads["Alpha"], 2, svc) == "ERR"
    assert capture(env, heads["Bravo"], 1, svc) == "OK"  # Alpha stays a target
    env.clock.advance(seconds=120)  # tick 4: the cut is over by itself
    time.sleep(1.1)
    again = env.client.get("/api/v1/admin/game-network", headers=admin).get_json()
    assert again["cuts"] == [{"team": "Alpha", "until_tick": 4, "active": False}]
    gone = env.client.delete("/api/v1/admin/game-network/cuts/Alpha", headers=admin)
    assert gone.status_code == 200 and gone.get_json()["cuts"] == []
    log = env.client.get("/api/v1/admin/audit", headers=admin).get_json()
    actions = [a["action"] for a in log]
    for action in ("game.close", "game.open", "game.cut", "game.restore"):
        assert action in actions
    assert next(a for a in log if a["action"] == "game.cut")["detail"] == {
        "team": "Alpha",
        "until_tick": 4,
        "reason": "scanning",
    }


def test_bad_controls_are_refused_naming_what(ad) -> None:
    env, _heads, _svc = ad
    admin = env.admin()
    post = env.client.post
    r = post(
        "/api/v1/admin/game-network/cuts", json={"team": "Nobody", "until_tick": 3}, headers=admin
    )
    assert r.status_code == 404 and "Nobody" in r.get_data(as_text=True)
    r = post(
        "/api/v1/admin/game-network/cuts", json={"team": "Alpha", "until_tick": 0}, headers=admin
    )
    assert r.status_code == 400 and "until_tick" in r.get_data(as_text=True)
    r = post("/api/v1/admin/game-network", json={"closed": "maybe"}, headers=admin)
    assert r.status_code == 400 and "closed" in r.get_data(as_text=True)
    r = env.client.delete("/api/v1/admin/game-network/cuts/Alpha", headers=admin)
    assert r.status_code == 404 and "not cut off" in r.get_data(as_text=True)
