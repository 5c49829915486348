"""Web pages over the services: the public scoreboard, the team portal, the organiser console.

Server-rendered (Jinja), readable with JavaScript off; one small script of our own
(``static/app.js``) makes the board live (conditional polling with ETag), runs countdowns and
asks for confirmation. No CDN, no inline script: the Content-Security-Policy allows only
``'self'``. Every form carries a CSRF token (Flask-WTF); sessions are HttpOnly, SameSite=Lax and
Secure behind TLS; login attempts are rate-limited per client address (``limits``).

Like ``range_control.web.api``, this is an interface layer: it parses, calls one service, renders.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_wtf.csrf import CSRFProtect

from range_control.web import filters, i18n, sessions
from range_control.web.pages import console, defence, docs, portal, public, sso  # noqa: F401
from range_control.web.pages.common import may

CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; "
    "frame-ancestors 'none'"
)


def init_app(app: Flask) -> None:
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # the session's lifetime bounds it
    csrf = CSRFProtect(app)
    csrf.exempt(app.blueprints["api"])  # bearer tokens, no cookies: CSRF does not apply
    for bp in (public.bp, portal.bp, console.bp, docs.bp):
        app.register_blueprint(bp)
    sso.install(app, app.extensions["range"].settings)
    filters.install(app)
    i18n.install(app)
    sessions.install(app)
    app.jinja_env.globals["may"] = may
    app.jinja_env.globals["team_guide"] = docs.team_guide
    app.before_request_funcs.setdefault(None, []).insert(0, portal.challenges.upload_limit)
    app.after_request(_security_headers)


def _security_headers(resp: Response) -> Response:
    h = resp.headers
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("Referrer-Policy", "same-origin")
    if not request.path.startswith("/api/"):
        h.setdefault("Content-Security-Policy", CSP)
        h.setdefault("X-Frame-Options", "DENY")
    if request.is_secure:
        h.setdefault("Strict-Transport-Security", "max-age=31536000")
    return resp


__all__: list[Any] = ["init_app"]
