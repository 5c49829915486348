"""Flag attempts through the API, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from range_control.domain.flags import DynamicFlag, dynamic_flag
from range_control.services.event import controls, event
from tests.support.env import FLAG_SECRET, T0, TEST, Env, make_env


def test_right_wrong_and_already_solved_are_all_recorded(env: Env) -> None:
    env.challenge("convoy", value=150, flags=["ICE{convoy}"])
    _, team = env.team()
    env.start()
    r = env.attempt(team, "convoy", "ICE{wrong}")
    assert r.status_code == 200 and r.json == {
        "status": "incorrect",
        "points": 0,
        "attempts_left": None,
        "frozen": False,
    }
    r = env.attempt(team, "convoy", "ICE{convoy}")
    assert r.json["status"] == "correct" and r.json["points"] == 150
    r = env.attempt(team, "convoy", "ICE{convoy}")
    assert r.json == {
        "status": "already_solved",
        "points": 0,
        "attempts_left": None,
        "frozen": False,
    }
    rows = env.client.get("/api/v1/admin/attempts", headers=env.admin()).json
    assert [(a["result"], a["submitted"], a["team"], a["challenge"]) for a in rows] == [
        ("already_solved", "ICE{convoy}", "Netherlands", "convoy"),
        ("correct", "ICE{convoy}", "Netherlands", "convoy"),
        ("incorrect", "ICE{wrong}", "Netherlands", "convoy"),
    ]
    assert all(a["source_ip"] == "127.0.0.1" and a["created_at"].endswith("Z") for a in rows)


def test_check_order_exists_visible_running_prerequisites(env: Env) -> None:
    env.challenge("first")
    env.challenge("second", requirements=["first"])
    env.challenge("secret", state="hidden")
    _, team = env.team()
    # Not running yet: 403, but an unknown or hidden challenge is still 404 (checked first).
    assert env.attempt(team, "nope", "x").status_code == 404
    assert env.attempt(team, "secret", "ICE{secret}").status_code == 404
    r = env.attempt(team, "first", "ICE{first}")
    assert r.status_code == 403 and r.json["error"]["code"] == "event_not_running"
    env.start()
    r = env.attempt(team, "second", "ICE{second}")
    assert r.status_code == 403 and r.json["error"]["code"] == "locked"
    assert "first" in r.json["error"]["message"]
    assert env.attempt(team, "first", "ICE{first}").json["status"] == "correct"
    assert env.attempt(team, "second", "ICE{second}").json["status"] == "correct"
    controls.end(env.ctx, TEST)
    r = env.attempt(team, "first", "ICE{first}")
    assert r.status_code == 403 and r.json["error"]["code"] == "event_not_running"


def test_event_past_its_end_time_refuses_flags(env: Env) -> None:
    env.challenge("c")
    _, team = env.team()
    event.configure(env.ctx, TEST, ends_at=T0 + timedelta(hours=1))
    env.start()
    assert env.attempt(team, "c", "nope").status_code == 200
    env.clock.advance(hours=1)
    r = env.attempt(team, "c", "ICE{c}")
    assert r.status_code == 403 and "ended" in r.json["error"]["message"]


def test_rate_limit_per_team_with_retry_after(env: Env) -> None:
    env.challenge("c")
    _, a = env.team("Alpha", "NL")
    _, b = env.team("Bravo", "NO")
    env.start()
    for i in range(10):
        env.clock.advance(seconds=1)
        assert env.attempt(a, "c", f"wrong{i}").json["status"] == "incorrect"
    r = env.attempt(a, "c", "ICE{c}")
    assert r.status_code == 429 and r.json["error"]["code"] == "rate_limited"
    # Oldest wrong attempt was at T0+1 s, now is T0+10 s: the window frees up in 51 s.
    assert r.headers["Retry-After"] == "51"
    # Same IP, other team: not limited (counted per team, not per IP).
    assert env.attempt(b, "c", "wrong").json["status"] == "incorrect"
    env.clock.advance(seconds=50)
    assert env.attempt(a, "c", "ICE{c}").status_code == 429
    env.clock.advance(seconds=1)
    assert env.attempt(a, "c", "ICE{c}").json["status"] == "correct"


def test_rate_limit_is_configurable(database_url: str, tmp_path) -> None:
    from tests.support.env import make_env

    env = make_env(database_url, tmp_path, attempts_per_minute=3)
    try:
        env.challenge("c")
        _, team = env.team()
        env.start()
        for _ in range(3):
            assert env.attempt(team, "c", "no").status_code == 200
        r = env.attempt(team, "c", "no")
        assert r.status_code == 429 and r.headers["Retry-After"] == "60"
    finally:
        env.ctx.store.dispose()


def test_max_attempts_per_challenge(env: Env) -> None:
    env.challenge("c", attempts=2)
    _, team = env.team()
    env.start()
    assert env.attempt(team, "c", "a").json["attempts_left"] == 1
    assert env.attempt(team, "c", "b").json["attempts_left"] == 0
    r = env.attempt(team, "c", "ICE{c}")
    assert r.status_code == 403 and r.json["error"]["code"] == "locked"
    assert "no attempts left" in r.json["error"]["message"]


def test_flag_kinds_end_to_end(env: Env) -> None:
    env.challenge(
        "ci", flags=[{"type": "static", "content": "ICE{Iron-Gate}", "data": "case_insensitive"}]
    )
    env.challenge("rx", flags=[{"type": "regex", "content": r"ICE\{GRID-\d{4}\}"}])
    _, team = env.team()
    env.start()
    assert env.attempt(team, "ci", "ice{iron-gate}").json["status"] == "correct"
    assert env.attempt(team, "rx", "ICE{GRID-123}").json["status"] == "incorrect"
    assert env.attempt(team, "rx", " ICE{GRID-1234} ").json["status"] == "correct"


def test_dynamic_flags_and_sharing_alert(env: Env) -> None:
    env.challenge("beacon", dynamic_flag={"prefix": "ICE"})
    a_id, a = env.team("Alpha", "NL")
    b_id, b = env.team("Bravo", "NO")
    env.start()
    spec = DynamicFlag("ICE", 32)
    flag_a = dynamic_flag(FLAG_SECRET, "ice", a_id, "beacon", spec)
    flag_b = dynamic_flag(FLAG_SECRET, "ice", b_id, "beacon", spec)
    assert flag_a != flag_b
    r = env.attempt(b, "beacon", flag_a)
    assert r.json["status"] == "incorrect"
    assert env.attempt(b, "beacon", flag_b).json["status"] == "correct"
    assert env.attempt(a, "beacon", flag_a).json["status"] == "correct"
    alerts = env.client.get("/api/v1/admin/sharing-alerts", headers=env.admin()).json
    assert len(alerts) == 1
    assert alerts[0]["submitting_team"] == "Bravo" and alerts[0]["flag_owner_team"] == "Alpha"
    assert alerts[0]["challenge"] == "beacon" and alerts[0]["submitted"] == flag_a


def test_bad_bodies_are_4xx_with_clear_messages_never_500(env: Env) -> None:
    env.challenge("c")
    _, team = env.team()
    env.start()
    url = "/api/v1/challenges/c/attempts"
    cases = [
        (dict(json={}), 400, "flag: required"),
        (dict(data="not json", content_type="application/json"), 400, "must be a JSON object"),
        (dict(data="flag=x", content_type="application/x-www-form-urlencoded"), 400, "JSON object"),
        (dict(json=["ICE{c}"]), 400, "must be a JSON object"),
        (dict(json={"flag": 123}), 400, "flag: must be text"),
        (dict(json={"flag": None}), 400, "flag: must be text"),
        (dict(json={"flag": ""}), 400, "flag: too short (minimum length 1)"),
        (dict(json={"flag": "x" * 1025}), 400, "flag: too long (maximum length 1024)"),
        (dict(json={"flag": "x", "extra": 1}), 400, "extra: unknown field"),
        (dict(json={"flag": "x" * 70_000}), 413, "request body larger than"),
        (dict(), 400, "must be a JSON object"),
    ]
    for kwargs, status, message in cases:
        r = env.client.post(url, headers=team, **kwargs)
        assert r.status_code == status, (kwargs.keys(), r.status_code, r.data[:200])
        assert message in r.json["error"]["message"], r.json
    # None of them counted as an attempt.
    assert env.client.get("/api/v1/admin/attempts", headers=env.admin()).json == []


def test_auth_team_and_organiser_tokens_never_cross(env: Env) -> None:
    env.challenge("c")
    team_id, team = env.team()
    r = env.client.get("/api/v1/challenges")
    assert r.status_code == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")
    assert (
        env.client.get(
            "/api/v1/challenges", headers={"Authorization": "Bearer rct_nope"}
        ).status_code
        == 401
    )
    assert (
        env.client.get("/api/v1/challenges", headers={"Authorization": "Basic abc"}).status_code
        == 401
    )
    assert env.client.get("/api/v1/challenges", headers=env.admin()).status_code == 401
    r = env.client.get("/api/v1/admin/teams", headers=team)
    assert r.status_code == 403 and r.json["error"]["code"] == "forbidden"
    assert env.client.get("/api/v1/admin/teams").status_code == 401
    assert env.client.get("/api/v1/admin/teams", headers=env.admin()).status_code == 200
    env.client.post(f"/api/v1/admin/teams/%23{team_id}/disable", headers=env.admin())
    r = env.client.get("/api/v1/challenges", headers=team)
    assert r.status_code == 401 and "disabled" in r.json["error"]["message"]


@pytest.fixture
def unlimited(database_url: str, tmp_path: Path) -> Iterator[Env]:
    """A range whose attempt limit is out of the way (the repeats below are not spam)."""
    e = make_env(database_url, tmp_path, attempts_per_minute=10_000)
    yield e
    e.ctx.store.dispose()


def test_fifty_threads_same_correct_flag_one_solve(unlimited: Env) -> None:
    env = unlimited
    env.challenge("race", value=300)
    _, team = env.team()
    env.start()
    barrier = threading.Barrier(50)
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def go() -> None:
        client = env.app.test_client()
        barrier.wait()
        r = client.post(
            "/api/v1/challenges/race/attempts", json={"flag": "ICE{race}"}, headers=team
        )
        with lock:
            results.append((r.status_code, (r.json or {}).get("status", r.data.decode()[:200])))

    threads = [threading.Thread(target=go) for _ in range(50)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 50
    assert all(code == 200 for code, _ in results), results
    statuses = [s for _, s in results]
    assert statuses.count("correct") == 1, statuses
    assert statuses.count("already_solved") == 49
    board = env.client.get("/api/v1/scoreboard").json
    assert board["standings"][0]["score"] == 300 and board["standings"][0]["solves"] == 1
    attempts = env.client.get("/api/v1/admin/attempts?limit=100", headers=env.admin()).json
    assert len(attempts) == 50
