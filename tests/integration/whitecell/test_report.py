"""The after-action report on a seeded event with known numbers: every figure in the
JSON equals the one worked out here by hand; a team's debrief holds nothing of another team;
anonymised, no team or person is named; the CLI writes HTML, JSON and CSV; the HTML opens in
Chromium with no network and prints to PDF (axe-core on it). SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import csv
import io
import json
import re
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from playwright.sync_api import Browser
from sqlalchemy import select

from range_control.core.actors import Actor, ActorKind
from range_control.domain.flags import DynamicFlag, dynamic_flag
from range_control.services.environments import team_access
from range_control.services.event import controls, scenario
from range_control.services.organiser import awards
from range_control.services.people import api_tokens
from range_control.services.play import attempts, hints
from range_control.services.whitecell import grading, publication, submissions, tasks
from range_control.services.whitecell.report import build
from range_control.services.whitecell.report.render import write
from range_control.store.models import Account, Challenge, Team, WireGuardPeer
from tests.support.cli import run
from tests.support.env import ADMIN, FLAG_SECRET, T0, TEST, Env
from tests.support.live import audit
from tests.support.people import person
from tests.support.web import csrf

M = timedelta(minutes=1)
RUBRIC = [
    {"id": "accuracy", "title": "Accuracy", "points": 10},
    {"id": "clarity", "title": "Clarity", "points": 5},
]


# A member of the white cell who acted (no account of this range: a person by name).
OLGA = Actor(ActorKind.PERSON, None, "Olga Org <olga>")


def seed(env: Env) -> dict[str, int]:
    """Three teams over two phases: known attempts, solves, a hint, an award, a graded task and
    a shared flag."""
    _TOKENS.clear()  # a team token of an earlier test's range opens nothing here
    ids = {
        name: env.team(name, cc)[0]
        for name, cc in (("Alpha", "NL"), ("Bravo", "NO"), ("Charlie", "PL"))
    }
    env.challenge("x", value=100, hints=[{"content": "look at the header", "cost": 10}])
    env.challenge("y", value=200)
    env.challenge("z", value=50, dynamic_flag={"prefix": "ICE", "length": 32})
    env.challenge("t", type="task", deliverable="text", rubric=RUBRIC)
    scenario.load(
        env.ctx,
        scenario.parse(
            {
                "event": "ICE report test",
                "phases": [
                    {"id": "one", "title": "One", "duration": "30m", "challenges": ["x", "t", "z"]},
                    {"id": "two", "title": "Two", "duration": "30m", "challenges": ["y"]},
                ],
            }
        ),
        TEST,
    )
    mia = person(env, "Mia Member", "member", team="Alpha", callsign="MIA")
    controls.start(env.ctx, TEST)  # 09:00
    a, b, c = ids["Alpha"], ids["Bravo"], ids["Charlie"]

    def at(minutes: int) -> None:
        env.clock.set(T0 + minutes * M)
        scenario.apply(env.ctx)

    at(5)
    attempts.submit(env.ctx, a, "x", "nope-alpha", None, account_id=mia.id)
    at(10)
    attempts.submit(env.ctx, a, "x", "ICE{x}", None, account_id=mia.id)
    at(12)
    attempts.submit(env.ctx, b, "x", "nope-bravo", None)
    at(15)
    hint = env.client.get("/api/v1/challenges/x", headers=_h(env, c)).json["hints"][0]["id"]
    hints.unlock(env.ctx, c, hint)
    at(18)
    alpha_z = dynamic_flag(FLAG_SECRET, env.ctx.event_slug, a, "z", DynamicFlag("ICE", 32))
    attempts.submit(env.ctx, b, "z", alpha_z, None)  # Alpha's flag: incorrect, and an alert
    at(20)
    attempts.submit(env.ctx, b, "x", "ICE{x}", None)
    at(25)
    submissions.submit(env.ctx, a, "t", "# SITREP\nAll *quiet* at IRON GATE.", None, mia.id)
    at(40)
    attempts.submit(env.ctx, b, "y", "ICE{y}", None)
    at(45)
    attempts.submit(env.ctx, a, "y", "nope-1", None)
    attempts.submit(env.ctx, a, "y", "nope-2", None)
    at(50)
    awards.add_award(env.ctx, "Charlie", 5, "good report", OLGA)
    at(55)
    code = tasks.blind_code(env.ctx, _cid(env, "t"), a)
    grading.grade(
        env.ctx, "t", code, {"accuracy": 8, "clarity": 4}, Actor(ActorKind.PERSON, None, "Gina")
    )
    publication.publish(env.ctx, "t", OLGA)
    return ids


_TOKENS: dict[int, dict[str, str]] = {}


def _h(env: Env, team_id: int) -> dict[str, str]:
    from range_control.services.people import teams

    if team_id not in _TOKENS:
        name = next(t.name for t in teams.list_teams(env.ctx) if t.id == team_id)
        _TOKENS[team_id] = {
            "Authorization": f"Bearer {teams.rotate_token(env.ctx, name, TEST).token}"
        }
    return _TOKENS[team_id]


def _cid(env: Env, slug: str) -> int:
    from sqlalchemy import select

    with env.ctx.store.read() as s:
        return s.scalar(select(Challenge.id).where(Challenge.slug == slug))


@pytest.fixture
def seeded(env: Env) -> Env:
    seed(env)
    return env


def test_every_figure_equals_the_one_worked_out_by_hand(seeded: Env) -> None:
    doc = build(seeded.ctx)
    assert doc["event"]["interim"] is True and doc["event"]["name"] == "ICE report test"
    assert [p["id"] for p in doc["timeline"]["phases"]] == ["one", "two"]
    assert doc["timeline"]["phases"][1]["start"] == "2026-07-01T09:30:00Z"
    assert [c["action"] for c in doc["timeline"]["control"]] == ["scenario.load", "event.start"]
    assert doc["participation"] == {
        "teams": 3,
        "teams_with_attempts": 2,
        "members": 1,
        "members_who_submitted": 1,
        "attempts": 8,
        "solves": 3,
    }
    # Alpha: x 100 + task 8 + 4; Bravo: x 100 + y 200; Charlie: hint -10, award +5.
    assert [(r["team"], r["score"], r["solves"]) for r in doc["standings"]] == [
        ("Bravo", 300, 2),
        ("Alpha", 112, 1),
        ("Charlie", -5, 0),
    ]
    assert doc["frozen_standings"] is None
    by = {c["slug"]: c for c in doc["challenges"]}
    assert by["x"]["opened_at"] == "2026-07-01T09:00:00Z" and by["y"]["opened_at"] == (
        "2026-07-01T09:30:00Z"
    )
    assert (by["x"]["solves"], by["x"]["wrong_attempts"], by["x"]["hints_bought"]) == (2, 2, 1)
    assert by["x"]["first_blood"] == {"team": "Alpha", "at": "2026-07-01T09:10:00Z"}
    assert by["x"]["median_seconds_to_solve"] == 15 * 60  # 10 and 20 minutes
    assert by["y"]["median_seconds_to_solve"] == 10 * 60 and by["y"]["wrong_attempts"] == 2
    assert by["z"]["wrong_attempts"] == 1 and by["z"]["solves"] == 0
    teams = {t["name"]: t for t in doc["teams"]}
    alpha = [(e["at"][11:16], e["kind"]) for e in teams["Alpha"]["events"]]
    assert alpha == [
        ("09:05", "attempt"),
        ("09:10", "attempt"),
        ("09:10", "solve"),
        ("09:18", "sharing_alert"),
        ("09:25", "task_submission"),
        ("09:45", "attempt"),
        ("09:45", "attempt"),
        ("09:55", "task_grade"),
    ]
    grade = next(e for e in teams["Alpha"]["events"] if e["kind"] == "task_grade")
    assert (grade["points"], grade["most"]) == (12, 15)
    bravo_alert = next(e for e in teams["Bravo"]["events"] if e["kind"] == "sharing_alert")
    assert bravo_alert["what"] == "submitted another team's flag"
    mia = teams["Alpha"]["members"][0]
    assert mia["name"] == "Mia Member" and [e["kind"] for e in mia["events"]] == [
        "attempt",
        "attempt",
        "task_submission",
    ]
    charlie = [(e["kind"], e.get("cost"), e.get("points")) for e in teams["Charlie"]["events"]]
    assert charlie == [("hint", 10, None), ("award", None, 5)]
    actions = [a["action"] for a in doc["organiser_actions"]]
    assert "award.add" in actions and "task.publish" in actions and "task.grade" in actions
    progression = {p["team"]: p["points"] for p in doc["progression"]}
    assert progression["Bravo"] == [["2026-07-01T09:20:00Z", 100], ["2026-07-01T09:40:00Z", 300]]


def test_a_team_s_debrief_holds_nothing_of_another_team(seeded: Env) -> None:
    doc = build(seeded.ctx, team="alpha")
    text = json.dumps(doc)
    for other in ("Bravo", "Charlie", "nope-bravo", "good report", "NO", "PL"):
        assert f'"{other}' not in text and other not in text.replace("NOTE", ""), other
    assert [t["name"] for t in doc["teams"]] == ["Alpha"] and doc["organiser_actions"] == []
    assert doc["standings"] == [
        {"pos": 2, "team": "Alpha", "country": "NL", "score": 112, "solves": 1}
    ]
    by = {c["slug"]: c for c in doc["challenges"]}
    assert by["x"]["wrong_attempts"] == 1 and by["x"]["seconds_to_solve"] == 600
    assert "first_blood" not in by["x"] and by["y"]["wrong_attempts"] == 2
    assert doc["participation"]["teams"] == 1 and doc["participation"]["attempts"] == 4
    with pytest.raises(Exception, match="team 'Nobody' not found"):
        build(seeded.ctx, team="Nobody")


def test_anonymised_no_team_or_person_is_named(seeded: Env) -> None:
    doc = build(seeded.ctx, anonymise=True)
    text = json.dumps(doc, ensure_ascii=False)
    for name in ("Alpha", "Bravo", "Charlie", "Mia Member", "MIA", "Olga Org", "olga", "Gina"):
        assert name not in text, name
    assert [r["team"] for r in doc["standings"]] == ["Team 01", "Team 02", "Team 03"]
    members = next(t["members"] for t in doc["teams"] if t["members"])
    assert members[0]["name"] == "Team 02 member 1"


def test_the_cli_writes_the_files_and_the_html_prints_offline(
    seeded: Env, tmp_path: Path, browser: Browser
) -> None:
    doc = build(seeded.ctx)
    files = {p.name: p for p in write(doc, tmp_path / "out")}
    assert set(files) == {
        "report.html",
        "report.json",
        "standings.csv",
        "challenges.csv",
        "timeline.csv",
        "organiser_actions.csv",
    }
    assert json.loads(files["report.json"].read_text()) == json.loads(json.dumps(doc))
    assert files["standings.csv"].read_text().splitlines()[1] == '1,"Bravo","NO",300,2'
    timeline = files["timeline.csv"].read_text()
    assert (
        '"Alpha","2026-07-01T09:05:00Z","attempt","x","incorrect","","Mia Member","nope-alpha"'
        in timeline
    )
    html = files["report.html"].read_text()
    assert "INTERIM" in html and "<svg" in html and "<script" not in html
    assert "<em>quiet</em>" in html  # the team's markdown, rendered and sanitised
    assert "http://" not in html and "https://" not in html  # no external asset
    context = browser.new_context(offline=True, bypass_csp=True)
    asked: list[str] = []
    context.on("request", lambda r: asked.append(r.url))
    page = context.new_page()
    page.goto(files["report.html"].as_uri())
    assert page.get_by_role("heading", name="Score progression").is_visible()
    assert page.locator("svg polyline").count() == 3
    audit(page)
    pdf = tmp_path / "report.pdf"
    page.pdf(path=str(pdf))
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_size > 10_000
    assert asked == [files["report.html"].as_uri()]  # nothing else fetched
    context.close()


def test_rangectl_report_and_the_console_download(
    seeded: Env, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANGE_DATABASE_URL", seeded.ctx.settings.database_url)
    monkeypatch.setenv("RANGE_DATA_DIR", str(seeded.ctx.settings.data_dir))
    code, out = run(
        "report", "--out", str(tmp_path / "r"), "--format", "json,csv", "--team", "Bravo"
    )
    assert code == 0, out
    assert sorted(p.name for p in (tmp_path / "r").iterdir()) == [
        "challenges.csv",
        "organiser_actions.csv",
        "report.json",
        "standings.csv",
        "timeline.csv",
    ]
    assert "after-action report of ICE report test for Bravo" in " ".join(out.split())
    assert "Alpha" not in (tmp_path / "r" / "report.json").read_text()
    code, out = run("report", "--out", str(tmp_path / "r2"), "--format", "pdf")
    assert code == 2 and "pdf: choose among html, json, csv" in out
    c = seeded.app.test_client()
    c.post("/console/login", data={"token": ADMIN, "csrf_token": csrf(c, "/console/login")})
    r = c.get("/console/report/download?format=html&team=Alpha")
    assert r.status_code == 200 and "after-action-" in r.headers["Content-Disposition"]
    assert "-alpha.html" in r.headers["Content-Disposition"]
    assert "Bravo" not in r.get_data(as_text=True)
    r = c.get("/console/report/download?format=json&anonymise=1")
    assert r.status_code == 200 and "Alpha" not in r.get_data(as_text=True)
    assert c.get("/console/report/download?format=pdf").status_code == 404


# --- anonymity that holds: the structure, not the text ------------------------------------------
def _distinctive_ids(env: Env, starts: dict[type, int]) -> Callable[[], None]:
    """The next rows of each model get ids above its start (ids a search of the report's files
    can find); call the returned function once they are made."""
    from sqlalchemy import delete, text

    placeholders = {
        Team: {"name": "placeholder", "token_hash": "0" * 64},
        Account: {"login": "placeholder", "name": "placeholder", "role": "observer"},
    }
    with env.ctx.store.write() as s:
        for model, start in starts.items():
            table = model.__tablename__
            if s.bind.dialect.name == "postgresql":
                s.execute(text(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), {start})"))
            else:  # SQLite gives a new row the largest id plus one
                s.add(model(id=start, created_at=T0, **placeholders[model]))

    def done() -> None:
        with env.ctx.store.write() as s:
            for model, start in starts.items():
                s.execute(delete(model).where(model.id == start))

    return done


def test_the_anonymised_report_holds_no_identifying_value_in_any_file(
    env: Env, tmp_path: Path
) -> None:
    done = _distinctive_ids(env, {Team: 7300, Account: 8300})
    seed(env)
    done()
    with env.ctx.store.read() as s:
        teams = list(s.scalars(select(Team)))
        mia = s.scalar(select(Account).where(Account.name == "Mia Member"))
    assert min(t.id for t in teams) > 7300 and mia.id > 8300
    alpha = next(t for t in teams if t.name == "Alpha")
    oscar = person(env, "Oscar Ops", "organiser", email="oscar.ops@example.org", callsign="OSC")
    # A member's own actions (an SSH key), the organisers' on the team (a key removed, a
    # WireGuard device revoked), a personal API token's action (an award).
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    line = key.public_bytes(serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH)
    public = line.decode() + " mia@laptop"
    as_mia = Actor.person(mia.id, mia.name, mia.login, alpha.id)
    as_oscar = Actor.person(oscar.id, oscar.name, oscar.login)
    added = team_access.add_ssh_key(env.ctx, alpha.id, "mia-thinkpad", public, as_mia)
    team_access.add_ssh_key(env.ctx, alpha.id, "mia-desktop", _other_key(), as_mia)
    team_access.remove_ssh_key(env.ctx, alpha.id, added.id, as_oscar)
    wg_public = base64.b64encode(b"W" * 32).decode()
    with env.ctx.store.write() as s:
        s.add(
            WireGuardPeer(
                team_id=alpha.id,
                label="mia-phone",
                public_key=wg_public,
                address="10.213.77.42",
                created_at=T0,
            )
        )
    peer = next(p for p in team_access.team_access(env.ctx, alpha.id).peers)
    team_access.revoke_peer(env.ctx, peer.id, as_oscar)
    script = api_tokens.create(env.ctx, "olgas-script", "full", TEST).api_token
    awards.add_award(env.ctx, "Bravo", 3, "for Alpha's help", Actor.token(script.id, script.name))

    files = write(build(env.ctx, anonymise=True), tmp_path / "anon")
    assert len(files) == 6
    texts = {p.name: p.read_text() for p in files}
    identifying: list[str] = [added.fingerprint, line.decode().split()[1], "mia@laptop"]
    identifying += ["mia-thinkpad", "mia-desktop", "mia-phone", wg_public, "10.213.77.42"]
    identifying += ["olgas-script", "Olga Org", "olga", "Gina"]
    for t in teams:
        identifying += [t.name, str(t.id)]
        identifying += [t.country] if t.country else []
    with env.ctx.store.read() as s:
        for a in s.scalars(select(Account)):
            identifying += [str(a.id), a.name, a.login]
            identifying += [v for v in (a.email, a.callsign) if v]
    found = [
        (name, value)
        for name, text in texts.items()
        for value in identifying
        if re.search(rf"(?<![\w-]){re.escape(value)}(?![\w-])", text)
    ]
    assert found == []
    # One pseudonym per person, from the actor: Mia's own actions are hers (a member, not
    # staff); Oscar is one code wherever he acts; two people never share one.
    doc = json.loads(texts["report.json"])
    actions = doc["organiser_actions"]
    by_action = {(a["action"], a["actor"]) for a in actions}
    member = next(t for t in doc["teams"] if t["members"])["members"][0]["name"]
    assert member.endswith("member 1")
    assert ("team.ssh_key.add", member) in by_action
    oscars = {
        a["actor"]
        for a in actions
        if a["action"] in ("team.ssh_key.remove", "team.wireguard.revoke")
    }
    assert len(oscars) == 1 and next(iter(oscars)).startswith("Staff ")
    olga = {a["actor"] for a in actions if a["action"] == "task.publish"}
    assert len(olga) == 1 and olga != oscars and next(iter(olga)).startswith("Staff ")
    assert {a["actor"] for a in actions if a["action"] == "award.add"} >= {"API token 1"}
    removed = next(a for a in actions if a["action"] == "team.wireguard.revoke")
    assert removed["detail"] == {}  # team id, label, address and key: dropped


def _other_key() -> str:
    key = ed25519.Ed25519PrivateKey.generate().public_key()
    return key.public_bytes(
        serialization.Encoding.OpenSSH, serialization.PublicFormat.OpenSSH
    ).decode()


def test_a_team_s_debrief_lists_only_what_the_team_can_see(seeded: Env) -> None:
    env = seeded
    env.challenge("dormant", value=30, state="hidden")
    env.challenge("later", value=40, scheduled_at="2026-07-02T09:00:00+00:00")
    doc = build(env.ctx, team="Alpha")
    shown = {c["slug"] for c in doc["challenges"]}
    assert shown == {"x", "y", "z", "t"}
    phase_lists = [c for p in doc["timeline"]["phases"] for c in p["challenges"]]
    assert "dormant" not in json.dumps(doc) and "later" not in json.dumps(doc), phase_lists
    assert "Dormant" not in json.dumps(doc) and "Later" not in json.dumps(doc)
    # The organisers' report lists them all.
    assert {"dormant", "later"} <= {c["slug"] for c in build(env.ctx)["challenges"]}


def test_every_csv_export_quotes_its_text_and_no_cell_starts_a_formula(
    env: Env, tmp_path: Path
) -> None:
    """A spreadsheet reading with another separator (; in a French Excel, or tab) must not find
    a formula either: every text cell is quoted, and a formula character after a separator
    inside a cell is neutralised. The report's four tables, the attempts record, the tokens
    sheet."""
    evil = "x;=cmd|' /C calc'!A0"
    tid, h = env.team(evil, "FR")
    env.challenge("c")
    env.start()
    env.attempt(h, "c", "y;@SUM(A1)\t-2")
    awards.add_award(env.ctx, evil, 1, "z;+1", OLGA)
    csvs = {p.name: p.read_text() for p in write(build(env.ctx), tmp_path / "r", ("csv",))}
    csvs["attempts.csv"] = env.client.get(
        "/api/v1/admin/attempts.csv", headers=env.admin()
    ).get_data(as_text=True)
    sheet = tmp_path / "tokens.csv"
    from range_control.services.people import teams as team_service

    team_service.write_tokens_csv(
        team_service.import_csv(env.ctx, _teams_csv(tmp_path, evil + "2"), TEST), sheet
    )
    csvs["tokens.csv"] = sheet.read_text()
    safe = "x;'=cmd|' /C calc'!A0"
    for name in ("standings.csv", "timeline.csv", "attempts.csv"):
        assert f'"{safe}"' in csvs[name], name
    assert f'"{safe}2"' in csvs["tokens.csv"]
    for name, text in csvs.items():
        for sep in (",", ";", "\t"):
            for row in csv.reader(io.StringIO(text, newline=""), delimiter=sep):
                for cell in row:
                    assert not cell.lstrip(' "').startswith(("=", "+", "-", "@")), (name, sep, cell)


def _teams_csv(tmp_path: Path, name: str) -> Path:
    p = tmp_path / "teams.csv"
    p.write_text(f"name,country\n{name},FR\n")
    return p
