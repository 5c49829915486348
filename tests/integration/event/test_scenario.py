"""The scenario through services and the API, with an injected clock; both databases."""

from __future__ import annotations

from datetime import timedelta

import pytest
import yaml
from click.testing import CliRunner

from range_control.cli import main
from range_control.core.errors import Conflict, InvalidInput
from range_control.services.catalog.lint import lint
from range_control.services.catalog.sync import sync
from range_control.services.event import controls, scenario
from tests.support import REPO
from tests.support.env import ADMIN, TEST, Env

M = timedelta(minutes=1)

SCENARIO = {
    "event": "ICE test",
    "freeze": "5m",
    "phases": [
        {
            "id": "one",
            "title": "One",
            "duration": "20m",
            "briefing": "go **now**",
            "challenges": ["a"],
            "keep_open": False,
            "injects": [
                {
                    "at": "10m",
                    "title": "Inject A",
                    "message": "m",
                    "action": {"unlock_challenge": "x"},
                },
                {
                    "at": "15m",
                    "title": "Bonus",
                    "action": {"award": {"team": "*", "value": 5, "reason": "r"}},
                },
            ],
        },
        {
            "id": "two",
            "title": "Two",
            "duration": "20m",
            "challenges": ["b"],
            "injects": [
                {
                    "at": "1m",
                    "title": "Hint",
                    "action": {"unlock_hint": {"challenge": "b", "hint": 0}},
                }
            ],
        },
    ],
}


@pytest.fixture
def scen(env: Env) -> Env:
    for slug in ("a", "x"):
        env.challenge(slug)
    env.challenge("b", hints=[{"content": "secret hint", "cost": 50}])
    env.challenge("free")  # not in the scenario: follows its own state
    scenario.load(env.ctx, scenario.parse(SCENARIO), TEST)
    return env


def visible(env: Env, headers: dict[str, str]) -> list[str]:
    return sorted(c["slug"] for c in env.client.get("/api/v1/challenges", headers=headers).json)


def titles(env: Env) -> list[str]:
    return [a["title"] for a in env.client.get("/api/v1/announcements").json]


def test_phases_open_and_close_challenges_and_injects_publish_once(scen: Env) -> None:
    env = scen
    _, team = env.team()
    assert visible(env, team) == ["free"]  # scenario challenges wait for their phase
    controls.start(env.ctx, TEST)
    assert visible(env, team) == ["a", "free"]
    event = env.client.get("/api/v1/event").json
    assert event["phase"]["id"] == "one" and event["phase"]["briefing"] == "go **now**"
    assert event["phase"]["ends_at"] == "2026-07-01T09:20:00Z"
    assert event["next_transition"] == {"at": "2026-07-01T09:10:00Z", "milestone": "inject:one:0"}
    env.clock.advance(minutes=10)
    assert [a.key for a in scenario.apply(env.ctx)] == ["inject:one:0"]
    assert scenario.apply(env.ctx) == []  # idempotent
    assert visible(env, team) == ["a", "free", "x"]
    assert titles(env) == ["Inject A", "Phase: One"]
    env.clock.advance(minutes=11)  # past the award inject and into phase two
    keys = [a.key for a in scenario.apply(env.ctx)]
    assert keys == ["inject:one:1", "phase:one:end", "phase:two:start", "inject:two:0"]
    assert visible(env, team) == ["b", "free", "x"]  # a closed: keep_open false
    hint = env.client.get("/api/v1/challenges/b", headers=team).json["hints"][0]
    assert hint["unlocked"] and hint["content"] == "secret hint"
    me = env.client.get("/api/v1/me", headers=team).json["standing"]
    assert me["score"] == 5 and me["entries"][0]["why"] == "r"
    assert env.attempt(team, "a", "ICE{a}").status_code == 404
    env.clock.advance(minutes=30)
    scenario.apply(env.ctx)
    assert env.client.get("/api/v1/event").json["state"] == "ended"
    assert env.attempt(team, "b", "ICE{b}").status_code == 403
    assert titles(env).count("Inject A") == 1


def test_pause_refuses_flags_and_keeps_remaining_time(scen: Env) -> None:
    env = scen
    _, team = env.team()
    controls.start(env.ctx, TEST)
    env.clock.advance(minutes=5)
    r = env.client.post("/api/v1/admin/event/pause", headers=env.admin())
    assert (
        r.status_code == 200 and r.json["state"] == "paused" and r.json["phase"]["ends_at"] is None
    )
    resp = env.attempt(team, "a", "ICE{a}")
    assert resp.status_code == 403 and "paused" in resp.json["error"]["message"]
    assert env.client.post("/api/v1/admin/event/pause", headers=env.admin()).status_code == 409
    env.clock.advance(minutes=30)
    scenario.apply(env.ctx)
    assert scenario.state(env.ctx)[1].phase.id == "one"  # no time passed in the exercise
    r = env.client.post("/api/v1/admin/event/resume", headers=env.admin())
    assert r.json["state"] == "running" and r.json["phase"]["ends_at"] == "2026-07-01T09:50:00Z"
    assert env.attempt(team, "a", "ICE{a}").json["status"] == "correct"
    assert env.client.post("/api/v1/admin/event/resume", headers=env.admin()).status_code == 409


def test_extend_and_skip(scen: Env) -> None:
    env = scen
    controls.start(env.ctx, TEST)
    h = env.admin()
    r = env.client.post("/api/v1/admin/event/extend", json={"by": "15m"}, headers=h)
    assert r.status_code == 200 and r.json["phase"]["ends_at"] == "2026-07-01T09:35:00Z"
    assert (
        r.json["ends_at"] == "2026-07-01T09:55:00Z"
        and r.json["freeze_at"] == "2026-07-01T09:50:00Z"
    )
    bad = env.client.post("/api/v1/admin/event/extend", json={"by": "soon"}, headers=h)
    assert bad.status_code == 400 and "by:" in bad.json["error"]["message"]
    env.clock.advance(minutes=2)
    r = env.client.post("/api/v1/admin/event/skip", headers=h)
    assert r.json["phase"]["id"] == "two" and r.json["phase"]["ends_at"] == "2026-07-01T09:22:00Z"
    log = [a["action"] for a in env.client.get("/api/v1/admin/audit", headers=h).json]
    assert log[:4] == ["event.skip", "event.extend", "event.start", "scenario.load"]
    entry = env.client.get("/api/v1/admin/audit", headers=h).json[1]
    assert (
        entry["actor"] == "machine: organiser token"
        and entry["created_at"] == "2026-07-01T09:00:00Z"
    )
    timeline = env.client.get("/api/v1/admin/scenario", headers=h).json["timeline"]
    assert [(p["id"], p["status"]) for p in timeline] == [("one", "skipped"), ("two", "running")]


def test_end_and_controls_need_a_scenario_or_the_right_state(env: Env) -> None:
    with pytest.raises(Conflict, match="only a running event can be paused"):
        controls.pause(env.ctx, TEST)
    controls.start(env.ctx, TEST)
    with pytest.raises(Conflict, match="no scenario"):
        controls.extend(env.ctx, timedelta(minutes=5), TEST)
    assert controls.end(env.ctx, TEST).state == "ended"


def test_load_refuses_unknown_slugs_and_bad_fields(env: Env) -> None:
    env.challenge("a")
    with pytest.raises(InvalidInput, match="unknown challenge slug.*: ghost"):
        scenario.load(
            env.ctx,
            scenario.parse(
                {
                    **SCENARIO,
                    "phases": [
                        {"id": "p", "title": "P", "duration": "10m", "challenges": ["a", "ghost"]}
                    ],
                }
            ),
            TEST,
        )
    with pytest.raises(InvalidInput) as exc:
        scenario.parse(
            {**SCENARIO, "phases": [{"id": "p", "title": "P", "duraton": "1m"}]}, "s.yml"
        )
    assert "s.yml: phases.0.duraton: unknown key" in exc.value.message
    assert "s.yml: phases.0.duration: Field required" in exc.value.message
    r = env.client.put(
        "/api/v1/admin/scenario", json={"event": "x", "phases": []}, headers=env.admin()
    )
    assert r.status_code == 400 and "phases" in r.json["error"]["message"]


def test_organiser_announcement(env: Env) -> None:
    r = env.client.post(
        "/api/v1/admin/announcements",
        json={"title": "Lunch", "message": "1200Z"},
        headers=env.admin(),
    )
    assert r.status_code == 201 and r.json["source"] == "organiser"
    assert env.client.get("/api/v1/announcements").json[0]["title"] == "Lunch"
    assert env.client.get("/api/v1/announcements?limit=0").status_code == 400


def test_cli_loads_the_ice_scenario_and_shows_absolute_times(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    result = lint([REPO / "challenges"])
    assert result.ok
    sync(env.ctx, result.challenges, actor=TEST)
    monkeypatch.setenv("RANGE_DATABASE_URL", env.ctx.settings.resolved_database_url)
    monkeypatch.setenv("RANGE_DATA_DIR", str(env.tmp / "var"))
    monkeypatch.setenv("RANGE_ADMIN_TOKEN", ADMIN)
    runner = CliRunner()
    out = runner.invoke(main, ["event", "load", str(REPO / "challenges" / "ice-scenario.yml")])
    assert out.exit_code == 0, out.output
    assert "detection" in out.output and "start +0:00:00" in out.output
    out = runner.invoke(main, ["event", "start"])
    assert out.exit_code == 0, out.output
    out = runner.invoke(main, ["event", "show"])
    assert "running" in out.output and "next: inject:detection:0" in out.output
    out = runner.invoke(main, ["event", "extend", "15x"])
    assert out.exit_code == 2 and "not a duration" in out.output
    out = runner.invoke(main, ["event", "extend", "15m"])
    assert out.exit_code == 0 and "(+0:15:00)" in out.output
    bad = env.tmp / "bad.yml"
    bad.write_text(
        yaml.safe_dump(
            {
                "event": "x",
                "phases": [{"id": "p", "title": "t", "duration": "10m", "challenges": ["nope"]}],
            }
        )
    )
    out = runner.invoke(main, ["event", "load", str(bad)])
    assert out.exit_code == 1 and "unknown challenge slug(s): nope" in out.output


def test_warmup_and_teardown_drive_the_desired_instances(env: Env) -> None:
    """Warm-up before a phase creates every team's instance (rows of origin ``scenario`` for the
    reconciler); a phase with ``teardown`` removes them after it; organiser and team instances
    of other challenges are left alone; a team added later gets its instances too."""
    from sqlalchemy import select

    from range_control.services.environments import instances
    from range_control.store.models import Challenge, Instance, Team

    live = {
        "services": [{"name": "box", "image": "range/base:bookworm", "command": ["sleep", "1d"]}]
    }
    for slug in ("recon", "respond", "other"):
        env.challenge(slug, environment=live)
    env.team("Estonia", "EE")
    env.team("Latvia", "LV")
    spec = {
        "event": "warm",
        "start": "2026-07-01T10:00:00Z",  # T0 is 09:00
        "phases": [
            {
                "id": "one",
                "title": "One",
                "duration": "30m",
                "challenges": ["recon"],
                "warmup": "10m",
                "teardown": True,
            },
            {
                "id": "two",
                "title": "Two",
                "duration": "30m",
                "challenges": ["respond"],
                "warmup": "5m",
            },
        ],
    }
    scenario.load(env.ctx, scenario.parse(spec), TEST)
    instances.up(env.ctx, instances.Selection(challenge="other", team="Estonia"), TEST)

    def rows() -> set[tuple[str, str, str]]:
        with env.ctx.store.read() as s:
            q = (
                select(Team.name, Challenge.slug, Instance.origin)
                .join(Team, Team.id == Instance.team_id)
                .join(Challenge, Challenge.id == Instance.challenge_id)
            )
            return {tuple(r) for r in s.execute(q)}

    organiser = {("Estonia", "other", "organiser")}
    env.clock.advance(minutes=49)  # 09:49, warm-up of phase one at 09:50
    scenario.apply(env.ctx)
    assert rows() == organiser
    env.clock.advance(minutes=1)
    assert [a.key for a in scenario.apply(env.ctx)] == ["warmup:one"]
    recon = {("Estonia", "recon", "scenario"), ("Latvia", "recon", "scenario")}
    assert rows() == organiser | recon
    env.team("Poland", "PL")  # a late team: the next pass gives it the phase's instances
    scenario.apply(env.ctx)
    recon.add(("Poland", "recon", "scenario"))
    assert rows() == organiser | recon
    env.clock.advance(minutes=35)  # 10:25: phase two warms up at 10:25
    scenario.apply(env.ctx)
    respond = {(t, "respond", "scenario") for t in ("Estonia", "Latvia", "Poland")}
    assert rows() == organiser | recon | respond
    env.clock.advance(minutes=5)  # 10:30: phase one ends and tears down
    scenario.apply(env.ctx)
    assert rows() == organiser | respond
    env.clock.advance(minutes=30)  # the end: nothing of the scenario stays up
    scenario.apply(env.ctx)
    assert scenario.state(env.ctx)[0].state == "ended"
    assert rows() == organiser
