"""Each probe of the hardening review that found a defect or a weakness, as a test, on both databases where
the database matters. Each one failed on the code before the fix."""

from __future__ import annotations

import csv
import io
from pathlib import Path

from tests.support.env import Env, make_env, migrated_sqlite
from tests.support.play import attempts_stored
from tests.support.web import console, csrf, login, post, token_of


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
