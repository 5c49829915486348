"""The role matrix: every route of the OpenAPI document and every page route, called
as each kind of caller, answers as the reference's table says (docs/reference/roles.md). The
routes come from the app, the rules from that page: a new route without a rule there, or one gone,
fails the test. Plus: every page form refuses a POST without its CSRF token, and a person's
cookie opens nothing on the API (bearer tokens only). SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from range_control.core import permissions
from tests.support import REPO
from tests.support.env import ADMIN, Env, make_env
from tests.support.routes import (
    CALLERS,
    SIGN_IN,
    app_routes,
    callers,
    declared,
    person_client,
    route_name,
    sample_path,
    token_client,
)

ROLES_DOC = REPO / "docs" / "reference" / "roles.md"


def table() -> dict[str, dict[str, bool]]:
    """rule -> caller -> allowed: the permission table itself (``core.permissions``)."""
    return {
        name: {
            permissions.caller_name(h): permissions.allows(h, need, place)
            for h in permissions.CALLERS
        }
        for (place, need), name in permissions.RULES.items()
    }


def roles_section(routes: dict[str, str]) -> str:
    """What the reference's role matrix shows: the table, then the routes by rule."""
    lines = [permissions.matrix(), ""]
    by_rule: dict[str, list[str]] = {}
    for route, rule in routes.items():
        by_rule.setdefault(rule, []).append(route)
    order = [*permissions.RULES.values()]
    order.insert(1, SIGN_IN)
    for rule in order:
        if rule in by_rule:
            names = ", ".join(f"`{r}`" for r in sorted(by_rule[rule]))
            lines.append(f"- **{rule}**: {names}")
    return "\n".join(lines)


def refused(path: str, r) -> bool:
    """An answer that refuses the caller (not one about the sample values)."""
    if path.startswith("/api/"):
        if r.status_code == 401:
            return True
        return r.status_code == 403 and r.is_json and r.json["error"]["code"] == "forbidden"
    if r.status_code in (401, 403):
        return True
    return r.status_code == 302 and "/login" in r.headers.get("Location", "")


@pytest.fixture
def matrix_env(database_url: str, tmp_path: Path):
    e = make_env(database_url, tmp_path, environments="off")
    yield e
    e.ctx.store.dispose()


def test_every_route_answers_each_caller_as_the_matrix_says(matrix_env: Env) -> None:
    env = matrix_env
    rules, listed = table(), declared(env)
    routes = app_routes(env)
    assert sorted(set(routes) - set(listed)) == [], "routes that declare no rule"
    assert set(listed.values()) <= set(rules) | {SIGN_IN}, set(listed.values()) - set(rules)
    # OpenAPI: every documented operation is in the matrix (the app's routes hold them all).
    doc = env.client.get("/api/v1/openapi.json").json
    documented = {
        route_name(m.upper(), re.sub(r"\{(\w+)\}", r"<\1>", p))
        for p, ops in doc["paths"].items()
        for m in ops
    }
    assert documented <= set(routes), documented - set(routes)
    assert len(documented) >= 50

    env.challenge("matrix-one")
    who = callers(env)
    checked = 0
    wrong = []
    for name in sorted(routes):
        rule_name = listed[name]
        if rule_name == SIGN_IN:
            continue
        method, path = name.split(" ", 1)
        url = sample_path(routes[name], "no-such-challenge")
        for caller in CALLERS:
            c = who[caller]
            headers = c.api if url.startswith("/api/") else {}
            kwargs = {"json": {}} if url.startswith("/api/") and method != "GET" else {}
            if not url.startswith("/api/") and method == "POST":
                env.app.config["WTF_CSRF_ENABLED"] = False
            held = c.client.get_cookie("session")
            try:
                r = c.client.open(url, method=method, headers=headers, **kwargs)
            finally:
                env.app.config["WTF_CSRF_ENABLED"] = True
                # Each call on its own: a refused page may clear the browser's session (a
                # console person on the portal), which is right but not the next call's case.
                if held is not None:
                    c.client.set_cookie("session", held.value)
            # 503: live environments are off in this range (no engine is called here).
            assert r.status_code < 500 or r.status_code == 503, (name, caller, r.status_code)
            allowed = rules[rule_name][caller]
            if refused(url, r) == allowed:
                wrong.append(
                    (
                        name,
                        caller,
                        "should be " + ("allowed" if allowed else "refused"),
                        r.status_code,
                        r.headers.get("Location"),
                    )
                )
            checked += 1
    assert wrong == [], "\n".join(map(str, wrong))
    assert checked >= 80 * len(CALLERS)


def test_every_page_form_refuses_a_post_without_its_csrf_token(matrix_env: Env) -> None:
    env = matrix_env
    listed = declared(env)
    posts = [
        n
        for n, r in app_routes(env).items()
        if n.startswith("POST ") and not n.startswith("POST /api/")
    ]
    assert len(posts) >= 20
    c = token_client(env, "console", {"token": ADMIN})  # a caller every console form allows
    for name in posts:
        url = sample_path(app_routes(env)[name], "no-such-challenge")
        r = c.post(url, data={"action": "pause"})
        assert r.status_code == 400 and "CSRF" in r.get_data(as_text=True), (name, r.status_code)
    assert listed


def test_people_s_cookies_open_nothing_on_the_api(matrix_env: Env) -> None:
    """The API takes bearer tokens only (it is exempt from CSRF, so a cookie must not count):
    an organiser's console session calls an organiser route and is refused."""
    env = matrix_env
    c = person_client(env, "Ola", "organiser", "console", callsign="ola")
    assert c.get("/console/").status_code == 200
    assert c.get("/api/v1/admin/teams").status_code == 401
    assert c.post("/api/v1/admin/event/start").status_code == 401


def test_the_docs_show_the_permission_table_and_every_route_s_rule(matrix_env: Env) -> None:
    """The reference's matrix (``docs/reference/roles.md``) is the table's, and lists every
    route under the rule it declares: a route or a rule changed without its line there fails
    here (the expected text is in the message, ready to paste)."""
    section = ROLES_DOC.read_text()
    expected = roles_section(declared(matrix_env))
    assert expected in section, "docs/reference/roles.md differs from the code:\n\n" + expected
