"""Organiser API: teams, challenges, attempts (filters, CSV), event, OpenAPI; both databases."""

from __future__ import annotations

import csv
import io

from tests.conftest import TEST, Env


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


def test_attempt_filters_paging_and_csv(env: Env) -> None:
    env.challenge("a")
    env.challenge("b")
    _, t1 = env.team("Alpha", "NL")
    _, t2 = env.team("Bravo", "NO")
    env.start()
    env.attempt(t1, "a", 'wrong, with "quotes"')
    env.clock.advance(minutes=1)
    env.attempt(t1, "a", "ICE{a}")
    env.attempt(t2, "b", "nope")
    h = env.admin()
    get = lambda q: env.client.get(f"/api/v1/admin/attempts?{q}", headers=h)  # noqa: E731
    assert len(get("").json) == 3
    assert [a["team"] for a in get("team=Bravo").json] == ["Bravo"]
    assert [a["result"] for a in get("challenge=a").json] == ["correct", "incorrect"]
    assert len(get("result=incorrect").json) == 2
    assert len(get("since=2026-07-01T09:00:30Z").json) == 2
    page = get("limit=2").json
    assert len(page) == 2 and len(get(f"before_id={page[-1]['id']}").json) == 1
    assert get("result=maybe").status_code == 400
    assert get("limit=0").status_code == 400
    assert "since" in get("since=yesterday").json["error"]["message"]
    r = env.client.get("/api/v1/admin/attempts.csv?team=Alpha", headers=h)
    assert r.status_code == 200 and r.mimetype == "text/csv"
    rows = list(csv.DictReader(io.StringIO(r.data.decode())))
    assert [row["submitted"] for row in rows] == ["ICE{a}", 'wrong, with "quotes"']
    assert set(rows[0]) == {
        "id",
        "created_at",
        "team",
        "challenge",
        "result",
        "submitted",
        "source_ip",
    }


def test_event_control_and_configuration(env: Env) -> None:
    h = env.admin()
    r = env.client.patch(
        "/api/v1/admin/event",
        json={
            "name": "ICE 2026",
            "starts_at": "2026-07-01T08:00:00Z",
            "ends_at": "2026-07-03T16:00:00Z",
            "freeze_at": "2026-07-03T15:00:00Z",
            "first_blood_bonus": 10,
        },
        headers=h,
    )
    assert (
        r.status_code == 200 and r.json["name"] == "ICE 2026" and r.json["first_blood_bonus"] == 10
    )
    bad = env.client.patch(
        "/api/v1/admin/event", json={"freeze_at": "2026-08-01T00:00:00Z"}, headers=h
    )
    assert bad.status_code == 400 and "freeze_at" in bad.json["error"]["message"]
    naive = env.client.patch(
        "/api/v1/admin/event", json={"ends_at": "2026-07-03T16:00:00"}, headers=h
    )
    assert naive.status_code == 400 and "ends_at" in naive.json["error"]["message"]
    assert env.client.post("/api/v1/admin/event/start", headers=h).json["state"] == "running"
    assert env.client.post("/api/v1/admin/event/start", headers=h).status_code == 409
    assert env.client.post("/api/v1/admin/event/stop", headers=h).json["state"] == "ended"
    assert env.client.post("/api/v1/admin/event/stop", headers=h).status_code == 409


def test_openapi_document_is_generated_from_the_models(env: Env) -> None:
    doc = env.client.get("/api/v1/openapi.json").json
    assert doc["openapi"].startswith("3.")
    paths = doc["paths"]
    for p in (
        "/api/v1/challenges/{slug}/attempts",
        "/api/v1/scoreboard",
        "/api/v1/admin/teams",
        "/api/v1/hints/{hint_id}/unlock",
        "/api/v1/admin/attempts",
        "/api/v1/scoreboard/ctftime",
    ):
        assert p in paths, p
    post = paths["/api/v1/challenges/{slug}/attempts"]["post"]
    assert {"200", "400", "401", "403", "404", "429"} <= set(post["responses"])
    schemas = doc["components"]["schemas"]
    attempt_in = next(v for k, v in schemas.items() if k.startswith("AttemptIn"))
    assert attempt_in["properties"]["flag"]["maxLength"] == 1024


def test_unknown_route_and_method_are_json(env: Env) -> None:
    r = env.client.get("/api/v1/nothing-here")
    assert r.status_code == 404 and r.json["error"]["code"] == "not_found"
    r = env.client.delete("/api/v1/scoreboard")
    assert r.status_code == 405 and "error" in r.json


def test_environment_selection_up_reset_down(env: Env) -> None:
    """The desired state only (the reconciler is tested on the engine): up, reset, down."""
    from range_control.services.environments import instances

    env.team("Alpha", "NL")
    env.team("Bravo", "NO")
    env.challenge(
        "web", environment={"services": [{"name": "box", "image": "range/base:bookworm"}]}
    )
    h = env.admin()
    r = env.client.post("/api/v1/admin/environments/up", json={}, headers=h)
    assert r.status_code == 200 and r.json == {"changed": 2}
    r = env.client.post("/api/v1/admin/environments/reset", json={"team": "Alpha"}, headers=h)
    assert r.json == {"changed": 1}
    gens = {v.team: v.state for v in instances.status(env.ctx)}
    assert gens == {"Alpha": "pending", "Bravo": "pending"}
    r = env.client.post("/api/v1/admin/environments/down", json={"challenge": "nope"}, headers=h)
    assert r.status_code == 404 and "nope" in r.json["error"]["message"]
    r = env.client.post("/api/v1/admin/environments/down", json={"team": "Bravo"}, headers=h)
    assert r.json == {"changed": 1}
    assert [v.team for v in instances.status(env.ctx)] == ["Alpha"]
    paths = env.client.get("/api/v1/openapi.json").json["paths"]
    assert {
        "/api/v1/admin/environments/up",
        "/api/v1/admin/environments/down",
        "/api/v1/admin/environments/reset",
    } <= set(paths)
    r = env.client.post(
        "/api/v1/admin/environments/reset",
        json={},
        headers={"Authorization": "Bearer rct_not_the_organiser"},
    )
    assert r.status_code == 403


def test_port_pool_skips_ports_another_process_listens_on(database_url: str, tmp_path) -> None:
    import random
    import socket

    from range_control.services.environments import instances
    from range_control.services.environments.desired import desired_state
    from range_control.services.environments.ports import bindable
    from tests.conftest import make_env

    # Below Linux's ephemeral ports (32768+): a port the kernel hands out could have a neighbour
    # that this run's own outgoing connections (PostgreSQL's, say) hold.
    port = next(
        p
        for p in random.sample(range(32000, 32700), 700)
        if bindable("127.0.0.1", p) and bindable("127.0.0.1", p + 1)
    )
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", port))
        busy.listen()
        e = make_env(
            database_url, tmp_path, port_range=f"{port}-{port + 1}", publish_ip="127.0.0.1"
        )
        try:
            e.team("Alpha", "NL")
            e.challenge("web", environment={"services": [{"name": "box", "image": "x"}]})
            instances.up(e.ctx, instances.Selection(), TEST)
            desired, _ = desired_state(e.ctx)
            assert [jb.port for jb in desired.jumpboxes.values()] == [port + 1]
        finally:
            e.ctx.store.dispose()
