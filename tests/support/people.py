"""People for a test: an account added, its invite accepted with a password, a session opened."""

from __future__ import annotations

from range_control.services.people import accounts
from tests.support.env import TEST, Env
from tests.support.web import csrf

PASSWORD = "correct horse battery staple"


def accept(env: Env, invited, password: str = PASSWORD):
    """Open an invite link (an invite, or the link's token) and set the password."""
    c = env.app.test_client()
    path = "/invite/" + (invited if isinstance(invited, str) else invited.token)
    return c.post(
        path, data={"password": password, "confirm": password, "csrf_token": csrf(c, path)}
    )


def sign_in(env: Env, login: str, place: str, password: str = PASSWORD):
    c = env.app.test_client()
    r = c.post(
        f"/{place}/login",
        data={"login": login, "password": password, "csrf_token": csrf(c, f"/{place}/login")},
    )
    return c, r


def person(env: Env, name: str, role: str, **kw):
    invited = accounts.add(env.ctx, name, role, TEST, **kw)
    assert accept(env, invited).status_code == 302
    return invited.account
