"""Driving the pages as a browser would, without one: CSRF tokens from forms, logins, a person's
account from invite to session."""

from __future__ import annotations

import re

from flask.testing import FlaskClient

from tests.support.env import ADMIN, Env

CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf(client: FlaskClient, path: str) -> str:
    page = client.get(path)
    assert page.status_code == 200, (path, page.status_code)
    m = CSRF.search(page.get_data(as_text=True))
    assert m, f"no CSRF token on {path}"
    return m.group(1)


def login(env: Env, token: str, client: FlaskClient | None = None) -> FlaskClient:
    c = client or env.app.test_client()
    r = c.post("/portal/login", data={"token": token, "csrf_token": csrf(c, "/portal/login")})
    assert r.status_code == 302, r.get_data(as_text=True)
    return c


def console(env: Env) -> FlaskClient:
    c = env.app.test_client()
    r = c.post("/console/login", data={"token": ADMIN, "csrf_token": csrf(c, "/console/login")})
    assert r.status_code == 302
    return c


def token_of(headers: dict[str, str]) -> str:
    return headers["Authorization"].split()[1]


def post(c: FlaskClient, page: str, action: str, data: dict[str, str]):
    return c.post(action, data={**data, "csrf_token": csrf(c, page)}, follow_redirects=True)
