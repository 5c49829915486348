"""Sessions and tokens: logging out ends a session server-side, a new token ends the old one's, a
token is shown once, login limits, team names that cannot be mistaken."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.support.env import Env, make_env
from tests.support.web import console, csrf, login, post, token_of


# --- 3: sessions that end ------------------------------------------------------------------
def test_logout_ends_the_session_server_side(env: Env) -> None:
    _, h = env.team()
    c = login(env, token_of(h))
    stolen = c.get_cookie("session").value
    post(c, "/portal/", "/portal/logout", {})
    replay = env.app.test_client()
    replay.set_cookie("session", stolen)
    r = replay.get("/portal/")
    assert r.status_code == 302 and "/portal/login" in r.headers["Location"]
    # The console likewise, and its login lasts hours, not a month.
    c = console(env)
    stolen = c.get_cookie("session").value
    assert c.get("/console/").status_code == 200
    post(c, "/console/", "/console/logout", {})
    replay = env.app.test_client()
    replay.set_cookie("session", stolen)
    r = replay.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/login")
    c = console(env)
    env.clock.advance(hours=8, seconds=1)
    r = c.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/login")


def test_a_new_organiser_token_ends_console_sessions(database_url: str, tmp_path: Path) -> None:
    e = make_env(database_url, tmp_path)
    try:
        c = console(e)
        cookie = c.get_cookie("session").value
        other = make_env(database_url, tmp_path, admin_token="a-new-organiser-token-987654")
        try:
            replay = other.app.test_client()
            replay.set_cookie("session", cookie)
            r = replay.get("/console/")
            assert r.status_code == 302 and r.headers["Location"].endswith("/console/login")
        finally:
            other.ctx.store.dispose()
    finally:
        e.ctx.store.dispose()


# --- 6: team references -------------------------------------------------------------------
def test_team_names_and_ids_never_mean_each_other(env: Env) -> None:
    a = env.admin()
    ids = {}
    for name in ("Alpha", "Bravo", "Charlie", "3"):
        ids[name], _ = env.team(name, "NL")
    assert ids["Charlie"] == 3 and ids["3"] == 4
    r = env.client.post(
        "/api/v1/admin/awards", json={"team": "3", "value": 7, "reason": "r"}, headers=a
    )
    assert r.status_code == 201 and r.json["team"] == "3"
    r = env.client.post(
        "/api/v1/admin/awards", json={"team": "#3", "value": 7, "reason": "r"}, headers=a
    )
    assert r.json["team"] == "Charlie"
    r = env.client.post(
        "/api/v1/admin/awards", json={"team": 3, "value": 7, "reason": "r"}, headers=a
    )
    assert r.json["team"] == "Charlie"
    assert env.client.post("/api/v1/admin/teams/3/disable", headers=a).json["name"] == "3"
    assert env.client.post("/api/v1/admin/teams/%231/disable", headers=a).json["name"] == "Alpha"
    r = env.client.post("/api/v1/admin/teams/%2399/disable", headers=a)
    assert r.status_code == 404 and "'#99' not found" in r.json["error"]["message"]
    r = env.client.post("/api/v1/admin/teams", json={"name": "#5"}, headers=a)
    assert r.status_code == 400 and "must not start with #" in r.json["error"]["message"]


def test_a_new_token_is_shown_once_in_the_page_never_in_a_cookie(env: Env) -> None:
    c = console(env)
    r = c.post(
        "/console/teams",
        data={"name": "Estonia", "country": "EE", "csrf_token": csrf(c, "/console/")},
    )
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    token = re.search(r'id="new-token">(rct_[^<]+)<', r.get_data(as_text=True)).group(1)
    assert token not in r.headers.get("Set-Cookie", "")
    assert token not in c.get("/console/").get_data(as_text=True)
    assert (
        env.client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"}).json["name"]
        == "Estonia"
    )


@pytest.mark.parametrize(
    "name", ["Alpha\u202eahplA", "Zero\u200bWidth", "Left\u2066Iso", "Soft\u00adHyphen", "Tab\x07"]
)
def test_bidi_and_control_characters_are_refused_in_team_names(env: Env, name: str) -> None:
    r = env.client.post("/api/v1/admin/teams", json={"name": name}, headers=env.admin())
    assert r.status_code == 400 and "team name" in r.json["error"]["message"], r.json


def test_login_limits_count_failures_per_token_and_address(env: Env) -> None:
    _, h = env.team("Alpha", "NL")
    _, other = env.team("Bravo", "NO")
    c = env.app.test_client()
    for _ in range(12):  # successful logins never count
        login(env, token_of(h), c)
    for _ in range(10):
        r = c.post(
            "/portal/login", data={"token": "rct_typo", "csrf_token": csrf(c, "/portal/login")}
        )
        assert r.status_code == 401
    r = c.post("/portal/login", data={"token": "rct_typo", "csrf_token": csrf(c, "/portal/login")})
    assert r.status_code == 429 and 1 <= int(r.headers["Retry-After"]) <= 60
    # Another team behind the same address (a NAT) still logs in.
    login(env, token_of(other), env.app.test_client())
