"""People: accounts with roles, invites, argon2 passwords, sign-in to the
console and the portal, read-only roles, attribution, captains, disabling. SQLite and
PostgreSQL; the pages through Flask's client (the browser test is test_browser_accounts.py)."""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pyotp
import pytest

from range_control.core.permissions import Permission, Place
from range_control.services.event import controls
from range_control.services.people import accounts
from range_control.services.play import attempts
from range_control.store.models import Account, AuditLog
from tests.support.cli import run
from tests.support.env import TEST, Env, make_env, migrated_sqlite
from tests.support.people import PASSWORD, accept, person, sign_in
from tests.support.web import csrf


def test_accounts_are_checked_when_added(env: Env) -> None:
    env.team("Alpha", "NL")
    a = accounts.add(env.ctx, "Ana  Silva", "member", TEST, team="Alpha", email="Ana@PT.example")
    assert a.account.login == "ana@pt.example" and a.account.name == "Ana Silva"
    assert a.link.startswith("http://localhost:8000/invite/") and not a.account.active
    bad = [
        ("X", "admin", {}, "role: 'admin' is not one of organiser, grader"),
        ("X", "member", {}, "team: a member belongs to a team"),
        ("X", "observer", {"team": "Alpha"}, "team: an observer belongs to no team"),
        ("X", "member", {"team": "Nobody"}, "not found"),
        ("X", "observer", {"email": "not-an-address"}, "is not an e-mail address"),
        ("", "observer", {}, "name"),
    ]
    for name, role, kw, reason in bad:
        with pytest.raises(Exception, match=re.escape(reason)):
            accounts.add(env.ctx, name, role, TEST, **kw)
            pytest.fail(f"accepted: {name!r} {role} {kw}")
    with pytest.raises(Exception, match="signs in as 'ana@pt.example' already"):
        accounts.add(env.ctx, "Other", "observer", TEST, email="ana@pt.example")


def test_an_invite_works_once_before_it_expires(env: Env) -> None:
    invited = accounts.add(env.ctx, "Olga", "observer", TEST, callsign="OLGA")
    c = env.app.test_client()
    path = "/invite/" + invited.token
    page = c.get(path)
    assert page.status_code == 200 and "olga" in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "no-store"
    assert page.headers["Referrer-Policy"] == "no-referrer"
    r = c.post(path, data={"password": "short", "confirm": "short", "csrf_token": csrf(c, path)})
    assert r.status_code == 400 and "12 to 1024 characters" in r.get_data(as_text=True)
    r = c.post(
        path, data={"password": PASSWORD, "confirm": PASSWORD + "x", "csrf_token": csrf(c, path)}
    )
    assert r.status_code == 400 and "the two passwords differ" in r.get_data(as_text=True)
    assert c.post(path, data={"password": PASSWORD, "confirm": PASSWORD}).status_code == 400  # CSRF
    assert accept(env, invited).headers["Location"].endswith("/console/login")
    again = c.get(path)
    assert again.status_code == 410 and "was used already" in again.get_data(as_text=True)
    unknown = c.get("/invite/nope")
    assert unknown.status_code == 404 and "not valid" in unknown.get_data(as_text=True)
    # A new link voids the old unused one; a link expires.
    fresh = accounts.reinvite(env.ctx, "olga", TEST)
    newer = accounts.reinvite(env.ctx, "olga", TEST)
    assert c.get("/invite/" + fresh.token).status_code == 410
    env.clock.advance(hours=env.ctx.settings.invite_hours, seconds=1)
    expired = c.get("/invite/" + newer.token)
    assert expired.status_code == 410 and "expired" in expired.get_data(as_text=True)
    with env.ctx.store.read() as s:  # argon2id, never the password itself
        stored = s.query(Account).one().password_hash
        assert stored.startswith("$argon2id$") and PASSWORD not in stored
        assert all(PASSWORD not in repr(row.detail) for row in s.query(AuditLog))


def test_sign_in_refuses_alike_and_is_rate_limited(env: Env, caplog) -> None:
    person(env, "Olga", "observer", callsign="OLGA")
    caplog.set_level(logging.DEBUG)
    _, unknown = sign_in(env, "nobody", "console")
    _, wrong = sign_in(env, "olga", "console", "wrong password!!")
    assert unknown.status_code == wrong.status_code == 401
    said = {
        r.get_data(as_text=True).count("unknown account, wrong password or wrong code")
        for r in (unknown, wrong)
    }
    assert said == {1}
    c, ok = sign_in(env, "OLGA", "console")  # logins are case-insensitive
    assert ok.status_code == 302 and c.get("/console/").status_code == 200
    # A console account does not open the portal, and the other way round.
    assert sign_in(env, "olga", "portal")[1].status_code == 401
    r = c.get("/portal/", follow_redirects=True)  # not with the console's session either
    assert "signs in to the organiser console, not the portal" in r.get_data(as_text=True)
    for _ in range(12):
        _, last = sign_in(env, "olga", "console", "still wrong!!")
    assert last.status_code == 429
    assert PASSWORD not in caplog.text and "still wrong" not in caplog.text


def test_read_only_roles_change_nothing_on_any_console_form(env: Env) -> None:
    """Every POST route of the console, generated from the app's routes: an observer gets 403
    from each, a grader from each but the white cell's grading forms (test_tasks.py); the
    organiser's account is attributed in the audit log."""
    a_id, _ = env.team("Alpha", "NL")
    grade = (Place.CONSOLE, Permission.GRADE)  # the pages that declare the white cell's grading
    grading = {
        rule.rule
        for rule in env.app.url_map.iter_rules()
        if getattr(env.app.view_functions[rule.endpoint], "rule", None) == grade
    }
    assert len(grading) == 3  # grade, moderate, mark what an incident report names
    posts = sorted(
        rule.rule
        for rule in env.app.url_map.iter_rules()
        if rule.rule.startswith("/console/")
        and "POST" in (rule.methods or ())
        # Everyone signs in and out, and adds their own second factor.
        and rule.endpoint
        not in ("console.login", "console.logout", "console.security", "console.end_session")
    )
    assert len(posts) >= 7, posts
    for role in ("observer", "grader"):
        person(env, f"{role} one", role, callsign=role)
        c, _ = sign_in(env, role, "console")
        page = c.get("/console/").get_data(as_text=True)
        assert "Read-only" in page and '<fieldset class="plain" disabled>' in page
        token = csrf(c, "/console/")
        for rule in posts:
            path = re.sub(r"<int:\w+>|<[^>]+:\w+>|<\w+>", "1", rule)
            r = c.post(path, data={"csrf_token": token, "action": "pause"})
            allowed = role == "grader" and rule in grading
            assert (r.status_code == 403) != allowed, (role, rule, r.status_code)
    person(env, "Oscar Org", "organiser", email="oscar@org.example")
    c, _ = sign_in(env, "oscar@org.example", "console")
    r = c.post("/console/event/start", data={"csrf_token": csrf(c, "/console/")})
    assert r.status_code == 302
    with env.ctx.store.read() as s:
        last = s.query(AuditLog).order_by(AuditLog.id.desc()).first()
    assert last.actor.label == "Oscar Org <oscar@org.example>" and last.action.startswith("event.")
    assert a_id


def test_members_solve_under_their_name_and_captains_manage_the_team(env: Env) -> None:
    env.challenge("intro", flags=["ICE{intro}"])
    controls.start(env.ctx, TEST)
    a_id, a = env.team("Alpha", "NL")
    b_id, _ = env.team("Bravo", "NO")
    person(env, "Cora Captain", "captain", team="Alpha", callsign="CORA")
    person(env, "Mark Member", "member", team="Alpha", callsign="MARK")
    person(env, "Bob Bravo", "member", team="Bravo", callsign="BOB")
    mark, r = sign_in(env, "mark", "portal")
    assert r.status_code == 302
    r = mark.post(
        "/portal/challenges/intro/attempt",
        data={"flag": "ICE{intro}", "csrf_token": csrf(mark, "/portal/challenges/intro")},
    )
    assert r.status_code == 302
    page = mark.get("/portal/attempts").get_data(as_text=True)
    assert "Mark Member" in page
    attempts.submit(env.ctx, a_id, "intro", "ICE{nope}", None)  # the token (a machine)
    assert "team token" in mark.get("/portal/attempts").get_data(as_text=True)
    # A member is not a captain; a captain manages only the captain's own team.
    team_page = mark.get("/portal/team").get_data(as_text=True)
    assert "Cora Captain" in team_page and "Invite a member" not in team_page
    assert (
        mark.post(
            "/portal/team/invite", data={"name": "X", "csrf_token": csrf(mark, "/portal/team")}
        ).status_code
        == 403
    )
    cora, _ = sign_in(env, "cora", "portal")
    token = csrf(cora, "/portal/team")
    r = cora.post(
        "/portal/team/invite", data={"name": "Nina New", "callsign": "NINA", "csrf_token": token}
    )
    assert r.status_code == 200 and r.headers["Cache-Control"] == "no-store"
    assert "/invite/" in r.get_data(as_text=True)
    # The invite is pending until Nina accepts it: then she is a member of Alpha.
    assert [i.login for i in accounts.pending_invites(env.ctx, a_id)] == ["nina"]
    assert "nina" not in {p.login for p in accounts.list_accounts(env.ctx)}
    link = re.search(r"/invite/[\w-]+", r.get_data(as_text=True)).group(0)
    assert accept(env, link.removeprefix("/invite/")).status_code == 302
    nina = next(p for p in accounts.list_accounts(env.ctx, a_id) if p.login == "nina")
    assert nina.role == "member" and nina.team == "Alpha"
    bob = next(p for p in accounts.list_accounts(env.ctx, b_id))
    r = cora.post(
        f"/portal/team/{bob.id}/remove", data={"csrf_token": token}, follow_redirects=True
    )
    assert "not found in your team" in r.get_data(as_text=True)
    # Removing Mark ends his open session at his next click; the team keeps its points.
    mark_id = next(p.id for p in accounts.list_accounts(env.ctx, a_id) if p.login == "mark")
    r = cora.post(
        f"/portal/team/{mark_id}/remove", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Mark Member is no longer in the team." in r.get_data(as_text=True)
    gone = mark.get("/portal/")
    assert gone.status_code == 302 and "/portal/login" in gone.headers["Location"]
    assert env.client.get("/api/v1/me", headers=a).json["standing"]["score"] == 100
    assert sign_in(env, "mark", "portal")[1].status_code == 401


def test_a_disabled_account_s_session_ends_at_once(env: Env) -> None:
    person(env, "Olga", "observer", callsign="OLGA")
    c, _ = sign_in(env, "olga", "console")
    assert c.get("/console/").status_code == 200
    accounts.set_disabled(env.ctx, "olga", True, TEST)
    r = c.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/login")
    _, again = sign_in(env, "olga", "console")
    assert again.status_code == 401 and "disabled" in again.get_data(as_text=True)


def test_organisers_manage_accounts_through_the_api(env: Env) -> None:
    _a_id, a = env.team("Alpha", "NL")
    c, h = env.client, env.admin()
    r = c.post(
        "/api/v1/admin/accounts",
        json={"name": "Gina", "role": "grader", "email": "gina@x.example"},
        headers=h,
    )
    assert r.status_code == 201 and r.json["link"].endswith(r.json["token"])
    assert (
        c.post("/api/v1/admin/accounts", json={"name": "G", "role": "king"}, headers=h).status_code
        == 400
    )
    assert [x["login"] for x in c.get("/api/v1/admin/accounts", headers=h).json] == [
        "gina@x.example"
    ]
    assert c.get("/api/v1/admin/accounts", headers=a).status_code == 403
    r = c.post("/api/v1/admin/accounts/gina@x.example/disable", headers=h)
    assert r.status_code == 200 and r.json["disabled"] is True
    assert c.post("/api/v1/admin/accounts/gina@x.example/invite", headers=h).status_code == 200
    assert c.post("/api/v1/admin/accounts/nobody/disable", headers=h).status_code == 404


def test_a_delegation_is_imported_from_csv_with_a_printable_sheet(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RANGE_DATA_DIR", str(tmp_path / "var"))
    monkeypatch.delenv("RANGE_DATABASE_URL", raising=False)
    assert run("db", "upgrade")[0] == 0
    sheet = tmp_path / "delegations.csv"
    sheet.write_text(
        "team,country,name,callsign,email,role\n"
        "Portugal,PT,Ana Silva,ANA,ana@pt.example,captain\n"
        "Portugal,PT,Rui Costa,RUI,,member\n"
        ",,Wanda White,,wanda@ice.example,observer\n"
    )
    code, out = run(
        "accounts", "import", str(sheet), "--sheet", str(tmp_path / "inv.html"), "--json"
    )
    assert code == 0, out
    rows = {r["login"]: r for r in json.loads(out.strip().splitlines()[0])}
    assert set(rows) == {"ana@pt.example", "rui", "wanda@ice.example"}
    assert rows["ana@pt.example"]["team"] == "Portugal" and rows["rui"]["role"] == "member"
    html = (tmp_path / "inv.html").read_text()
    assert html.count("<svg") == 3 and rows["rui"]["link"] in html
    assert oct(os.stat(tmp_path / "inv.html").st_mode & 0o777) == "0o600"
    code, out = run("accounts", "list", "--json")
    assert code == 0 and "Portugal" in out
    bad = tmp_path / "bad.csv"
    bad.write_text("team,country,name,callsign,email,role\nX,NL,Al,,,member\nX,NL,Bo,,,wizard\n")
    code, out = run("accounts", "import", str(bad))
    assert code == 1 and "bad.csv:3: role: 'wizard'" in out
    code, out = run("accounts", "list", "--json")
    assert "Al" not in [a["name"] for a in json.loads(out)]  # all or nothing


def _code(key: str, env: Env, offset: int = 0) -> str:
    return pyotp.TOTP(key).at(env.clock.now().timestamp() + offset)


def enrol(env: Env, c) -> str:
    page = c.get("/console/security").get_data(as_text=True)
    key = re.search(r'name="key" value="([A-Z2-7]{32})"', page).group(1)
    assert "<svg" in page
    r = c.post(
        "/console/security",
        data={"key": key, "code": _code(key, env), "csrf_token": csrf(c, "/console/security")},
    )
    assert r.status_code == 302, r.get_data(as_text=True)
    return key


def test_a_second_factor_is_asked_once_on_and_required_for_organisers(env: Env) -> None:
    person(env, "Oscar", "organiser", callsign="OSCAR")
    person(env, "Ophelia", "organiser", callsign="OPHELIA")
    person(env, "Olga", "observer", callsign="OLGA")
    c, _ = sign_in(env, "oscar", "console")
    r = c.post(
        "/console/security",
        data={"key": "A" * 32, "code": "000000", "csrf_token": csrf(c, "/console/security")},
        follow_redirects=True,
    )
    assert "not the code your app shows now" in r.get_data(as_text=True)
    r = c.post("/console/security", data={"csrf_token": csrf(c, "/console/security")})
    assert r.status_code == 200 and "not the key this page gave" in r.get_data(as_text=True)
    key = enrol(env, c)
    with env.ctx.store.read() as s:  # sealed at rest
        row = s.query(Account).filter_by(login="oscar").one()
        assert row.totp_sealed and key not in row.totp_sealed
    # Signing in now needs the code, once: the same code again is refused, as is none.
    env.clock.advance(seconds=60)
    assert sign_in(env, "oscar", "console")[1].status_code == 401
    c2 = env.app.test_client()
    form = {"login": "oscar", "password": PASSWORD, "code": _code(key, env)}
    r = c2.post("/console/login", data={**form, "csrf_token": csrf(c2, "/console/login")})
    assert r.status_code == 302
    c3 = env.app.test_client()
    r = c3.post("/console/login", data={**form, "csrf_token": csrf(c3, "/console/login")})
    assert r.status_code == 401 and "wrong code" in r.get_data(as_text=True)
    env.clock.advance(seconds=30)
    form["code"] = _code(key, env)
    assert (
        c3.post(
            "/console/login", data={**form, "csrf_token": csrf(c3, "/console/login")}
        ).status_code
        == 302
    )
    # Another organiser without one: every console page leads to adding it first.
    o2, _ = sign_in(env, "ophelia", "console")
    r = o2.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/security")
    assert o2.get("/console/attempts").status_code == 302
    enrol(env, o2)
    assert o2.get("/console/").status_code == 200
    # An observer is not asked (RANGE_TOTP_REQUIRED=organiser), and may add one anyway.
    olga, _ = sign_in(env, "olga", "console")
    assert olga.get("/console/").status_code == 200
    enrol(env, olga)
    # A lost phone: an organiser turns it off; the person's sessions end.
    assert not accounts.reset_totp(env.ctx, "olga", TEST).totp
    assert olga.get("/console/").status_code == 302
    assert sign_in(env, "olga", "console")[1].status_code == 302


def test_members_add_a_second_factor_in_the_portal(tmp_path: Path) -> None:
    env = make_env(migrated_sqlite(tmp_path / "r.db"), tmp_path, totp_required="captain")
    env.team("Alpha", "NL")
    person(env, "Cora", "captain", team="Alpha", callsign="CORA")
    person(env, "Carl", "captain", team="Alpha", callsign="CARL")
    person(env, "Mark", "member", team="Alpha", callsign="MARK")
    cora, _ = sign_in(env, "cora", "portal")
    page = cora.get("/portal/security").get_data(as_text=True)
    key = re.search(r'name="key" value="([A-Z2-7]{32})"', page).group(1)
    r = cora.post(
        "/portal/security",
        data={"key": key, "code": _code(key, env), "csrf_token": csrf(cora, "/portal/security")},
    )
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/")
    env.clock.advance(seconds=60)
    assert sign_in(env, "cora", "portal")[1].status_code == 401  # no code
    c = env.app.test_client()
    r = c.post(
        "/portal/login",
        data={
            "login": "cora",
            "password": PASSWORD,
            "code": _code(key, env),
            "csrf_token": csrf(c, "/portal/login"),
        },
    )
    assert r.status_code == 302
    # The other captain must add one first (RANGE_TOTP_REQUIRED=captain); a member need not.
    carl, _ = sign_in(env, "carl", "portal")
    r = carl.get("/portal/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/security")
    mark, _ = sign_in(env, "mark", "portal")
    assert mark.get("/portal/").status_code == 200
    env.ctx.store.dispose()


def test_a_person_lists_and_ends_their_own_sessions(env: Env) -> None:
    person(env, "Olga", "observer", callsign="OLGA")
    laptop, _ = sign_in(env, "olga", "console")
    phone, _ = sign_in(env, "olga", "console")
    page = laptop.get("/console/security").get_data(as_text=True)
    assert page.count("this one") == 1
    handles = re.findall(r'name="handle" value="([0-9a-f]{16})"', page)
    assert len(handles) == 1
    r = laptop.post(
        "/console/security/end-session",
        data={"handle": handles[0], "csrf_token": csrf(laptop, "/console/security")},
        follow_redirects=True,
    )
    assert "Session ended." in r.get_data(as_text=True)
    assert phone.get("/console/").status_code == 302  # the other browser is out
    assert laptop.get("/console/").status_code == 200
    r = laptop.post(
        "/console/security/end-session",
        data={"handle": "0" * 16, "csrf_token": csrf(laptop, "/console/security")},
        follow_redirects=True,
    )
    assert "No such session." in r.get_data(as_text=True)


def test_a_captain_s_invite_takes_no_login_and_tells_nothing_of_other_accounts(
    env: Env, tmp_path: Path
) -> None:
    a_id, _ = env.team("Alpha", "NL")
    person(env, "Cora Captain", "captain", team="Alpha", callsign="CORA")
    person(env, "Sam Staff", "observer", email="sam@staff.example")
    cora, _ = sign_in(env, "cora", "portal")

    def invite(name: str, email: str):
        return cora.post(
            "/portal/team/invite",
            data={"name": name, "email": email, "csrf_token": csrf(cora, "/portal/team")},
        )

    # An e-mail that has an account and one that has none: the same answer.
    taken, free = invite("Sam", "sam@staff.example"), invite("Fay", "fay@alpha.example")
    assert taken.status_code == free.status_code == 200
    # CSRF tokens carry a timestamp: two answers a second apart differ there and nowhere else.
    shape = re.compile(
        r"/invite/[\w-]+|Sam|Fay|sam@staff\.example|fay@alpha\.example|"
        r'(?<=name="csrf_token" value=")[^"]+'
    )
    assert shape.sub("", taken.get_data(as_text=True)) == shape.sub("", free.get_data(as_text=True))
    # A staff address a captain invited first is still the organisers' to add, alone or in a
    # delegation sheet.
    gina = invite("Gina", "gina@staff.example")
    gina_link = re.search(r"/invite/([\w-]+)", gina.get_data(as_text=True)).group(1)
    assert accounts.add(env.ctx, "Gina Grader", "grader", TEST, email="gina@staff.example")
    sheet = tmp_path / "people.csv"
    sheet.write_text(
        "team,country,name,callsign,email,role\nAlpha,NL,Fay F,,fay@alpha.example,member\n"
    )
    assert [i.account.login for i in accounts.import_csv(env.ctx, sheet, TEST)] == [
        "fay@alpha.example"
    ]
    # Gina's pending invite cannot be used any more (her login is taken): it says so, and
    # makes nothing; the organisers see why in the audit log.
    r = accept(env, gina_link)
    assert r.status_code == 410 and "cannot be used any more" in r.get_data(as_text=True)
    with env.ctx.store.read() as s:
        assert s.query(Account).filter(Account.login == "gina@staff.example").one().role == "grader"
        refused = s.query(AuditLog).filter(AuditLog.action == "team.member.invite_refused").one()
    assert refused.detail["login"] == "gina@staff.example"
    # The captain cancels an invite: its link stops working.
    pending = {i.login: i for i in accounts.pending_invites(env.ctx, a_id)}
    assert set(pending) == {"sam@staff.example", "fay@alpha.example"}
    r = cora.post(
        f"/portal/team/invites/{pending['sam@staff.example'].id}/cancel",
        data={"csrf_token": csrf(cora, "/portal/team")},
        follow_redirects=True,
    )
    assert "The invite of Sam no longer works." in r.get_data(as_text=True)
    sam_link = re.search(r"/invite/([\w-]+)", taken.get_data(as_text=True)).group(1)
    assert env.app.test_client().get(f"/invite/{sam_link}").status_code == 410
    # At most MAX_PENDING invites wait at once.
    for i in range(accounts.MAX_PENDING - 1):
        assert invite(f"P{i}", f"p{i}@alpha.example").status_code == 200
    r = invite("One Too Many", "late@alpha.example")
    assert r.status_code == 302
    assert "invites waiting" in cora.get("/portal/team").get_data(as_text=True)


def test_organisers_remove_and_rename_accounts_audited(
    env: Env, monkeypatch: pytest.MonkeyPatch
) -> None:
    env.team("Alpha", "NL")
    person(env, "Mark Member", "member", team="Alpha", email="mark@wrong.example")
    person(env, "Olga Obs", "observer", callsign="OLGA")
    c, h = env.client, env.admin()
    r = c.patch(
        "/api/v1/admin/accounts/mark@wrong.example", json={"login": "mark@alpha.example"}, headers=h
    )
    assert r.status_code == 200 and r.json["login"] == "mark@alpha.example"
    assert sign_in(env, "mark@alpha.example", "portal")[1].status_code == 302  # same password
    # The old login is free at once.
    assert accounts.add(env.ctx, "Other", "observer", TEST, email="mark@wrong.example")
    r = c.patch("/api/v1/admin/accounts/mark@alpha.example", json={"login": "olga"}, headers=h)
    assert r.status_code == 409
    assert c.patch("/api/v1/admin/accounts/olga", json={}, headers=h).status_code == 400
    r = c.patch("/api/v1/admin/accounts/olga", json={"name": "Olga Observer"}, headers=h)
    assert r.status_code == 200 and r.json["name"] == "Olga Observer"
    olga, _ = sign_in(env, "olga", "console")
    assert olga.get("/console/").status_code == 200
    r = c.delete("/api/v1/admin/accounts/olga", headers=h)
    assert r.status_code == 200 and r.json["login"] == "olga"
    gone = olga.get("/console/")
    assert gone.status_code == 302 and "/console/login" in gone.headers["Location"]
    assert c.delete("/api/v1/admin/accounts/olga", headers=h).status_code == 404
    assert (
        c.delete(
            "/api/v1/admin/accounts/mark@alpha.example", headers=env.team("Bravo")[1]
        ).status_code
        == 403
    )
    # The command line, on the same range.
    monkeypatch.setenv("RANGE_DATABASE_URL", env.ctx.settings.database_url)
    monkeypatch.setenv("RANGE_DATA_DIR", str(env.ctx.settings.data_dir))
    code, out = run("accounts", "rename", "mark@alpha.example", "--name", "Mark M")
    assert code == 0 and "is now mark@alpha.example (Mark M)" in out
    code, out = run("accounts", "remove", "mark@alpha.example", "--yes")
    assert code == 0 and "removed mark@alpha.example" in out
    code, out = run("accounts", "remove", "nobody", "--yes")
    assert code == 1 and "account 'nobody' not found" in out
    with env.ctx.store.read() as s:
        actions = [a.action for a in s.query(AuditLog).order_by(AuditLog.id)]
    assert actions.count("account.rename") == 3 and actions.count("account.remove") == 2
