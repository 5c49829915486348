"""Issue 10: each probe that found a defect or a weakness, as a test, on both databases where
the database matters. Each one failed on the code before the fix."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy import select

from range_control.services.event import controls, scenario
from range_control.store.models import Attempt, Instance
from tests.conftest import TEST, Env, make_env, migrated_sqlite
from tests.test_web import console, csrf, login, post, token_of

LIVE = {"services": [{"name": "box", "image": "range/base:bookworm"}]}


def attempts_stored(env: Env) -> int:
    with env.ctx.store.read() as s:
        return len(list(s.scalars(select(Attempt.id))))


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
    assert replay.get("/console/").status_code == 302
    c = console(env)
    env.clock.advance(hours=8, seconds=1)
    assert c.get("/console/").status_code == 302


def test_a_new_organiser_token_ends_console_sessions(database_url: str, tmp_path: Path) -> None:
    e = make_env(database_url, tmp_path)
    try:
        c = console(e)
        cookie = c.get_cookie("session").value
        other = make_env(database_url, tmp_path, admin_token="a-new-organiser-token-987654")
        try:
            replay = other.app.test_client()
            replay.set_cookie("session", cookie)
            assert replay.get("/console/").status_code == 302
        finally:
            other.ctx.store.dispose()
    finally:
        e.ctx.store.dispose()


# --- 4: NUL and unpaired surrogates ------------------------------------------------------------
def test_nul_and_surrogates_are_400_everywhere_and_nothing_is_stored(env: Env) -> None:
    env.challenge("c")
    tid, h = env.team()
    env.start()
    a = env.admin()
    cases = [
        ("post", "/api/v1/challenges/c/attempts", h, {"json": {"flag": "ICE{\x00}"}}, "flag"),
        (
            "post",
            "/api/v1/challenges/c/attempts",
            h,
            {"data": '{"flag": "\\ud800"}', "content_type": "application/json"},
            "surrogate",
        ),
        ("post", "/api/v1/challenges/c%00/attempts", h, {"json": {"flag": "x"}}, "path.slug"),
        ("post", "/api/v1/admin/announcements", a, {"json": {"title": "a\x00b"}}, "title"),
        (
            "post",
            "/api/v1/admin/awards",
            a,
            {"json": {"team": "Netherlands", "value": 5, "reason": "r\x00"}},
            "reason",
        ),
        ("get", "/api/v1/admin/attempts?team=a%00b", a, {}, "query.team"),
        ("post", "/api/v1/admin/teams", a, {"json": {"name": "N\x00"}}, "name"),
    ]
    for method, url, headers, kwargs, field in cases:
        r = getattr(env.client, method)(url, headers=headers, **kwargs)
        assert r.status_code == 400, (url, r.status_code, r.data[:300])
        assert field in r.json["error"]["message"], r.json
    assert attempts_stored(env) == 0
    # The pages too: a form value with NUL is a 400 page, not a 500.
    c = login(env, token_of(h))
    r = c.post(
        "/portal/challenges/c/attempt",
        data={"flag": "a\x00", "csrf_token": csrf(c, "/portal/challenges/c")},
    )
    assert r.status_code == 400 and "form.flag" in r.get_data(as_text=True)
    assert attempts_stored(env) == 0


# --- 5: CSV -------------------------------------------------------------------------------
def test_csv_cells_never_start_a_formula(env: Env) -> None:
    env.challenge("c")
    _, h = env.team()
    env.start()
    evil = ['=HYPERLINK("http://x","y")', "+1", "-2", "@SUM(A1)", "\tx", "\rx", "plain"]
    for flag in evil:
        env.attempt(h, "c", flag)
    body = env.client.get("/api/v1/admin/attempts.csv", headers=env.admin()).get_data(as_text=True)
    rows = list(csv.DictReader(io.StringIO(body, newline="")))
    got = sorted(r["submitted"] for r in rows)
    assert got == sorted(["'" + f for f in evil[:-1]] + ["plain"])


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


# --- 7: no unhandled 500 -------------------------------------------------------------------
def test_inputs_that_were_500s_are_400s_naming_the_field(env: Env) -> None:
    env.challenge("c")
    _, h = env.team()
    env.start()
    a = env.admin()
    deep = "[" * 5000 + "]" * 5000
    r = env.client.post(
        "/api/v1/challenges/c/attempts", data=deep, headers=h, content_type="application/json"
    )
    assert r.status_code == 400 and "nested" in r.json["error"]["message"]
    r = env.client.post(
        "/api/v1/challenges/c/attempts",
        headers=h,
        json={
            "flag": "x",
            "z": [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]],
        },
    )
    assert r.status_code == 400 and "nested" in r.json["error"]["message"]
    for q in ("²", "٣", "9" * 40, "-1", "0"):
        r = env.client.get(f"/api/v1/announcements?limit={q}")
        assert r.status_code == 400 and "limit" in r.json["error"]["message"], q
    r = env.client.post(
        "/api/v1/admin/awards",
        headers=a,
        json={"team": "Netherlands", "value": 10**30, "reason": "r"},
    )
    assert r.status_code == 400 and "value" in r.json["error"]["message"]
    for by in ("99999999999999m", "٣m", "400d"):
        r = env.client.post("/api/v1/admin/event/extend", json={"by": by}, headers=a)
        assert r.status_code == 400 and "by:" in r.json["error"]["message"], by
    r = env.client.get(f"/api/v1/admin/attempts?before_id={10**30}", headers=a)
    assert r.status_code == 400 and "before_id" in r.json["error"]["message"]
    assert env.client.get(f"/api/v1/scoreboard/teams/{10**30}").status_code == 404
    assert env.client.post(f"/api/v1/hints/{2**31}/unlock", headers=h).status_code == 404
    # Pages: the console's numbers, a huge team id, the login's "next".
    c = console(env)
    r = post(c, "/console/", "/console/event/extend", {"minutes": "²"})
    assert r.status_code == 200 and "minutes: a whole number" in r.get_data(as_text=True)
    r = post(c, "/console/", "/console/awards", {"team": "#1", "value": "٣", "reason": "r"})
    assert "value: a whole number" in r.get_data(as_text=True)
    r = c.post(f"/console/teams/{10**30}/disable", data={"csrf_token": csrf(c, "/console/")})
    assert r.status_code == 404
    t = env.app.test_client()
    r = t.post(
        "/portal/login",
        data={
            "token": token_of(h),
            "next": "/portal/\r\nX-Evil: 1",
            "csrf_token": csrf(t, "/portal/login"),
        },
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/")


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
    hint_ids = [hh.id for hh in _hints(env, "second")]
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


def _hints(env: Env, slug: str) -> list:
    from range_control.store.models import Challenge, Hint

    with env.ctx.store.read() as s:
        cid = s.scalar(select(Challenge.id).where(Challenge.slug == slug))
        return list(s.scalars(select(Hint).where(Hint.challenge_id == cid)))


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


def test_database_file_and_data_dir_are_private(tmp_path: Path) -> None:
    url = migrated_sqlite(tmp_path / "var" / "range.db")
    e = make_env(url, tmp_path)
    try:
        e.team()
        assert oct((tmp_path / "var").stat().st_mode & 0o777) == "0o700"
        for name in ("range.db", "range.db-wal", "range.db-shm"):
            assert oct((tmp_path / "var" / name).stat().st_mode & 0o777) == "0o600", name
    finally:
        e.ctx.store.dispose()


@pytest.mark.parametrize(
    "name", ["Alpha\u202eahplA", "Zero\u200bWidth", "Left\u2066Iso", "Soft\u00adHyphen", "Tab\x07"]
)
def test_bidi_and_control_characters_are_refused_in_team_names(env: Env, name: str) -> None:
    r = env.client.post("/api/v1/admin/teams", json={"name": name}, headers=env.admin())
    assert r.status_code == 400 and "team name" in r.json["error"]["message"], r.json


def test_freeze_outside_the_event_is_refused(env: Env) -> None:
    a = env.admin()
    env.start()  # a manual start: the start is when it happened
    r = env.client.patch(
        "/api/v1/admin/event",
        headers=a,
        json={"freeze_at": (env.clock.now() - timedelta(hours=1)).isoformat()},
    )
    assert r.status_code == 400 and "before the start" in r.json["error"]["message"]
    end = env.clock.now() + timedelta(hours=4)
    assert (
        env.client.patch(
            "/api/v1/admin/event", headers=a, json={"ends_at": end.isoformat()}
        ).status_code
        == 200
    )
    r = env.client.patch(
        "/api/v1/admin/event",
        headers=a,
        json={"freeze_at": (end + timedelta(minutes=1)).isoformat()},
    )
    assert r.status_code == 400 and "after ends_at" in r.json["error"]["message"]


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
    assert r.status_code == 429
    # Another team behind the same address (a NAT) still logs in.
    login(env, token_of(other), env.app.test_client())


def test_a_scenario_award_names_a_team_exactly(env: Env) -> None:
    ids = {n: env.team(n, "NL")[0] for n in ("Alpha", "2")}
    env.challenge("c")
    data = {
        "event": "E",
        "start": "manual",
        "phases": [
            {
                "id": "p",
                "title": "P",
                "duration": "1h",
                "challenges": ["c"],
                "injects": [
                    {
                        "at": "1m",
                        "title": "A",
                        "action": {"award": {"team": "2", "value": 5, "reason": "x"}},
                    },
                    {
                        "at": "2m",
                        "title": "B",
                        "action": {"award": {"team": "#1", "value": 3, "reason": "y"}},
                    },
                    {
                        "at": "3m",
                        "title": "C",
                        "action": {"award": {"team": "Nobody", "value": 1, "reason": "z"}},
                    },
                ],
            }
        ],
    }
    scenario.load(env.ctx, scenario.parse(yaml.safe_load(json.dumps(data))), TEST)
    controls.start(env.ctx, TEST)
    env.clock.advance(minutes=4)
    scenario.apply(env.ctx)
    awards = env.client.get("/api/v1/admin/awards", headers=env.admin()).json
    assert sorted((x["team_id"], x["value"]) for x in awards) == sorted(
        [(ids["2"], 5), (ids["Alpha"], 3)]
    )
