"""The documentation site as the range serves it at /docs/ (what `mkdocs build` made; infra/test.sh
builds it before the tests): public pages in both languages, the API reference, a CSP that allows
the site's inline scripts by hash only, and nothing outside the site. Both databases."""

from __future__ import annotations

import base64
import hashlib
import re

import pytest

from range_control.web.pages.docs import SITE
from tests.support.env import Env


@pytest.fixture(autouse=True)
def _built() -> None:
    if not (SITE / "index.html").is_file():
        pytest.fail(f"{SITE} is not built: infra/test.sh (or infra/setup.sh) builds it")


def test_the_guides_are_served_in_both_languages_without_signing_in(env: Env) -> None:
    c = env.app.test_client()
    r = c.get("/docs/")
    assert r.status_code == 200 and r.mimetype == "text/html"
    assert "organiser/" in r.get_data(as_text=True)
    team = c.get("/docs/team/").get_data(as_text=True)
    assert "Team guide" in team and "/portal/access" in team
    fr = c.get("/docs/fr/team/").get_data(as_text=True)
    assert "Guide des équipes" in fr and "Soumettre un drapeau" in fr
    api = c.get("/docs/reference/api-operations/").get_data(as_text=True)
    assert "/api/v1/challenges/" in api and "attempts" in api
    # A directory without its slash gets it (its relative links need it).
    r = c.get("/docs/team")
    assert r.status_code == 301 and r.headers["Location"].endswith("/docs/team/")
    assert c.get("/docs").status_code == 301
    assert c.get("/docs/assets/stylesheets/").status_code == 404  # no listing


def test_the_csp_allows_the_site_s_inline_scripts_by_hash_only(env: Env) -> None:
    c = env.app.test_client()
    for path in ("/docs/", "/docs/fr/team/", "/docs/reference/cli/"):
        r = c.get(path)
        policy = r.headers["Content-Security-Policy"]
        script_src = re.search(r"script-src ([^;]*)", policy).group(1)  # type: ignore[union-attr]
        assert "unsafe" not in policy and "*" not in script_src
        html = r.get_data()
        inline = re.findall(rb"<script>(.*?)</script>", html, re.S)
        assert inline, "the site's pages carry inline scripts"
        for body in inline:
            digest = base64.b64encode(hashlib.sha256(body).digest()).decode()
            assert f"'sha256-{digest}'" in script_src
    # Not a page: no policy of a page's.
    css = c.get("/docs/assets/stylesheets/" + _first(SITE / "assets" / "stylesheets", ".css"))
    assert css.status_code == 200 and "sha256" not in css.headers.get("Content-Security-Policy", "")


def _first(directory, suffix: str) -> str:
    return next(p.name for p in sorted(directory.iterdir()) if p.suffix == suffix)


@pytest.mark.parametrize(
    "path",
    [
        "/docs/../range.db",
        "/docs/%2e%2e/secrets.json",
        "/docs/..%2f..%2fpyproject.toml",
        "/docs/no-such-page/",
        "/docs/index.md",
        "/docs/%00",
    ],
)
def test_nothing_outside_the_site(env: Env, path: str) -> None:
    r = env.app.test_client().get(path)
    assert r.status_code in (404, 400), (path, r.status_code)
