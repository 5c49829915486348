"""Behind a reverse proxy (nginx with infra/deploy's site, TLS), with ``RANGE_PROXY_HOPS=1``,
both web servers see what the proxy forwards: the client's address (attempts are recorded
from it, and each address has its own sign-in budget) and its scheme (Secure cookies, HSTS).
The client connects from 127.0.0.5 or 127.0.0.6 (loopback addresses of its own), the proxy
from 127.0.0.1: an address the app reports can only have come through X-Forwarded-For."""

from __future__ import annotations

import http.client
import json
import re
import urllib.parse
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.nginx_tier import Nginx
from tests.support.servers import Server, range_env  # noqa: F401  (a fixture used here)


class Client:
    """HTTPS to the proxy from one loopback address, with a cookie jar."""

    def __init__(self, proxy: Nginx, source: str) -> None:
        self.proxy, self.source, self.cookies = proxy, source, {}

    def call(self, method: str, path: str, body: bytes | None = None, headers=None):
        conn = http.client.HTTPSConnection(
            "localhost", self.proxy.https, context=self.proxy.ssl, source_address=(self.source, 0)
        )
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        conn.request(method, path, body=body, headers=sent)
        r = conn.getresponse()
        data = r.read()
        for cookie in r.headers.get_all("Set-Cookie") or []:
            name, value = cookie.split(";", 1)[0].split("=", 1)
            self.cookies[name] = value
        conn.close()
        return r.status, data, r.headers

    def login(self, token: str) -> int:
        _, page, _ = self.call("GET", "/portal/login")
        csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        form = urllib.parse.urlencode({"token": token, "csrf_token": csrf}).encode()
        # Over HTTPS, Flask-WTF also wants the Referer of the same site, as a browser sends it.
        sent = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Referer": f"https://localhost:{self.proxy.https}/portal/login",
        }
        return self.call("POST", "/portal/login", form, sent)[0]


@pytest.fixture(params=["gunicorn", "serve"])
def behind(
    request: pytest.FixtureRequest,
    range_env: dict[str, str],  # noqa: F811
    tmp_path: Path,
) -> Iterator[tuple[Nginx, dict[str, str]]]:
    env = range_env | {"RANGE_PROXY_HOPS": "1"}
    # One gunicorn worker: the sign-in budget is kept per process.
    extra = ("-w", "1") if request.param == "gunicorn" else ()
    web = Server(env, tmp_path, *extra, kind=request.param)
    proxy = Nginx(tmp_path, f"127.0.0.1:{web.port}")
    try:
        yield proxy, env
    finally:
        proxy.stop()
        web.stop()


def test_behind_a_proxy_the_client_s_address_and_scheme_count(
    behind: tuple[Nginx, dict[str, str]],
) -> None:
    proxy, env = behind
    five, six = Client(proxy, "127.0.0.5"), Client(proxy, "127.0.0.6")
    status, _, headers = five.call("GET", "/portal/login")
    assert status == 200
    assert "max-age=" in (headers.get("Strict-Transport-Security") or "")
    cookie = next(c for c in headers.get_all("Set-Cookie") if c.startswith("session="))
    assert "Secure" in cookie
    # An attempt is recorded from the client's address, not the proxy's.
    bearer = {"Authorization": f"Bearer {env['token_a']}", "Content-Type": "application/json"}
    status, _, _ = five.call("POST", "/api/v1/challenges/c0/attempts", b'{"flag": "no"}', bearer)
    assert status == 200
    admin = {"Authorization": f"Bearer {env['RANGE_ADMIN_TOKEN']}"}
    _, body, _ = five.call("GET", "/api/v1/admin/attempts", headers=admin)
    assert [a["source_ip"] for a in json.loads(body)] == ["127.0.0.5"]
    # Each address has its own sign-in budget: ten wrong tokens from .5 slow .5 down, not .6.
    wrong = "x" * 43
    assert [five.login(wrong) for _ in range(10)] == [401] * 10
    assert five.login(wrong) == 429
    assert six.login(wrong) == 401
    assert six.login(env["token_b"]) == 302
