"""The rules of play at their edges: locked challenges, the freeze's answers, solved flags again,
blank flags, no live environment."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select

from range_control.services.event import scenario
from range_control.store.models import Instance
from tests.support.env import TEST, Env, make_env
from tests.support.play import LIVE, attempts_stored, hints_of
from tests.support.web import login, token_of


# --- 1: RANGE_ENVIRONMENTS=off ----------------------------------------------------------------
def test_environments_off_offers_no_live_challenge(database_url: str, tmp_path: Path) -> None:
    e = make_env(database_url, tmp_path, environments="off")
    try:
        e.challenge("web", environment=LIVE)
        _, h = e.team()
        e.start()
        r = e.client.post("/api/v1/challenges/web/instance", headers=h)
        assert r.status_code == 503 and r.json["error"]["code"] == "unavailable"
        assert "RANGE_ENVIRONMENTS=off" in r.json["error"]["message"]
        assert e.client.get("/api/v1/challenges/web/instance", headers=h).json["state"] == (
            "unavailable"
        )
        assert e.client.get("/api/v1/challenges/web", headers=h).json["environment"] == (
            "unavailable"
        )
        r = e.client.post("/api/v1/admin/environments/up", json={}, headers=e.admin())
        assert r.status_code == 503
        page = login(e, token_of(h)).get("/portal/challenges/web").get_data(as_text=True)
        assert "Live environments are not available" in page and 'value="start"' not in page
        # A scenario whose phase wants the challenge warm: no instance becomes desired.
        data = {
            "event": "E",
            "start": "manual",
            "phases": [{"id": "p", "title": "P", "duration": "1h", "challenges": ["web"]}],
        }
        scenario.load(e.ctx, scenario.parse(data), TEST)
        scenario.apply(e.ctx)
        with e.ctx.store.read() as s:
            assert list(s.scalars(select(Instance))) == []
    finally:
        e.ctx.store.dispose()


# --- 10: a locked challenge is closed -----------------------------------------------------
def test_a_locked_challenge_shows_its_name_only(env: Env, tmp_path: Path) -> None:
    env.challenge("first")
    d = tmp_path / "pack" / "second"
    d.mkdir(parents=True)
    (d / "notes.txt").write_text("secret notes")
    env.challenge(
        "second",
        requirements=["first"],
        description="the secret plan",
        files=["notes.txt"],
        hints=[{"content": "it is ICE{second}", "cost": 5}],
        environment=LIVE,
    )
    _, h = env.team()
    env.start()
    detail = env.client.get("/api/v1/challenges/second", headers=h).json
    assert detail["locked"] is True and detail["name"] == "Second"
    assert detail["description"] == "" and detail["files"] == [] and detail["hints"] == []
    hint_ids = [hh.id for hh in hints_of(env, "second")]
    r = env.client.post(f"/api/v1/hints/{hint_ids[0]}/unlock", headers=h)
    assert r.status_code == 403 and r.json["error"]["code"] == "locked"
    r = env.client.post("/api/v1/challenges/second/instance", headers=h)
    assert r.status_code == 403 and r.json["error"]["code"] == "locked"
    c = login(env, token_of(h))
    page = c.get("/portal/challenges/second").get_data(as_text=True)
    assert "the secret plan" not in page and "notes.txt" not in page and "Locked" in page
    assert c.get("/portal/challenges/second/files/notes.txt").status_code == 404
    env.attempt(h, "first", "ICE{first}")
    detail = env.client.get("/api/v1/challenges/second", headers=h).json
    assert detail["locked"] is False and detail["description"] == "the secret plan"
    assert c.get("/portal/challenges/second/files/notes.txt").status_code == 200


# --- 11: the freeze freezes what an attempt says too ----------------------------------------
def test_attempt_answers_during_the_freeze_use_frozen_values(env: Env) -> None:
    env.challenge("dyn", type="dynamic", extra={"initial": 500, "decay": 2, "minimum": 100})
    env.client.patch("/api/v1/admin/event", headers=env.admin(), json={"first_blood_bonus": 50})
    teams_h = [env.team(n, "NL")[1] for n in ("A", "B", "C")]
    env.start()
    env.client.patch(
        "/api/v1/admin/event",
        headers=env.admin(),
        json={"freeze_at": (env.clock.now() + timedelta(minutes=10)).isoformat()},
    )
    env.clock.advance(minutes=11)
    first = env.attempt(teams_h[0], "dyn", "ICE{dyn}").json
    second = env.attempt(teams_h[1], "dyn", "ICE{dyn}").json
    # Both answers are the frozen board's value (no solve before the freeze) with no bonus:
    # neither says who was first after the freeze.
    assert (
        first
        == second
        == {"status": "correct", "points": 500, "attempts_left": None, "frozen": True}
    )


# --- 12: repeats of a solved flag are limited ---------------------------------------------
def test_resubmitting_a_solved_flag_counts_against_the_limit(env: Env) -> None:
    env.challenge("c")
    _, h = env.team()
    env.start()
    assert env.attempt(h, "c", "ICE{c}").json["status"] == "correct"
    statuses = [env.attempt(h, "c", "ICE{c}").status_code for _ in range(12)]
    assert statuses[:10] == [200] * 10 and statuses[10:] == [429, 429]
    assert attempts_stored(env) == 11


# --- weaknesses ---------------------------------------------------------------------------
def test_whitespace_flags_are_refused_not_counted(env: Env) -> None:
    env.challenge("c")
    _, h = env.team()
    env.start()
    r = env.attempt(h, "c", "   \t ")
    assert r.status_code == 400 and "only white space" in r.json["error"]["message"]
    assert attempts_stored(env) == 0
