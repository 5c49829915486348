"""Organiser API: teams, challenges, attempts (filters, CSV), event, OpenAPI; both databases."""

from __future__ import annotations

import csv
import io

from tests.support.env import Env


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
