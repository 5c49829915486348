"""Scoreboard, freeze, hints, awards, ledger and the CTFtime feed, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

from range_control.services.event import event
from tests.support.env import T0, TEST, Env

DYNAMIC = {"type": "dynamic", "extra": {"initial": 500, "decay": 10, "minimum": 100}}


def standings(env: Env, admin: bool = False) -> dict[str, dict]:
    url = "/api/v1/admin/scoreboard" if admin else "/api/v1/scoreboard"
    body = env.client.get(url, headers=env.admin() if admin else {}).json
    return {row["team"]: row for row in body["standings"]}


def test_scoreboard_shape_and_retroactive_decay(env: Env) -> None:
    env.challenge("beacon", **DYNAMIC)
    teams = [env.team(n, c)[1] for n, c in (("Alpha", "NL"), ("Bravo", "NO"), ("Charlie", "PL"))]
    env.start()
    points = []
    for t in teams:
        env.clock.advance(minutes=1)
        points.append(env.attempt(t, "beacon", "ICE{beacon}").json["points"])
    assert points == [500, 496, 484]  # each solver is told the value with its solve counted
    body = env.client.get("/api/v1/scoreboard").json
    assert set(body) >= {"standings", "frozen"} and body["frozen"] is False
    row = body["standings"][0]
    assert set(row) >= {"pos", "team", "country", "score", "solves", "last_solve_at"}
    assert [(r["pos"], r["team"], r["country"], r["score"]) for r in body["standings"]] == [
        (1, "Alpha", "NL", 484),
        (2, "Bravo", "NO", 484),
        (3, "Charlie", "PL", 484),
    ]
    assert row["last_solve_at"] == (T0 + timedelta(minutes=1)).isoformat().replace("+00:00", "Z")
    listing = env.client.get("/api/v1/challenges", headers=teams[0]).json
    assert listing[0]["value"] == 484 and listing[0]["solves"] == 3 and listing[0]["solved_by_me"]


def test_points_fixed_at_solve_mode(env: Env) -> None:
    env.challenge("beacon", **DYNAMIC)
    event.configure(env.ctx, TEST, points_fixed_at_solve=True)
    teams = [env.team(n, "NL")[1] for n in ("Alpha", "Bravo", "Charlie")]
    env.start()
    for t in teams:
        env.clock.advance(minutes=1)
        env.attempt(t, "beacon", "ICE{beacon}")
    assert {k: v["score"] for k, v in standings(env).items()} == {
        "Alpha": 500,
        "Bravo": 496,
        "Charlie": 484,
    }


def test_tie_break_on_time_reached(env: Env) -> None:
    env.challenge("a", value=100)
    env.challenge("b", value=100)
    _, early = env.team("Early", "NL")
    _, late = env.team("Late", "NO")
    env.start()
    env.clock.advance(minutes=1)
    env.attempt(late, "a", "ICE{a}")
    env.clock.advance(minutes=1)
    env.attempt(early, "a", "ICE{a}")
    env.clock.advance(minutes=1)
    env.attempt(early, "b", "ICE{b}")  # Early: 200 at +3
    env.clock.advance(minutes=1)
    env.attempt(late, "b", "ICE{b}")  # Late: 200 at +4
    rows = env.client.get("/api/v1/scoreboard").json["standings"]
    assert [(r["team"], r["score"], r["pos"]) for r in rows] == [
        ("Early", 200, 1),
        ("Late", 200, 2),
    ]


def test_freeze_public_board_ignores_later_solves_and_decay(env: Env) -> None:
    env.challenge("beacon", **DYNAMIC)
    event.configure(env.ctx, TEST, freeze_at=T0 + timedelta(minutes=10))
    _, a = env.team("Alpha", "NL")
    _, b = env.team("Bravo", "NO")
    env.start()
    env.clock.advance(minutes=5)
    env.attempt(a, "beacon", "ICE{beacon}")
    assert env.client.get("/api/v1/scoreboard").json["frozen"] is False
    env.clock.advance(minutes=10)  # past the freeze
    env.attempt(b, "beacon", "ICE{beacon}")
    public = env.client.get("/api/v1/scoreboard").json
    assert public["frozen"] is True
    assert {r["team"]: r["score"] for r in public["standings"]} == {"Alpha": 500, "Bravo": 0}
    assert {k: v["score"] for k, v in standings(env, admin=True).items()} == {
        "Alpha": 496,
        "Bravo": 496,
    }
    # Teams see frozen values and solve counts too.
    listing = env.client.get("/api/v1/challenges", headers=a).json
    assert listing[0]["value"] == 500 and listing[0]["solves"] == 1


def test_wrong_flag_keeps_scoreboard_cache_and_solve_shows_at_once(env: Env) -> None:
    env.challenge("c", value=100)
    _, team = env.team()
    env.start()
    first = env.client.get("/api/v1/scoreboard")
    etag = first.headers["ETag"]
    assert env.client.get("/api/v1/scoreboard", headers={"If-None-Match": etag}).status_code == 304
    gen = env.ctx.cache["board"]
    env.attempt(team, "c", "wrong")
    again = env.client.get("/api/v1/scoreboard", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert env.ctx.cache["board"] is gen  # the cached board was not recomputed
    env.attempt(team, "c", "ICE{c}")
    after = env.client.get("/api/v1/scoreboard", headers={"If-None-Match": etag})
    assert after.status_code == 200 and after.json["standings"][0]["score"] == 100


def test_hints_cost_once_and_content_only_after_unlock(env: Env) -> None:
    env.challenge(
        "c", value=100, hints=["free one", {"content": "paid one", "cost": 30, "title": "Paid"}]
    )
    _, team = env.team()
    detail = env.client.get("/api/v1/challenges/c", headers=team).json
    free, paid = detail["hints"]
    assert free["content"] == "free one" and free["unlocked"]
    assert paid["content"] is None and paid["cost"] == 30 and paid["title"] == "Paid"
    r = env.client.post(f"/api/v1/hints/{paid['id']}/unlock", headers=team)
    assert r.status_code == 403  # event not running: nothing to pay with
    env.start()
    r = env.client.post(f"/api/v1/hints/{paid['id']}/unlock", headers=team)
    assert r.status_code == 200 and r.json["content"] == "paid one"
    env.client.post(f"/api/v1/hints/{paid['id']}/unlock", headers=team)
    env.clock.advance(minutes=1)
    env.attempt(team, "c", "ICE{c}")
    me = env.client.get("/api/v1/me", headers=team).json
    assert me["standing"]["score"] == 70
    assert [(e["kind"], e["points"]) for e in me["standing"]["entries"]] == [
        ("hint", -30),
        ("solve", 100),
    ]
    assert env.client.post("/api/v1/hints/9999/unlock", headers=team).status_code == 404


def test_awards_first_blood_and_public_ledger(env: Env) -> None:
    env.challenge("c", value=100)
    event.configure(env.ctx, TEST, first_blood_bonus=25)
    a_id, a = env.team("Alpha", "NL")
    _, b = env.team("Bravo", "NO")
    env.start()
    assert env.attempt(a, "c", "ICE{c}").json["points"] == 125
    assert env.attempt(b, "c", "ICE{c}").json["points"] == 100
    r = env.client.post(
        "/api/v1/admin/awards",
        json={"team": "Bravo", "value": 40, "reason": "best SITREP"},
        headers=env.admin(),
    )
    assert r.status_code == 201 and r.json["team"] == "Bravo"
    bad = env.client.post(
        "/api/v1/admin/awards",
        json={"team": "Ghost", "value": 1, "reason": "x"},
        headers=env.admin(),
    )
    assert bad.status_code == 404
    assert {k: v["score"] for k, v in standings(env).items()} == {"Bravo": 140, "Alpha": 125}
    ledger = env.client.get(f"/api/v1/scoreboard/teams/{a_id}").json
    assert [(e["kind"], e["points"], e["why"]) for e in ledger["entries"]] == [
        ("solve", 100, "static value 100"),
        ("first_blood", 25, "first blood bonus"),
    ]
    assert env.client.get("/api/v1/scoreboard/teams/999").status_code == 404


def test_ctftime_feed(env: Env) -> None:
    env.challenge("c", value=100, name="Convoy")
    _, a = env.team("Alpha", "NL")
    env.team("Bravo", "NO")
    env.start()
    env.attempt(a, "c", "ICE{c}")
    feed = env.client.get("/api/v1/scoreboard/ctftime").json
    assert feed["tasks"] == ["Convoy"]
    assert feed["standings"][0] == {
        "pos": 1,
        "team": "Alpha",
        "score": 100,
        "taskStats": {"Convoy": {"points": 100, "time": int(T0.timestamp())}},
    }
    assert feed["standings"][1]["pos"] == 2 and feed["standings"][1]["score"] == 0


def test_event_endpoint_gives_state_and_server_time(env: Env) -> None:
    body = env.client.get("/api/v1/event").json
    assert body["state"] == "not_started" and body["server_time"] == "2026-07-01T09:00:00Z"
    env.start()
    assert env.client.get("/api/v1/event").json["state"] == "running"
