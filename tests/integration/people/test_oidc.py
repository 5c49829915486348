"""Single sign-on against a real OpenID provider the test starts: panva's
oidc-provider (OpenID Certified; npm, node from Debian) with a test client. Role and team come
from the claims; an account is made, or linked by verified e-mail, on first sign-in; a person
without a team claim, or without a role, is refused clearly and nothing is stored. SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from html import unescape
from pathlib import Path
from urllib.parse import urlsplit

import pytest
import requests
from sqlalchemy import select

from range_control.services.people import accounts
from range_control.store.models import Account, AuditLog
from tests.support import TESTS
from tests.support.env import TEST, Env, make_env

HERE = TESTS / "oidc"
PUBLIC = (
    "http://range.test"  # the range's RANGE_PUBLIC_URL: the browser, not the provider, goes there
)
SECRET = "oidc-client-secret-for-the-tests-0123456789"
PEOPLE = {
    "ana": {
        "email": "ana@pt.example",
        "email_verified": True,
        "name": "Ana Silva",
        "range_role": "member",
        "range_team": "Alpha",
    },
    "cap": {
        "email": "cap@nl.example",
        "email_verified": True,
        "name": "Cas Captain",
        "range_role": ["member", "captain"],
        "range_team": "alpha",
    },
    "olga": {
        "email": "olga@org.example",
        "email_verified": True,
        "name": "Olga Org",
        "range_role": "organiser",
    },
    "nate": {
        "email": "nate@x.example",
        "email_verified": True,
        "name": "Nate No-Team",
        "range_role": "member",
    },
    "ghost": {"email": "ghost@x.example", "email_verified": True, "name": "Ghost"},
    "lost": {"name": "Lost", "range_role": "member", "range_team": "Atlantis"},
    "spoof": {
        "email": "ana@pt.example",
        "email_verified": False,
        "name": "Not Ana",
        "range_role": "organiser",
    },
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def provider(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    node = shutil.which("node")
    if node is None or not (HERE / "node_modules" / "oidc-provider").is_dir():
        pytest.fail(
            "node and tests/oidc/node_modules are needed: run infra/setup.sh", pytrace=False
        )
    port = free_port()
    config = tmp_path_factory.mktemp("oidc") / "config.json"
    config.write_text(
        json.dumps(
            {
                "clients": [
                    {
                        "client_id": "range",
                        "client_secret": SECRET,
                        "redirect_uris": [f"{PUBLIC}/login/oidc/callback"],
                    }
                ],
                "accounts": PEOPLE,
            }
        )
    )
    proc = subprocess.Popen(
        [node, str(HERE / "provider.mjs"), str(port), str(config)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    issuer = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if requests.get(issuer + "/.well-known/openid-configuration", timeout=2).ok:
                    break
            except requests.ConnectionError:
                pass
            if proc.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"the OpenID provider did not start: {proc.stdout.read()}")
            time.sleep(0.2)
        yield issuer
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.fixture
def sso_env(database_url: str, tmp_path: Path, provider: str) -> Iterator[Env]:
    e = make_env(
        database_url,
        tmp_path,
        oidc_issuer=provider,
        oidc_client_id="range",
        oidc_client_secret=SECRET,
        public_url=PUBLIC,
        oidc_scopes="openid email profile range",
    )
    e.team("Alpha", "NL")
    yield e
    e.ctx.store.dispose()


def sign_in(env: Env, login: str):
    """A browser's round trip: the range sends it to the provider, the person types a login
    there, the provider sends it back with a code. The range's own pages through Flask's
    client (the provider never calls the range); the provider's over HTTP."""
    browser = env.app.test_client()
    r = browser.get("/login/oidc")
    assert r.status_code == 302, r.get_data(as_text=True)
    at_provider = requests.Session()
    url = r.headers["Location"]
    for _ in range(10):
        if url.startswith(PUBLIC):
            parts = urlsplit(url)
            return browser, browser.get(f"{parts.path}?{parts.query}")
        page = at_provider.get(url, allow_redirects=False, timeout=10)
        if page.is_redirect:
            url = requests.compat.urljoin(url, page.headers["Location"])
            continue
        form = re.search(r'<form[^>]*action="([^"]+)"', page.text)
        assert form, page.text[:500]
        fields = dict(
            re.findall(r'<input[^>]*type="hidden"[^>]*name="(\w+)"[^>]*value="([^"]*)"', page.text)
        )
        if 'name="login"' in page.text:
            fields.update(login=login, password="anything")
        posted = at_provider.post(
            requests.compat.urljoin(url, unescape(form.group(1))),
            data=fields,
            allow_redirects=False,
            timeout=10,
        )
        assert posted.is_redirect, posted.text[:500]
        url = requests.compat.urljoin(url, posted.headers["Location"])
    raise AssertionError("no way back to the range")


def test_people_sign_in_through_the_provider_with_role_and_team_from_claims(
    sso_env: Env,
) -> None:
    env = sso_env
    assert "Sign in with single sign-on" in env.client.get("/portal/login").get_data(as_text=True)
    # A member: made on first sign-in, in the team the claim names, in the portal.
    browser, r = sign_in(env, "ana")
    assert r.status_code == 302 and r.headers["Location"].endswith("/portal/"), r.get_data()
    assert "Alpha" in browser.get("/portal/").get_data(as_text=True)
    ana = next(a for a in accounts.list_accounts(env.ctx) if a.login == "ana@pt.example")
    assert (ana.role, ana.team, ana.name, ana.sso) == ("member", "Alpha", "Ana Silva", True)
    # Again: the same account, not a second one.
    sign_in(env, "ana")
    assert [a.login for a in accounts.list_accounts(env.ctx)].count("ana@pt.example") == 1
    # An account the organisers imported first is linked by its verified e-mail; a list of
    # roles gives the one that may do most; team names match whatever their case.
    invited = accounts.add(env.ctx, "Cas", "member", TEST, team="Alpha", email="cap@nl.example")
    _, r = sign_in(env, "cap")
    assert r.headers["Location"].endswith("/portal/")
    with env.ctx.store.read() as s:
        cap = s.get(Account, invited.account.id)
        actions = [a.action for a in s.scalars(select(AuditLog).order_by(AuditLog.id))]
        assert cap.role == "captain" and cap.oidc_subject.endswith(" cap")
    assert "account.sso_link" in actions and "account.sso_update" in actions
    # An organiser lands in the console, with no second factor asked of the range.
    browser, r = sign_in(env, "olga")
    assert r.headers["Location"].endswith("/console/")
    assert browser.get("/console/").status_code == 200
    assert browser.get("/portal/").status_code == 302  # not a team's


@pytest.mark.parametrize(
    ("login", "said"),
    [
        ("nate", "your identity provider sent 0 in its &#39;range_team&#39; claim"),
        ("ghost", "your identity provider sent no &#39;range_role&#39; claim"),
        ("lost", "the team &#39;Atlantis&#39; your identity provider names does not exist"),
    ],
)
def test_a_person_the_claims_do_not_place_is_refused_clearly(
    sso_env: Env, login: str, said: str
) -> None:
    before = len(accounts.list_accounts(sso_env.ctx))
    browser, r = sign_in(sso_env, login)
    assert r.status_code == 403 and said in r.get_data(as_text=True)
    assert len(accounts.list_accounts(sso_env.ctx)) == before  # nothing stored
    assert browser.get("/portal/").status_code == 302  # no session


def test_an_unverified_e_mail_links_nothing_and_a_forged_answer_is_refused(
    sso_env: Env,
) -> None:
    env = sso_env
    sign_in(env, "ana")
    # The same address, not verified by the provider: not Ana's account, a new one.
    sign_in(env, "spoof")
    ana = next(a for a in accounts.list_accounts(env.ctx) if a.login == "ana@pt.example")
    assert ana.role == "member" and ana.name == "Ana Silva"
    # A callback the range did not start (no state of its own): refused.
    r = env.app.test_client().get("/login/oidc/callback?code=abc&state=forged")
    assert r.status_code == 401 and "Single sign-on failed" in r.get_data(as_text=True)
    # Disabled: refused at the provider's next round trip, whatever the claims.
    accounts.set_disabled(env.ctx, "ana@pt.example", True, TEST)
    _, r = sign_in(env, "ana")
    assert r.status_code == 403 and "disabled" in r.get_data(as_text=True)


def test_without_settings_there_is_no_single_sign_on(env: Env) -> None:
    assert "single sign-on" not in env.client.get("/console/login").get_data(as_text=True)
    assert env.client.get("/login/oidc").status_code == 404
