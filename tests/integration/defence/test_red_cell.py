"""The red cell on both databases: a member's red-cell token declares actions (technique,
outcome, time), bad input named; its page lists the targets at their game addresses and its
log; the organisers read the log; the after-action report puts each action in its target's
defence timeline."""

from __future__ import annotations

from datetime import timedelta

import pytest

from range_control.core.clock import iso
from range_control.orchestrator.fake import FakeBackend
from range_control.orchestrator.types import RED_CELL, jumpbox_name
from range_control.services.environments import engine
from range_control.services.environments.desired import desired_state
from range_control.services.environments.run import EnvironmentReconciler
from range_control.services.people import accounts, api_tokens
from range_control.services.play import scoreboard
from range_control.services.whitecell import report
from range_control.store.models import Team
from tests.support.defence import load_defence, write_defended
from tests.support.env import TEST, Env
from tests.support.people import person, sign_in


@pytest.fixture
def red(env: Env, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setattr(engine, "backend", lambda *_a, **_k: FakeBackend())
    for name, cc in (("Alpha", "NL"), ("Bravo", "NO")):
        env.team(name, cc)
    write_defended(env.tmp / "pack", "tracker", timeout="10s")
    load_defence(env, {"tracker": 1}, tick="60s")
    token = api_tokens.create(env.ctx, "rex", "red-cell", TEST).token
    return env, {"Authorization": f"Bearer {token}"}


def test_the_red_cell_declares_and_the_white_cell_reads_it(red) -> None:
    env, head = red
    env.clock.advance(seconds=30)
    earlier = env.clock.now() - timedelta(minutes=5)
    sent = env.client.post(
        "/api/v1/red/actions",
        json={
            "team": "Bravo",
            "service": "tracker",
            "technique": "T1190",
            "outcome": "success",
            "summary": "SQL injection in the callsign search: every convoy's orders read",
            "at": iso(earlier),
        },
        headers=head,
    )
    assert sent.status_code == 201, sent.get_json()
    got = sent.get_json()
    assert got["by"] == "machine: token rex" and got["team"] == "Bravo"
    assert got["kind"] == "declared" and got["at"].startswith(iso(earlier)[:19])
    second = env.client.post(
        "/api/v1/red/actions",
        json={"team": "Alpha", "outcome": "failure", "summary": "phishing the captain"},
        headers=head,
    )
    assert second.status_code == 201
    page = env.client.get("/api/v1/red", headers=head).get_json()
    assert [a["team"] for a in page["actions"]] == ["Alpha", "Bravo"]  # newest first
    assert {(t["team"], t["address"]) for t in page["targets"]} == {
        ("Alpha", "10.60.1.1"),
        ("Bravo", "10.60.2.1"),
    }
    log = env.client.get("/api/v1/admin/red/actions", headers=env.admin()).get_json()
    assert [a["technique"] for a in log] == ["", "T1190"]
    # Teams never see it; the organisers' token is not the red cell.
    assert env.client.get("/api/v1/red", headers=env.admin()).status_code == 403
    # The after-action report: each action in its target's defence timeline.
    doc = report.build(env.ctx)
    bravo = next(t for t in doc["teams"] if t["name"] == "Bravo")
    red_events = [e for e in bravo["events"] if e["kind"] == "red_action"]
    assert len(red_events) == 1 and red_events[0]["outcome"] == "success"
    assert "T1190" in red_events[0]["what"] and red_events[0]["challenge"] == "tracker"


def test_bad_declarations_are_refused_naming_the_field(red) -> None:
    env, head = red
    post = env.client.post

    def refused(body: dict) -> str:
        r = post("/api/v1/red/actions", json=body, headers=head)
        assert r.status_code in (400, 404), (body, r.status_code)
        return r.get_data(as_text=True)

    base = {"team": "Bravo", "outcome": "success", "summary": "x"}
    assert "technique" in refused({**base, "technique": "SQLi"})
    assert "outcome" in refused({**base, "outcome": "pwned"})
    assert "Nobody" in refused({**base, "team": "Nobody"})
    assert "nope" in refused({**base, "service": "nope"})
    future = iso(env.clock.now() + timedelta(hours=1))
    assert "at" in refused({**base, "at": future})
    assert "summary" in refused({**base, "summary": "x" * 2001})


def test_the_red_cell_s_jumpbox_its_logins_and_its_observed_commands(red) -> None:
    """With a red cell, the reconciler wants its jumpbox (a login per member) on the game
    network, reaching every target in a defence tick; what its sessions print comes back as
    commands with who, when and the team and service named, once; the red cell's page and API
    show them and the member's own login, the report puts them in the team's timeline."""
    env, head = red
    rex = person(env, "Rex Red", "red", email="rex@red.example")
    person(env, "Rita Red", "red", email="rita@red.example")
    accounts.set_disabled(env.ctx, "rita@red.example", True, TEST)
    env.clock.advance(seconds=30)  # tick 1, a defence tick
    fake = FakeBackend()
    rec = EnvironmentReconciler(env.ctx, fake)
    rec.run_once()
    want = desired_state(env.ctx).state
    box = want.jumpboxes[RED_CELL]
    assert [u for u, _ in box.people] == [f"red{rex.id}"]  # an enabled member only
    assert want.game is not None and want.game.attackers == (RED_CELL,)
    assert RED_CELL in want.game.teams and len(want.game.targets) == 2

    now = int(env.clock.now().timestamp())
    name = jumpbox_name(env.ctx.event_slug, RED_CELL)
    fake.sessions[name] = [
        (now, f"range-command red{rex.id} {now} (interactive session)"),
        (now, f"range-command red{rex.id} {now} curl -s http://10.60.2.1:8080/orders"),
        (now, "sshd[12]: Accepted password for red1"),  # not a command line
        (now, f"range-command red{rex.id} {now} nmap -p- 10.60.0.0/16"),  # no team's address
    ]
    rec.run_once()
    rec.run_once()  # the same lines again: stored once
    page = env.client.get("/api/v1/red", headers=head).get_json()
    assert [(c["by"], c["team"], c["service"], c["command"]) for c in page["commands"]] == [
        ("rex@red.example", None, None, "nmap -p- 10.60.0.0/16"),
        ("rex@red.example", "Bravo", "tracker", "curl -s http://10.60.2.1:8080/orders"),
        ("rex@red.example", None, None, "(interactive session)"),
    ]
    assert page["jumpbox"] is None  # a token is nobody: no login to show

    # Rex, signed in, sees his own login on the red cell's page, and the commands.
    rex_client, _ = sign_in(env, "rex@red.example", "console")
    html = rex_client.get("/console/red").get_data(as_text=True)
    assert f"red{rex.id}@" in html and "curl -s http://10.60.2.1:8080/orders" in html
    doc = report.build(env.ctx)
    bravo = next(t for t in doc["teams"] if t["name"] == "Bravo")
    ran = [e["what"] for e in bravo["events"] if e["kind"] == "red_command"]
    assert ran == ["red cell ran: curl -s http://10.60.2.1:8080/orders"]


def test_a_plant_costs_its_team_and_is_in_the_red_log(red) -> None:
    """A plant: its token to leave, the team's loss in its ledger (the scenario's
    plant_cost, 50 by default) with a why, the plant in the red log as the ground truth and on
    the red cell's page; bad input named; a team cannot plant."""
    env, head = red
    env.clock.advance(seconds=30)
    sent = env.client.post(
        "/api/v1/red/plants",
        json={
            "team": "Bravo",
            "service": "tracker",
            "where": "a row of the orders table, callsign AUDIT",
            "technique": "T1505",
        },
        headers=head,
    )
    assert sent.status_code == 201, sent.get_json()
    got = sent.get_json()
    assert got["team"] == "Bravo" and got["points"] == 50 and got["token"].startswith("RED-")
    again = env.client.post(
        "/api/v1/red/plants",
        json={"team": "Bravo", "service": "tracker", "where": "/srv/data/.x"},
        headers=head,
    ).get_json()
    assert again["token"] != got["token"] and len(again["token"]) == len(got["token"])
    with env.ctx.store.read() as s:
        bravo = s.query(Team).filter_by(name="Bravo").one().id
    lost = [
        (e.kind, e.points, e.why)
        for e in scoreboard.ledger(env.ctx, bravo, public=False).entries
        if e.kind == "red-plant"
    ]
    assert (
        lost == [("red-plant", -50, "a red cell plant left in our tracker: it was compromised")] * 2
    )
    page = env.client.get("/api/v1/red", headers=head).get_json()
    assert [p["token"] for p in page["plants"]] == [again["token"], got["token"]]
    assert page["plant_cost"] == 50
    plant_action = next(a for a in page["actions"] if a["id"] == got["action"])
    assert plant_action["kind"] == "plant" and plant_action["technique"] == "T1505"
    assert "orders table" in plant_action["summary"]

    def refused(body: dict, status: int) -> str:
        r = env.client.post("/api/v1/red/plants", json=body, headers=head)
        assert r.status_code == status, r.get_json()
        return r.get_data(as_text=True)

    assert "Nobody" in refused({"team": "Nobody", "service": "tracker", "where": "x"}, 404)
    assert "service" in refused({"team": "Bravo", "service": "bogus", "where": "x"}, 400)
    assert "where" in refused({"team": "Bravo", "service": "tracker", "where": "x" * 501}, 400)
    assert "where" in refused({"team": "Bravo", "service": "tracker"}, 400)
    _, alpha_head = env.team("Charlie", "DE")
    team_try = env.client.post(
        "/api/v1/red/plants",
        json={"team": "Bravo", "service": "tracker", "where": "x"},
        headers=alpha_head,
    )
    assert team_try.status_code == 403
