"""The white cell with the ground truth, on both databases: an incident-report task shows its
grader, blind, the red cell's actions against the team up to the report; the grader marks the
ones the report names; the after-action report gives each team its time to detect (a red
action to the first report naming it), worked out by hand here."""

from __future__ import annotations

from datetime import timedelta

from range_control.core.clock import iso
from range_control.services.people import api_tokens
from range_control.services.whitecell import report, submissions, tasks
from range_control.store.models import Challenge, RedCommand
from tests.support.env import ADMIN, TEST, Env

RUBRIC = [{"id": "accuracy", "title": "Accuracy", "points": 10}]


def test_time_to_detect_from_the_red_log_and_the_graders_marks(env: Env) -> None:
    a_id, _ = env.team("Alpha", "NL")
    env.team("Bravo", "NO")
    env.challenge(
        "incident", type="task", deliverable="text", rubric=RUBRIC, flags=[], incident_report=True
    )
    env.start()
    red = api_tokens.create(env.ctx, "rex", "red-cell", TEST).token
    head = {"Authorization": f"Bearer {red}"}

    def declare(team: str, summary: str, technique: str = "") -> int:
        r = env.client.post(
            "/api/v1/red/actions",
            json={"team": team, "outcome": "success", "summary": summary, "technique": technique},
            headers=head,
        )
        assert r.status_code == 201, r.get_json()
        return r.get_json()["id"]

    start = env.clock.now()
    sqli = declare("Alpha", "SQL injection on the tracker", "T1190")  # at 0
    ran(env, a_id, f"sqlmap -u http://10.60.{a_id}.1:8080/search?q=1")
    env.clock.advance(minutes=5)
    ssh = declare("Alpha", "SSH brute force on the jumpbox", "T1110")  # at 5 min
    declare("Bravo", "not Alpha's")
    env.clock.advance(minutes=15)
    submissions.submit(env.ctx, a_id, "incident", "# Incident\nSQLi seen on the tracker.", None)
    env.clock.advance(minutes=10)
    late = declare("Alpha", "after the report")  # after version 1: not on its sheet
    ran(env, None, "nmap -sn 10.60.0.0/16")  # no team's: on no sheet
    env.clock.advance(minutes=10)
    submissions.submit(env.ctx, a_id, "incident", "Also SSH brute force.", None)  # at 40 min
    env.clock.advance(minutes=1)
    ran(env, a_id, "after the latest report")

    with env.ctx.store.read() as s:
        ch = s.query(Challenge).filter_by(slug="incident").one().id
    code = tasks.blind_code(env.ctx, ch, a_id)
    url = f"/api/v1/admin/tasks/incident/submissions/{code}/detections"
    got = env.client.post(url, json={"action": sqli, "version": 1}, headers=env.admin())
    assert got.status_code == 200, got.get_json()
    truth = got.get_json()["ground_truth"]
    assert [t["id"] for t in truth] == [sqli, ssh, late]  # up to the latest version (40 min)
    assert "Bravo" not in str(truth) and "Alpha" not in str(truth)  # blind
    assert truth[0]["named_in"] == [1] and truth[0]["technique"] == "T1190"
    env.client.post(url, json={"action": ssh, "version": 2}, headers=env.admin())
    env.client.post(url, json={"action": sqli, "version": 2}, headers=env.admin())  # later: no
    bad = env.client.post(url, json={"action": 999, "version": 1}, headers=env.admin())
    assert bad.status_code == 404
    gone = env.client.post(url, json={"action": late, "version": 9}, headers=env.admin())
    assert gone.status_code == 404 and "version 9" in gone.get_data(as_text=True)

    doc = report.build(env.ctx)
    alpha = next(t for t in doc["teams"] if t["name"] == "Alpha")
    seen = {d["technique"] or d["outcome"]: d["seconds"] for d in alpha["detections"]}
    # SQLi at 0, first named by version 1 at 20 min; SSH at 5 min, named by version 2 at 40.
    assert seen == {"T1190": 20 * 60, "T1110": 35 * 60, "success": None}
    assert alpha["mean_detect_seconds"] == round((20 * 60 + 35 * 60) / 2)
    assert alpha["detections"][0]["at"] == iso(start)
    assert env.clock.now() - start == timedelta(minutes=41)
    # The grader's page shows the same, blind, with a button per action.
    html = _console_sheet(env, code)
    assert "SSH brute force on the jumpbox" in html and "Alpha" not in html
    assert "Version 2 does not name it" in html
    # The commands the red cell ran against Alpha up to the report, blind: the game address's
    # team hidden.
    sheet = env.client.post(url, json={"action": ssh, "version": 2}, headers=env.admin())
    observed = [(o["service"], o["command"]) for o in sheet.get_json()["observed"]]
    assert observed == [(None, "sqlmap -u http://10.60.x.1:8080/search?q=1")]
    assert "sqlmap -u http://10.60.x.1:8080/search?q=1" in html


def ran(env: Env, team_id: int | None, command: str) -> None:
    """A command observed on the red cell's jumpbox, against ``team_id``, now."""
    with env.ctx.store.write() as s:
        s.add(
            RedCommand(
                who="rex@red.example",
                at=env.clock.now(),
                command=command,
                target_id=team_id,
                created_at=env.clock.now(),
            )
        )


def _console_sheet(env: Env, code: str) -> str:
    from tests.support.web import csrf

    c = env.app.test_client()
    form = {"token": ADMIN, "csrf_token": csrf(c, "/console/login")}
    assert c.post("/console/login", data=form).status_code == 302
    return c.get(f"/console/tasks/incident/{code}").get_data(as_text=True)
