"""Single sign-on (OpenID Connect) for people: ``/login/oidc`` sends the browser to the
organisers' identity provider, ``/login/oidc/callback`` takes it back. Authlib does the
protocol (discovery, state, nonce, PKCE S256, the ID token's signature and issuer); who the
person is here, with which role and team, is ``services.sso``'s. Configured by
``RANGE_OIDC_ISSUER``, ``RANGE_OIDC_CLIENT_ID`` and ``RANGE_OIDC_CLIENT_SECRET``; the redirect
address given to the provider is ``RANGE_PUBLIC_URL/login/oidc/callback``."""

from __future__ import annotations

import logging
from typing import Any

from flask import Blueprint, Flask, current_app, redirect, url_for
from werkzeug.wrappers import Response

from range_control.core.errors import Unauthorized
from range_control.core.settings import Settings, secret
from range_control.services.people import accounts, sessions, sso
from range_control.web.common import sign_in
from range_control.web.i18n import gettext, message
from range_control.web.pages.common import begin_session, ctx, html_error

bp = Blueprint("sso", __name__)
log = logging.getLogger("range_control.sso")
CLIENT = "range"


def install(app: Flask, settings: Settings) -> None:
    """The OIDC client, when the three settings are there; the login pages offer it then."""
    app.register_blueprint(bp)
    app.jinja_env.globals["sso"] = settings.oidc_on
    if not settings.oidc_on:
        return
    # Authlib and requests (about 8 MB of a web worker) are loaded by ranges that use them.
    from authlib.integrations.flask_client import OAuth

    oauth = OAuth(app)
    issuer = (settings.oidc_issuer or "").rstrip("/")
    oauth.register(
        CLIENT,
        client_id=settings.oidc_client_id,
        client_secret=secret(settings.oidc_client_secret),
        server_metadata_url=f"{issuer}/.well-known/openid-configuration",
        client_kwargs={
            "scope": settings.oidc_scopes,
            "code_challenge_method": "S256",
            "default_timeout": 10,
        },
    )
    app.extensions["range_oidc"] = oauth


def _client() -> Any:
    oauth = current_app.extensions.get("range_oidc")
    return None if oauth is None else oauth.create_client(CLIENT)


def _unreachable() -> Response:
    issuer = ctx().settings.oidc_issuer or ""
    log.warning("single sign-on: the identity provider at %s does not answer", issuer)
    said = gettext(
        "The identity provider (%(issuer)s) does not answer: sign in with your "
        "password, or try again later.",
        issuer=issuer,
    )
    return html_error(502, "unavailable", said)


@bp.get("/login/oidc")
@sign_in
def start() -> Response:
    import requests

    client = _client()
    if client is None:
        return html_error(404, "not_found", gettext("Single sign-on is not set up on this range."))
    callback = ctx().settings.public_url.rstrip("/") + url_for("sso.callback")
    try:
        return client.authorize_redirect(callback)
    except requests.RequestException:
        return _unreachable()


@bp.get("/login/oidc/callback")
@sign_in
def callback() -> Response:
    import requests
    from authlib.common.errors import AuthlibBaseError

    client = _client()
    if client is None:
        return html_error(404, "not_found", gettext("Single sign-on is not set up on this range."))
    try:
        token = client.authorize_access_token()
        claims = dict(token.get("userinfo") or {})
        info = client.userinfo(token=token)
        issuer = client.load_server_metadata()["issuer"]
    except AuthlibBaseError as exc:
        log.info("single sign-on refused: %s", exc.error)
        return html_error(
            401,
            "unauthorized",
            gettext(
                "Single sign-on failed (%(reason)s): start again from the login page.",
                reason=exc.description or exc.error,
            ),
        )
    except requests.RequestException:
        return _unreachable()
    if info.get("sub") != claims.get("sub"):  # OpenID Connect Core 5.3.2
        said = gettext("Single sign-on failed (the identity provider's answers disagree).")
        return html_error(401, "unauthorized", said)
    claims.update(info)
    try:
        account, credential = sso.sign_in(ctx(), issuer, claims)
        place = "console" if account.role in accounts.CONSOLE_ROLES else "portal"
        sid = sessions.open_account(ctx(), account, credential, place)
    except Unauthorized as exc:
        return html_error(403, "forbidden", message(exc))
    begin_session(sid, sessions.PERSON)
    return redirect(url_for("console.index" if place == "console" else "portal.challenges"))
