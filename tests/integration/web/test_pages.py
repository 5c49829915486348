"""The web pages through Flask's test client, CSRF on: security and content. Both databases.
The browser tests (tests/browser/test_pages.py) drive the same pages in Chromium."""

from __future__ import annotations

import re

import pytest

from range_control.services.environments import instances
from range_control.services.environments.desired import desired_state
from range_control.services.event import announcements, controls, event, scenario
from range_control.services.people import teams
from tests.support.env import TEST, Env
from tests.support.web import CSRF, console, csrf, login, post, token_of


def test_forms_need_the_csrf_token(env: Env) -> None:
    _, h = env.team()
    env.challenge("a")
    env.start()
    c = env.app.test_client()
    r = c.post("/portal/login", data={"token": token_of(h)})
    assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True)
    assert r.mimetype == "text/html"  # pages get pages, the API keeps JSON
    c = login(env, token_of(h))
    r = c.post("/portal/challenges/a/attempt", data={"flag": "ICE{a}"})
    assert r.status_code == 400
    assert env.client.get("/api/v1/challenges/a", headers=h).json["solved_by_me"] is False
    r = post(c, "/portal/challenges/a", "/portal/challenges/a/attempt", {"flag": "ICE{a}"})
    assert "Correct! +100 points." in r.get_data(as_text=True)
    # The JSON API authenticates by bearer token, not cookies: no CSRF token there.
    assert env.attempt(h, "a", "ICE{a}").json["status"] == "already_solved"


def test_pages_have_a_strict_csp_and_no_inline_script(env: Env) -> None:
    _, h = env.team()
    env.challenge("a")
    env.start()
    c = login(env, token_of(h))
    for path in (
        "/",
        "/board",
        "/announcements",
        "/portal/",
        "/portal/challenges/a",
        "/portal/attempts",
    ):
        r = c.get(path)
        assert r.status_code == 200, path
        csp = r.headers["Content-Security-Policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp
        assert r.headers["X-Frame-Options"] == "DENY"
        body = r.get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)", body), path
        assert not re.search(r"\son[a-z]+=", body), path  # no inline event handlers either
        assert 'style="' not in body, path


def test_session_cookie_flags_and_logout(env: Env) -> None:
    _, h = env.team()
    c = env.app.test_client()
    r = c.post("/portal/login", data={"token": token_of(h), "csrf_token": csrf(c, "/portal/login")})
    cookie = r.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Secure" not in cookie
    tls = env.app.test_client()
    page = tls.get("/portal/login", base_url="https://range.example")
    token = CSRF.search(page.get_data(as_text=True)).group(1)
    form = {"token": token_of(h), "csrf_token": token}
    r = tls.post("/portal/login", data=form, base_url="https://range.example")
    assert r.status_code == 400  # over TLS the CSRF check also wants a same-origin Referer
    r = tls.post(
        "/portal/login",
        data=form,
        base_url="https://range.example",
        headers={"Referer": "https://range.example/portal/login"},
    )
    assert r.status_code == 302 and "Secure" in r.headers["Set-Cookie"]
    assert "Strict-Transport-Security" in r.headers
    assert c.get("/portal/").status_code == 200
    # The JSON API never reads or writes the session, even for a browser that holds one.
    for r in (c.get("/api/v1/scoreboard"), c.get("/api/v1/challenges", headers=h)):
        assert r.status_code == 200 and "Set-Cookie" not in r.headers
        assert "Cookie" not in r.headers.get("Vary", "")
    r = post(c, "/portal/", "/portal/logout", {})
    assert c.get("/portal/").status_code == 302


def test_rotating_the_token_or_disabling_the_team_ends_its_sessions(env: Env) -> None:
    tid, h = env.team()
    c = login(env, token_of(h))
    assert c.get("/portal/").status_code == 200
    teams.rotate_token(env.ctx, tid, TEST)
    r = c.get("/portal/")
    assert r.status_code == 302 and "/portal/login" in r.headers["Location"]
    nt = teams.rotate_token(env.ctx, tid, TEST)
    c = login(env, nt.token)
    teams.set_disabled(env.ctx, tid, True, TEST)
    assert c.get("/portal/").status_code == 302


def test_login_attempts_are_rate_limited(env: Env) -> None:
    c = env.app.test_client()
    codes = []
    for _ in range(12):
        r = c.post(
            "/portal/login", data={"token": "rct_wrong", "csrf_token": csrf(c, "/portal/login")}
        )
        codes.append(r.status_code)
    assert codes[:10] == [401] * 10 and codes[10:] == [429, 429]
    assert "try again in" in r.get_data(as_text=True)
    # The organiser login has a window of its own.
    r = c.post("/console/login", data={"token": "x", "csrf_token": csrf(c, "/console/login")})
    assert r.status_code == 401


def test_console_refuses_team_sessions_and_anonymous_users(env: Env) -> None:
    _, h = env.team()
    anon = env.app.test_client()
    r = anon.get("/console/")
    assert r.status_code == 302 and r.headers["Location"].endswith("/console/login")
    team = login(env, token_of(h))
    for path in ("/console/", "/console/attempts", "/console/attempts/feed"):
        r = team.get(path)
        assert r.status_code == 403 and "refuses team sessions" in r.get_data(as_text=True)
    r = team.post("/console/event/start", data={"csrf_token": csrf(team, "/portal/")})
    assert r.status_code == 403
    wrong = anon.post(
        "/console/login", data={"token": token_of(h), "csrf_token": csrf(anon, "/console/login")}
    )
    assert wrong.status_code == 401


def test_no_team_sees_another_teams_hints_attempts_or_connection_info(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    b_id, b = env.team("Bravo", "NO")
    env.challenge("h", hints=[{"content": "the secret hint", "cost": 10}])
    live = {"services": [{"name": "box", "image": "range/base:bookworm"}]}
    env.challenge("web", environment=live)
    env.start()
    ca, cb = login(env, token_of(a)), login(env, token_of(b))
    hint = env.client.get("/api/v1/challenges/h", headers=a).json["hints"][0]["id"]
    r = post(ca, "/portal/challenges/h", f"/portal/challenges/h/hints/{hint}", {"confirm": "yes"})
    assert "the secret hint" in r.get_data(as_text=True)
    assert "the secret hint" not in cb.get("/portal/challenges/h").get_data(as_text=True)
    post(ca, "/portal/challenges/h", "/portal/challenges/h/attempt", {"flag": "alpha-guess"})
    assert "alpha-guess" in ca.get("/portal/attempts").get_data(as_text=True)
    assert "alpha-guess" not in cb.get("/portal/attempts").get_data(as_text=True)
    # Both teams' instances, with their jumpbox ports allocated (no engine needed for that).
    instances.up(env.ctx, instances.Selection(challenge="web"), TEST)
    desired_state(env.ctx)
    pw = {t: instances.team_jumpbox(env.ctx, t).password for t in (a_id, b_id)}
    page_a = ca.get("/portal/challenges/web").get_data(as_text=True)
    page_b = cb.get("/portal/challenges/web").get_data(as_text=True)
    assert pw[a_id] in page_a and pw[b_id] not in page_a
    assert pw[b_id] in page_b and pw[a_id] not in page_b
    # No URL names a team: the instance routes act for the session's team only.
    assert cb.get(f"/portal/challenges/web/instance?team={a_id}").status_code == 405


def test_attachments_only_listed_files_no_traversal(env: Env) -> None:
    _, h = env.team()
    d = env.tmp / "pack" / "att"
    (d / "files").mkdir(parents=True)
    (d / "files" / "intercept.b64").write_text("AAAA")
    (d / "secret.txt").write_text("not for teams")
    env.challenge("att", files=["files/intercept.b64"])
    env.start()
    c = login(env, token_of(h))
    page = c.get("/portal/challenges/att").get_data(as_text=True)
    assert "/portal/challenges/att/files/intercept.b64" in page
    r = c.get("/portal/challenges/att/files/intercept.b64")
    assert (
        r.status_code == 200
        and r.data == b"AAAA"
        and "attachment" in r.headers["Content-Disposition"]
    )
    for name in ("secret.txt", "..%2fsecret.txt", "%2e%2e%2fsecret.txt", "challenge.yml"):
        assert c.get(f"/portal/challenges/att/files/{name}").status_code == 404, name
    assert (
        env.app.test_client().get("/portal/challenges/att/files/intercept.b64").status_code == 302
    )


def test_descriptions_are_sanitised_markdown(env: Env) -> None:
    _, h = env.team()
    env.challenge(
        "md",
        description=(
            "**bold** <script>alert(1)</script> <img src=x onerror=alert(2)> "
            "[ok](https://nato.int) [bad](javascript:alert(3))"
        ),
    )
    env.start()
    body = login(env, token_of(h)).get("/portal/challenges/md").get_data(as_text=True)
    desc = body.split('class="description">', 1)[1].split("</div>", 1)[0]
    assert "<strong>bold</strong>" in desc
    assert "<script" not in desc and "<img" not in desc  # raw HTML shows as text, inert
    assert "&lt;script&gt;" in desc and "&lt;img src=x onerror=alert(2)&gt;" in desc
    assert 'href="https://nato.int"' in desc and 'href="javascript:' not in desc


def test_scoreboard_ranking_ledger_and_etag(env: Env) -> None:
    a_id, a = env.team("Alpha", "NL")
    env.team("Bravo", "NO")
    env.challenge("a")
    env.start()
    env.attempt(a, "a", "ICE{a}")
    page = env.client.get("/").get_data(as_text=True)
    assert re.search(
        r"Alpha</a></th>\s*<td><span class=\"flag\" aria-hidden=\"true\">"
        r"<img class=\"flag\" src=\"/assets/flags/nl.svg\" alt=\"\" width=\"20\" height=\"15\">"
        r"</span> "
        r"<abbr class=\"cc\">NL</abbr></td>\s*"
        r"<td class=\"num score\">100</td>",
        page,
    )
    assert 'class="fb"' in page and "<svg" in page and "ICE test" not in page
    ledger = env.client.get(f"/teams/{a_id}").get_data(as_text=True)
    assert "solve" in ledger and "100" in ledger
    r = env.client.get("/board")
    etag = r.headers["ETag"]
    assert env.client.get("/board", headers={"If-None-Match": etag}).status_code == 304
    env.attempt(a, "a", "wrong")  # a wrong flag changes nothing shown
    assert env.client.get("/board", headers={"If-None-Match": etag}).status_code == 304
    env.challenge("b")
    env.attempt(a, "b", "ICE{b}")
    r = env.client.get("/board", headers={"If-None-Match": etag})
    assert r.status_code == 200
    # Anything else the page shows changes it too: announcements, a pause, the freeze.
    for change, shown in (
        (
            lambda: announcements.post(env.ctx, "Convoy 7 rerouted", "", TEST),
            "Convoy 7 rerouted",
        ),
        (lambda: controls.pause(env.ctx, TEST), '<span class="pill">paused</span>'),
        (lambda: event.configure(env.ctx, TEST, freeze_at=env.clock.now()), "Scoreboard frozen"),
    ):
        etag = r.headers["ETag"]
        change()
        r = env.client.get("/board", headers={"If-None-Match": etag})
        assert r.status_code == 200 and shown in r.get_data(as_text=True), shown
    assert env.client.get("/teams/999").status_code == 404


@pytest.mark.parametrize("action", ["start", "pause"])
def test_console_event_control(env: Env, action: str) -> None:
    env.challenge("a")
    c = console(env)
    if action == "pause":
        env.start()
    r = post(c, "/console/", f"/console/event/{action}", {})
    text = r.get_data(as_text=True)
    assert r.status_code == 200
    assert ("now running" if action == "start" else "now paused") in text
    r = post(c, "/console/", "/console/event/extend", {"minutes": "abc"})
    assert "minutes: a whole number" in r.get_data(as_text=True)


def test_portal_groups_challenges_by_phase_and_category(env: Env) -> None:
    _, h = env.team()
    env.challenge("recon", category="osint")
    env.challenge("intercept", category="crypto")
    env.challenge("free", category="misc")  # in no phase
    spec = {
        "event": "ICE",
        "phases": [
            {
                "id": "one",
                "title": "Detection",
                "duration": "1h",
                "challenges": ["recon", "intercept"],
            },
            {"id": "two", "title": "Recovery", "duration": "1h", "challenges": []},
        ],
    }
    scenario.load(env.ctx, scenario.parse(spec), TEST)
    controls.start(env.ctx, TEST)
    page = login(env, token_of(h)).get("/portal/").get_data(as_text=True)
    order = [m.group(1) for m in re.finditer(r"<h[23]>([^<]+)</h[23]>", page)]
    assert order == ["Detection", "crypto", "osint", "Open challenges", "misc"], order


def test_a_portal_challenge_page_is_one_read_after_its_session(env: Env) -> None:
    """The page is composed in one read transaction (the challenge, its instance, its task, the
    banner's timeline); the session's own lookup is the only other one."""
    env.challenge("web")
    _, h = env.team("Alpha", "NL")
    env.start()
    c = login(env, token_of(h))
    assert c.get("/portal/challenges/web").status_code == 200  # the board is cached now
    store = env.ctx.store
    opened: list[str] = []
    for name in ("read", "read_conn"):
        original = getattr(store, name)

        def counted(*a: object, _name: str = name, _original=original, **kw: object):
            opened.append(_name)
            return _original(*a, **kw)

        setattr(store, name, counted)
    try:
        r = c.get("/portal/challenges/web")
    finally:
        for name in ("read", "read_conn"):
            delattr(store, name)
    assert r.status_code == 200 and "Web" in r.get_data(as_text=True)
    assert len(opened) == 2, opened
