"""ctfcli repositories loaded into a range, on SQLite and PostgreSQL: one challenge
at a time with prerequisites by name and by id, the release time, logic "all", hint
prerequisites, the solution, the CLI's listing, a data dir never migrated, the CTFtime feed."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import pytest

from range_control.services.catalog.lint import lint
from range_control.services.catalog.releases import released_state
from range_control.services.catalog.sync import SyncReport, known_in, sync
from range_control.services.event import scenario
from tests.support import TESTS
from tests.support.cli import run
from tests.support.env import TEST, Env

CORPUS = TESTS / "fixtures" / "ctfcli"


def load(env: Env, *dirs: str) -> SyncReport:
    """Sync the given corpus directories, resolving prerequisites against the database."""
    result = lint([CORPUS / d for d in dirs], known=known_in(env.ctx))
    assert result.ok, [str(p) for p in result.problems]
    return sync(env.ctx, result.challenges, actor=TEST)


def test_one_at_a_time_with_prerequisites_by_name_and_id(env: Env) -> None:
    # Alone, spec-example's prerequisites are nowhere: one line naming each.
    alone = lint([CORPUS / "spec-example"], known=known_in(env.ctx))
    assert [p.where for p in alone.problems] == [
        "requirements.0",
        "requirements.1",
        "requirements.2",
    ]
    assert "'Warmup' is not a challenge in this set nor in the database" in str(alone.problems[0])
    assert "id 1 is not a challenge" in str(alone.problems[2])
    load(env, "warmup")
    load(env, "alive")
    warmup_id = next(i for i, s in known_in(env.ctx).ids.items() if s == "warmup")
    # ctfcli's numeric id is the range's own id of a loaded challenge.
    spec_dir = env.tmp / "spec-example"
    spec_dir.mkdir()
    text = (CORPUS / "spec-example" / "challenge.yml").read_text()
    (spec_dir / "challenge.yml").write_text(text.replace("    - 1\n", f"    - {warmup_id}\n"))
    (spec_dir / "dist").mkdir()
    (spec_dir / "dist" / "source.py").write_text("print('source')\n")
    result = lint([spec_dir], known=known_in(env.ctx))
    assert result.ok, [str(p) for p in result.problems]
    assert sync(env.ctx, result.challenges, actor=TEST).created == ["example"]
    r = env.client.get("/api/v1/admin/challenges", headers=env.admin())
    example = next(c for c in r.get_json() if c["slug"] == "example")
    assert example["requires"] == ["warmup", "are-you-alive", "warmup"]
    assert example["visible"] is False  # state: hidden


def test_release_time_logic_all_and_hint_prerequisites(env: Env) -> None:
    load(env, "warmup")
    load(env, "everything")  # requires Warmup, released 2026-07-01T10:00Z (T0 is 09:00)
    env.start()
    _, team = env.team()
    assert env.client.get("/api/v1/challenges/everything", headers=team).status_code == 404
    assert [k for _, k in scenario.upcoming(env.ctx)] == ["release:everything"]
    env.clock.advance(hours=1)
    applied = scenario.apply(env.ctx)
    assert [(a.key, a.kind) for a in applied] == [("release:everything", "release")]
    assert scenario.apply(env.ctx) == []  # once
    assert env.attempt(team, "warmup", "flag{warm}").get_json()["status"] == "correct"
    # logic: all: each right flag short of all is "partial", the last one solves.
    first = env.attempt(team, "everything", "flag{first-part}").get_json()
    assert first == {"status": "partial", "points": 0, "attempts_left": None, "frozen": False}
    again = env.attempt(team, "everything", "flag{first-part}").get_json()
    assert again["status"] == "partial"
    assert env.attempt(team, "everything", "flag{nope}").get_json()["status"] == "incorrect"
    last = env.attempt(team, "everything", "flag{second-42}").get_json()
    assert last["status"] == "correct" and last["points"] == 500
    assert env.attempt(team, "everything", "flag{second-7}").get_json()["status"] == (
        "already_solved"
    )
    # Hint prerequisites (challenge.yml hint keys): "deeper" needs "basics".
    hints = env.client.get("/api/v1/challenges/everything", headers=team).get_json()["hints"]
    basics, deeper, last_hint = hints
    assert deeper["requires"] == [basics["id"]] and last_hint["requires"] == [deeper["id"]]
    assert last_hint["unlocked"] is False and last_hint["content"] is None  # free, but waits
    r = env.client.post(f"/api/v1/hints/{deeper['id']}/unlock", headers=team)
    assert r.status_code == 403 and str(basics["id"]) in r.get_json()["error"]["message"]
    assert env.client.post(f"/api/v1/hints/{basics['id']}/unlock", headers=team).status_code == 200
    assert env.client.post(f"/api/v1/hints/{deeper['id']}/unlock", headers=team).status_code == 200
    hints = env.client.get("/api/v1/challenges/everything", headers=team).get_json()["hints"]
    assert hints[2]["unlocked"] is True and hints[2]["content"] == "Cube root."


def test_a_part_uses_no_attempt(env: Env) -> None:
    env.challenge("two-parts", logic="all", attempts=2, flags=["flag{a}", "flag{b}"])
    env.start()
    _, team = env.team()
    assert env.attempt(team, "two-parts", "flag{a}").get_json()["attempts_left"] == 2
    assert env.attempt(team, "two-parts", "flag{x}").get_json()["attempts_left"] == 1
    assert env.attempt(team, "two-parts", "flag{b}").get_json()["status"] == "correct"


def test_solution_is_for_organisers(env: Env) -> None:
    load(env, "warmup")
    load(env, "everything")
    r = env.client.get("/api/v1/admin/challenges/everything/solution", headers=env.admin())
    assert r.status_code == 200
    assert r.get_json() == {
        "slug": "everything",
        "state": "solved",
        "content": "# Write-up\n\nTake the cube root of the ciphertext.\n",
    }
    _, team = env.team()
    assert env.client.get(
        "/api/v1/admin/challenges/everything/solution", headers=team
    ).status_code in (401, 403)
    r = env.client.get("/api/v1/admin/challenges/warmup/solution", headers=env.admin())
    assert r.status_code == 404 and "no solution" in r.get_json()["error"]["message"]


def test_no_flag_challenge_loads_and_no_flag_solves_it(env: Env) -> None:
    load(env, "no-flags")
    env.start()
    _, team = env.team()
    r = env.attempt(team, "graded-by-hand", "anything")
    assert r.status_code == 200 and r.get_json()["status"] == "incorrect"


def test_ctftime_feed_tasks_and_task_stats_agree(env: Env) -> None:
    env.challenge("web-one")
    env.challenge("web-two")
    env.start()
    _, team = env.team("Équipe Ωmega", "FR")
    assert env.attempt(team, "web-one", "ICE{web-one}").get_json()["status"] == "correct"
    assert env.attempt(team, "web-two", "ICE{web-two}").get_json()["status"] == "correct"
    r = env.client.post(
        "/api/v1/admin/challenges/web-one/visibility", headers=env.admin(), json={"visible": False}
    )
    assert r.status_code == 200
    env.clock.advance(seconds=1)
    raw = env.client.get("/api/v1/scoreboard/ctftime")
    assert raw.status_code == 200
    body = raw.get_data()
    assert body.isascii() and b"\\u00c9quipe \\u03a9mega" in body
    feed = json.loads(body)
    assert feed["tasks"] == ["Web Two"]
    (row,) = feed["standings"]
    assert row["team"] == "Équipe Ωmega" and row["score"] == 200  # its points stay
    assert set(row["taskStats"]) <= set(feed["tasks"]) and set(row["taskStats"]) == {"Web Two"}


def test_cli_sync_migrates_list_json_and_solution(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data dir never migrated (the embedded SQLite default)."""
    fresh = tmp_path / "fresh"
    monkeypatch.setenv("RANGE_DATA_DIR", str(fresh))
    monkeypatch.delenv("RANGE_DATABASE_URL", raising=False)
    monkeypatch.setenv("RANGE_ENVIRONMENTS", "off")
    code, out = run("challenges", "list")
    assert code == 1 and "no schema yet" in out and "rangectl db upgrade" in out
    code, out = run("challenges", "sync", str(CORPUS / "warmup"))
    assert code == 0 and "created 1" in out, out
    code, out = run("challenges", "sync", str(CORPUS / "everything"))
    assert code == 0 and "created 1" in out, out
    code, out = run("challenges", "list", "--json")
    assert code == 0, out
    rows = {r["slug"]: r for r in map(json.loads, out.splitlines())}
    assert set(rows) == {"warmup", "everything"}
    everything = rows["everything"]
    assert (everything["category"], everything["type"], everything["value"]) == (
        "crypto",
        "dynamic",
        500,
    )
    assert everything["requires"] == ["warmup"] and everything["services"] == 0
    assert everything["logic"] == "all" and everything["solution_state"] == "solved"
    # Synced after its release time (this is the real clock): visible at once.
    assert everything["visible"] is True and everything["release_at"].startswith("2026-07-01T10")
    code, out = run("challenges", "solution", "everything")
    assert code == 0 and "Take the cube root" in out


def test_deployment_challenge_counts_its_services(env: Env) -> None:
    load(env, "deploy")
    rows = env.client.get("/api/v1/admin/challenges", headers=env.admin()).get_json()
    assert [(r["slug"], r["services"]) for r in rows] == [("echo-service", 1)]


def test_release_advances_on_clock_even_without_a_scenario(env: Env) -> None:
    load(env, "warmup")
    load(env, "everything")
    before = env.client.get("/api/v1/admin/challenges", headers=env.admin()).get_json()
    assert next(c for c in before if c["slug"] == "everything")["visible"] is False
    env.clock.advance(hours=1)
    scenario.apply(env.ctx)
    after = env.client.get("/api/v1/admin/challenges", headers=env.admin()).get_json()
    assert next(c for c in after if c["slug"] == "everything")["visible"] is True
    # A challenge synced after its release time is visible at once.
    assert (
        released_state("visible", env.clock.now() - timedelta(days=1), env.clock.now()) == "visible"
    )
