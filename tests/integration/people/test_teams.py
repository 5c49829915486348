"""Teams through the organisers' API: add, list, disable, rotate; a disabled team leaves the board."""

from __future__ import annotations

from tests.support.env import Env


def test_teams_add_list_disable_rotate(env: Env) -> None:
    h = env.admin()
    r = env.client.post("/api/v1/admin/teams", json={"name": "Latvia", "country": "lv"}, headers=h)
    assert r.status_code == 201
    token = r.json["token"]
    assert r.json["team"]["country"] == "LV" and token.startswith("rct_") and len(token) > 40
    assert (
        env.client.post("/api/v1/admin/teams", json={"name": "Latvia"}, headers=h).status_code
        == 409
    )
    bad = env.client.post("/api/v1/admin/teams", json={"name": "X", "country": "1"}, headers=h)
    assert bad.status_code == 400 and "country" in bad.json["error"]["message"]
    assert [t["name"] for t in env.client.get("/api/v1/admin/teams", headers=h).json] == ["Latvia"]
    team_h = {"Authorization": f"Bearer {token}"}
    assert env.client.get("/api/v1/me", headers=team_h).status_code == 200
    r = env.client.post("/api/v1/admin/teams/Latvia/rotate-token", headers=h)
    new = {"Authorization": f"Bearer {r.json['token']}"}
    assert env.client.get("/api/v1/me", headers=team_h).status_code == 401
    assert env.client.get("/api/v1/me", headers=new).status_code == 200
    assert env.client.post("/api/v1/admin/teams/Latvia/disable", headers=h).json["disabled"] is True
    assert env.client.get("/api/v1/me", headers=new).status_code == 401
    assert env.client.post("/api/v1/admin/teams/Latvia/enable", headers=h).json["disabled"] is False
    assert env.client.post("/api/v1/admin/teams/Nobody/disable", headers=h).status_code == 404


def test_disabled_team_leaves_the_scoreboard(env: Env) -> None:
    env.challenge("c")
    team_id, team = env.team()
    env.start()
    env.attempt(team, "c", "ICE{c}")
    assert len(env.client.get("/api/v1/scoreboard").json["standings"]) == 1
    env.client.post(f"/api/v1/admin/teams/%23{team_id}/disable", headers=env.admin())
    assert env.client.get("/api/v1/scoreboard").json["standings"] == []
