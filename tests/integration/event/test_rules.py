"""The event's rules at their edges: a freeze outside the event, a scenario's award to a team named
exactly."""

from __future__ import annotations

import json
from datetime import timedelta

import yaml

from range_control.services.event import controls, scenario
from tests.support.env import TEST, Env


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
