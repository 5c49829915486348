"""Every route of the app and a caller of each kind: what the role matrix and the white
cell's blind rule call (tests/integration/web/test_role_matrix.py,
tests/integration/whitecell/test_blind.py)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from flask.testing import FlaskClient

from range_control.core import permissions
from range_control.services.people import accounts, api_tokens
from tests.support.env import ADMIN, TEST, Env
from tests.support.people import PASSWORD, accept
from tests.support.web import csrf

CALLERS = tuple(permissions.caller_name(h) for h in permissions.CALLERS)
# Not in the matrix, each with its own rule: files, the metrics (RANGE_METRICS_TOKEN or
# loopback), the OpenAPI document's own viewer.
OUTSIDE = re.compile(r"^(/static/|/assets/|/metrics$|/api/v1/docs/)")
SIGN_IN = (
    "sign-in and out"  # anyone may try to log in, or out (tested in integration/web/test_pages.py)
)


def route_name(method: str, rule: str) -> str:
    """``POST /console/teams/<team_id>/<action>``: the rule without converters."""
    return f"{method} " + re.sub(r"<(?:[^>:]+:)?(\w+)>", r"<\1>", rule)


def app_routes(env: Env) -> dict[str, str]:
    """Every route of the app under the matrix: name -> the Flask rule."""
    out = {}
    for rule in env.app.url_map.iter_rules():
        if OUTSIDE.match(rule.rule):
            continue
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out[route_name(method, rule.rule)] = rule.rule
    return out


def declared(env: Env) -> dict[str, str]:
    """Each route's rule, as the route itself declares it (``view.rule``): route -> rule name.
    A route that declares nothing fails here."""
    out = {}
    for rule in env.app.url_map.iter_rules():
        if OUTSIDE.match(rule.rule):
            continue
        view = env.app.view_functions[rule.endpoint]
        assert hasattr(view, "rule"), f"{rule.rule} declares no permission"
        place, need = view.rule
        name = SIGN_IN if need is permissions.Permission.SIGN_IN else permissions.RULES[place, need]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            out[route_name(method, rule.rule)] = name
    return out


def sample_path(rule: str, slug: str) -> str:
    """The rule with values that name nothing (no side effect an allowed caller could cause
    beyond the route's own): ids that do not exist, a challenge that is not there."""
    values = {
        "slug": slug,
        "ref": "no-such-team",
        "login": "nobody@example.org",
        "action": "disable",
        "name": "none.txt",
        "token": "x" * 43,
        "code": "en",
        "filename": "app.js",
    }
    return re.sub(r"<(?:[^>:]+:)?(\w+)>", lambda m: values.get(m.group(1), "2000000000"), rule)


@dataclass
class Caller:
    client: FlaskClient
    api: dict[str, str] = field(default_factory=dict)  # what it sends on the API


def person_client(env: Env, name: str, role: str, place: str, **kw: object) -> FlaskClient:
    invited = accounts.add(env.ctx, name, role, TEST, **kw)
    assert accept(env, invited).status_code == 302
    c = env.app.test_client()
    r = c.post(
        f"/{place}/login",
        data={
            "login": invited.account.login,
            "password": PASSWORD,
            "csrf_token": csrf(c, f"/{place}/login"),
        },
    )
    assert r.status_code == 302, (name, r.status_code)
    return c


def token_client(env: Env, place: str, form: dict[str, str]) -> FlaskClient:
    c = env.app.test_client()
    form = {**form, "csrf_token": csrf(c, f"/{place}/login")}
    assert c.post(f"/{place}/login", data=form).status_code == 302
    return c


def callers(env: Env) -> dict[str, Caller]:
    nt_id, team = env.team("Alpha", "NL")
    token = team["Authorization"].split()[1]
    read = api_tokens.create(env.ctx, "matrix-read", "read", TEST).token
    grade = api_tokens.create(env.ctx, "matrix-grade", "grade", TEST).token
    full = api_tokens.create(env.ctx, "matrix-full", "full", TEST).token
    red = api_tokens.create(env.ctx, "matrix-red", "red-cell", TEST).token
    return {
        "anonymous": Caller(env.app.test_client()),
        "team token": Caller(token_client(env, "portal", {"token": token}), team),
        "member": Caller(
            person_client(env, "Mia", "member", "portal", team="Alpha", callsign="mia")
        ),
        "captain": Caller(
            person_client(env, "Cai", "captain", "portal", team="Alpha", callsign="cai")
        ),
        "observer": Caller(person_client(env, "Obi", "observer", "console", callsign="obi")),
        "grader": Caller(person_client(env, "Gus", "grader", "console", callsign="gus")),
        "organiser": Caller(person_client(env, "Ola", "organiser", "console", callsign="ola")),
        "red": Caller(person_client(env, "Rex", "red", "console", callsign="rex")),
        "read API token": Caller(env.app.test_client(), {"Authorization": f"Bearer {read}"}),
        "grade API token": Caller(env.app.test_client(), {"Authorization": f"Bearer {grade}"}),
        "full API token": Caller(env.app.test_client(), {"Authorization": f"Bearer {full}"}),
        "red-cell API token": Caller(env.app.test_client(), {"Authorization": f"Bearer {red}"}),
        "organiser token": Caller(
            token_client(env, "console", {"token": ADMIN}), {"Authorization": f"Bearer {ADMIN}"}
        ),
    }
