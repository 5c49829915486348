"""Hiding and showing a challenge."""

from __future__ import annotations

from tests.support.env import Env


def test_hide_and_show_a_challenge(env: Env) -> None:
    env.challenge("c")
    _, team = env.team()
    env.start()
    h = env.admin()
    r = env.client.post("/api/v1/admin/challenges/c/visibility", json={"visible": False}, headers=h)
    assert r.status_code == 200 and r.json[0]["visible"] is False
    assert env.client.get("/api/v1/challenges", headers=team).json == []
    assert env.attempt(team, "c", "ICE{c}").status_code == 404
    env.client.post("/api/v1/admin/challenges/c/visibility", json={"visible": None}, headers=h)
    assert [c["slug"] for c in env.client.get("/api/v1/challenges", headers=team).json] == ["c"]
    r = env.client.post("/api/v1/admin/challenges/zz/visibility", json={"visible": True}, headers=h)
    assert r.status_code == 404
    r = env.client.post("/api/v1/admin/challenges/c/visibility", json={"visible": "yes"}, headers=h)
    assert r.status_code == 400
