"""Blind grading stays blind: until a graded task is published, nothing a caller without the
``unblind`` permission can read (an observer, a grader, a read or a grade API token) links a
submission (its text, file name, digest, version, time) to its team. Every route such a caller
may reach, as the permission table says, is called with the task's real slug and code, the
report in each of its forms; an organiser's report (who may unblind) is the control that it
would show. SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import re

import pytest

from range_control.core import permissions
from range_control.core.actors import Actor, ActorKind
from range_control.services.whitecell import publication, submissions, tasks
from range_control.store.models import Challenge, Team
from tests.support.env import Env, make_env
from tests.support.routes import app_routes, callers, declared
from tests.support.web import csrf

RUBRIC = [{"id": "accuracy", "title": "Accuracy", "points": 10}]
TEXT = "Our finding: the beacon at QUIET-HARBOUR-7731."
FILE_TEXT = b"annex of the report: QUIET-HARBOUR-7731 decoded"
FILE_NAME = "annex-7731.txt"


@pytest.fixture
def blind_env(database_url: str, tmp_path):
    e = make_env(database_url, tmp_path, environments="off")
    yield e
    e.ctx.store.dispose()


def _path(rule: str, values: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        name = m.group(1)
        assert name in values, f"{rule}: give the test a value for <{name}>"
        return values[name]

    return re.sub(r"<(?:[^>:]+:)?(\w+)>", value, rule)


def _links(body: str, team: str, team_id: int) -> list[str]:
    """What in ``body`` would link the submission to its team: a mark of each, together."""
    marks = [TEXT, "QUIET-HARBOUR", FILE_NAME, hashlib.sha256(FILE_TEXT).hexdigest()]
    found = [m for m in marks if m in body]
    teams = [t for t in (team, f"/teams/{team_id}", f'"team_id": {team_id}') if t in body]
    return found + teams if found and teams else []


def test_no_route_a_blind_caller_reaches_links_an_unpublished_submission_to_its_team(
    blind_env: Env,
) -> None:
    env = blind_env
    who = callers(env)  # makes team Alpha and a caller of every kind
    env.challenge(
        "sitrep",
        type="task",
        deliverable="both",
        rubric=RUBRIC,
        flags=[],
        upload={"types": ["txt"]},
    )
    env.start()
    with env.ctx.store.read() as s:
        alpha = s.query(Team.id).filter(Team.name == "Alpha").scalar()
    upload = tasks.Upload(FILE_NAME, FILE_TEXT)
    submissions.submit(env.ctx, alpha, "sitrep", TEXT, upload)
    with env.ctx.store.read() as s:
        task_id = s.query(Challenge.id).filter(Challenge.slug == "sitrep").scalar()
    code = tasks.blind_code(env.ctx, task_id, alpha)
    values = {
        "slug": "sitrep",
        "code": code,
        "version": "1",
        "team_id": str(alpha),
        "login": "nobody@example.org",
        "ref": "Alpha",
        "id": str(alpha),
        "filename": "app.js",
        "name": "none.txt",
        "token": "x" * 43,
        "action": "disable",
        "path": "index.html",  # the documentation site
    }
    listed, routes = declared(env), app_routes(env)
    rules = {name: rule for rule, name in permissions.RULES.items()}
    report = "/console/report/download"
    extra = [
        f"{report}?format={kind}{more}"
        for kind in ("html", "json")
        for more in ("", "&anonymise=1", "&team=Alpha")
    ]
    blind_callers = [
        h
        for h in permissions.CALLERS
        if h is not None
        and permissions.allows(h, permissions.Permission.LOOK)
        and not permissions.allows(h, permissions.Permission.UNBLIND)
    ]
    assert {permissions.caller_name(h) for h in blind_callers} == {
        "observer",
        "grader",
        "read API token",
        "grade API token",
    }
    called, leaks = 0, []
    for holder in blind_callers:
        caller = who[permissions.caller_name(holder)]
        for name in sorted(routes):
            method, _ = name.split(" ", 1)
            if method != "GET" or listed[name] not in rules:
                continue
            place, need = rules[listed[name]]
            if not permissions.allows(holder, need, place):
                continue
            url = _path(routes[name], values)
            for target in extra if url == report else [url]:
                r = caller.client.get(target, headers=caller.api if target[:5] == "/api/" else {})
                assert r.status_code < 500, (target, r.status_code)
                called += 1
                linked = _links(r.get_data(as_text=True), "Alpha", alpha)
                if linked:
                    leaks.append((permissions.caller_name(holder), target, linked))
    assert leaks == [], "\n".join(map(str, leaks))
    assert called >= 60

    # A grade as a grader (the console form) and as a grade token (the API): its answer too.
    grader = who["grader"].client
    r = grader.post(
        f"/console/tasks/sitrep/{code}/grade",
        data={"points:accuracy": "7", "csrf_token": csrf(grader, f"/console/tasks/sitrep/{code}")},
        follow_redirects=True,
    )
    assert r.status_code == 200 and "QUIET-HARBOUR" in r.get_data(as_text=True)  # the sheet
    assert _links(r.get_data(as_text=True), "Alpha", alpha) == []
    r = who["grade API token"].client.post(
        "/api/v1/admin/tasks/sitrep/grades",
        headers=who["grade API token"].api,
        json={"code": code, "scores": {"accuracy": {"points": 8}}, "moderate": True},
    )
    assert r.status_code in (200, 201) and _links(r.get_data(as_text=True), "Alpha", alpha) == []

    # The control: the organisers (who may unblind) see the link; once published, all do.
    organiser = who["organiser"].client
    body = organiser.get(f"{report}?format=json").get_data(as_text=True)
    assert _links(body, "Alpha", alpha), "the organisers' report should link it"
    publication.publish(env.ctx, "sitrep", Actor(ActorKind.PERSON, None, "Olga"))
    body = who["grader"].client.get(f"{report}?format=json").get_data(as_text=True)
    assert _links(body, "Alpha", alpha), "once published, the report shows it to graders"
