"""Personal organiser API tokens and attribution: named, scoped (read, grade or full),
revocable tokens named as machines in the audit log; hint unlocks and instance actions record
the member who made them; the console filters attempts by person. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from range_control.core.actors import Actor
from range_control.services.event import controls
from range_control.store.models import ApiToken, AuditLog, HintUnlock
from tests.support.cli import run
from tests.support.env import TEST, Env, migrated_sqlite
from tests.support.people import person, sign_in
from tests.support.web import csrf


def test_personal_tokens_are_scoped_named_in_the_audit_log_and_revocable(env: Env) -> None:
    c, h = env.client, env.admin()
    r = c.post("/api/v1/admin/tokens", json={"name": "grafana"}, headers=h)
    assert r.status_code == 201 and r.json["api_token"]["scope"] == "read"
    read = {"Authorization": "Bearer " + r.json["token"]}
    assert r.json["token"].startswith("rco_")
    r = c.post("/api/v1/admin/tokens", json={"name": "ops bot", "scope": "full"}, headers=h)
    full = {"Authorization": "Bearer " + r.json["token"]}
    # Refused clearly, nothing stored: a taken name, a bad name, an unknown scope.
    assert c.post("/api/v1/admin/tokens", json={"name": "grafana"}, headers=h).status_code == 409
    bad = c.post("/api/v1/admin/tokens", json={"name": "<script>"}, headers=h)
    assert bad.status_code == 400 and "name" in bad.json["error"]["message"]
    bad = c.post("/api/v1/admin/tokens", json={"name": "x", "scope": "root"}, headers=h)
    assert bad.status_code == 400 and "scope" in bad.json["error"]["message"]
    # Read-only: every GET, no change.
    assert c.get("/api/v1/admin/teams", headers=read).status_code == 200
    r = c.post("/api/v1/admin/teams", json={"name": "Alpha"}, headers=read)
    assert r.status_code == 403 and "scope (read) does not allow POST" in r.json["error"]["message"]
    # Full: changes, named as a machine in the audit log.
    assert c.post("/api/v1/admin/teams", json={"name": "Alpha"}, headers=full).status_code == 201
    audit = c.get("/api/v1/admin/audit", headers=read).json
    assert audit[0]["actor"] == "machine: token ops bot" and audit[0]["action"] == "team.add"
    made = [a for a in audit if a["action"] == "token.create"]
    assert {a["actor"] for a in made} == {"machine: organiser token"}
    listed = {t["name"]: t for t in c.get("/api/v1/admin/tokens", headers=h).json}
    assert listed["grafana"]["last_used_at"] is not None and "token" not in listed["grafana"]
    # Only a digest is kept.
    with env.ctx.store.read() as s:
        hashes = list(s.scalars(select(ApiToken.token_hash)))
    assert read["Authorization"].split()[1] not in json.dumps(hashes)
    # Revoked: refused at the next call; a team token is never an organiser token.
    r = c.delete("/api/v1/admin/tokens/grafana", headers=full)
    assert r.status_code == 200 and r.json["revoked_at"] is not None
    assert c.get("/api/v1/admin/teams", headers=read).status_code == 403
    assert c.delete("/api/v1/admin/tokens/nope", headers=h).status_code == 404
    _, team = env.team("Bravo", "NO")
    assert c.get("/api/v1/admin/teams", headers=team).status_code == 403


def test_organisers_create_and_revoke_tokens_in_the_console(env: Env) -> None:
    person(env, "Ola Org", "organiser", callsign="OLA")
    person(env, "Obi Obs", "observer", callsign="OBI")
    ola, _ = sign_in(env, "ola", "console")
    r = ola.post(
        "/console/tokens",
        data={"name": "scraper", "scope": "read", "csrf_token": csrf(ola, "/console/tokens")},
    )
    page = r.get_data(as_text=True)
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    token = page.split('id="new-token">', 1)[1].split("<", 1)[0]
    assert token.startswith("rco_")
    assert token not in ola.get("/console/tokens").get_data(as_text=True)  # shown once
    listed = env.client.get("/api/v1/admin/tokens", headers=env.admin()).json
    assert listed[0]["created_by"] == "Ola Org <ola>"
    obi, _ = sign_in(env, "obi", "console")
    assert "scraper" in obi.get("/console/tokens").get_data(as_text=True)
    assert (
        obi.post(
            f"/console/tokens/{listed[0]['id']}/revoke",
            data={"csrf_token": csrf(obi, "/console/tokens")},
        ).status_code
        == 403
    )
    r = ola.post(
        f"/console/tokens/{listed[0]['id']}/revoke",
        data={"csrf_token": csrf(ola, "/console/tokens")},
        follow_redirects=True,
    )
    assert "Token revoked." in r.get_data(as_text=True)
    bearer = {"Authorization": f"Bearer {token}"}
    assert env.client.get("/api/v1/admin/teams", headers=bearer).status_code == 403


def test_members_hint_unlocks_and_instance_actions_are_theirs(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    env.challenge("h", hints=[{"content": "the hint", "cost": 10}], flags=["ICE{h}"])
    env.challenge(
        "web", environment={"services": [{"name": "box", "image": "range/base:bookworm"}]}
    )
    controls.start(env.ctx, TEST)
    person(env, "Mark Member", "member", team="Alpha", callsign="MARK")
    person(env, "Nora Member", "member", team="Alpha", callsign="NORA")
    mark, _ = sign_in(env, "mark", "portal")
    hint = env.client.get("/api/v1/challenges/h", headers=a).json["hints"][0]["id"]
    token = csrf(mark, "/portal/challenges/h")
    mark.post(f"/portal/challenges/h/hints/{hint}", data={"confirm": "yes", "csrf_token": token})
    mark.post("/portal/challenges/web/instance", data={"action": "start", "csrf_token": token})
    with env.ctx.store.read() as s:
        unlock = s.scalars(select(HintUnlock)).one()
        entry = s.scalars(select(AuditLog).where(AuditLog.action == "instance.start")).one()
        mark_id = s.execute(select(HintUnlock.account_id)).scalar_one()
    assert unlock.team_id == a_id and unlock.account_id == mark_id is not None
    # Who did it is the member (a typed actor: their account), acting for the team.
    assert entry.actor == Actor.person(mark_id, "Mark Member", "mark", a_id)
    # The team's token is a machine.
    env.client.post("/api/v1/challenges/web/instance/extend", headers=a)
    env.client.delete("/api/v1/challenges/web/instance", headers=a)
    with env.ctx.store.read() as s:
        stop = s.scalars(select(AuditLog).where(AuditLog.action == "instance.stop")).one()
    assert stop.actor == Actor.team(a_id, "Alpha") and stop.actor.label == (
        "machine: token of team Alpha"
    )
    # The console filters attempts by person.
    nora, _ = sign_in(env, "nora", "portal")
    for who, flag in ((mark, "ICE{mark-guess}"), (nora, "ICE{nora-guess}")):
        who.post(
            "/portal/challenges/h/attempt",
            data={"flag": flag, "csrf_token": csrf(who, "/portal/challenges/h")},
        )
    h = env.admin()
    only = env.client.get("/api/v1/admin/attempts?person=nora", headers=h).json
    assert [x["submitted"] for x in only] == ["ICE{nora-guess}"] and only[0]["by"] == "Nora Member"
    person(env, "Ola Org", "organiser", callsign="OLA")
    ola, _ = sign_in(env, "ola", "console")
    page = ola.get("/console/attempts?person=mark").get_data(as_text=True)
    assert "ICE{mark-guess}" in page and "ICE{nora-guess}" not in page
    assert '<option value="nora"' in page


def test_rangectl_tokens_create_list_revoke(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANGE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.setenv("RANGE_DATABASE_URL", migrated_sqlite(tmp_path / "range.db"))
    code, out = run("tokens", "create", "nightly-report", "--scope", "read")
    assert code == 0, out
    token = out.strip().splitlines()[-1]
    assert token.startswith("rco_")
    code, out = run("tokens", "list", "--json")
    listed = json.loads(out)
    assert listed[0]["name"] == "nightly-report" and listed[0]["created_by"] == "cli"
    assert token not in run("tokens", "list")[1]
    code, out = run("tokens", "create", "x", "--scope", "root")
    assert code != 0 and "root" in out
    assert run("tokens", "revoke", "nightly-report")[0] == 0
    assert json.loads(run("tokens", "list", "--json")[1])[0]["revoked_at"]
    code, out = run("tokens", "revoke", "nope")
    assert code == 1 and "no API token 'nope'" in out
