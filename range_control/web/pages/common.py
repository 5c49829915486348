"""What every blueprint of the pages shares: the range, error pages, session keys, the login
limiter and turning a service's refusal into a message on the page."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import (
    Response,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from markupsafe import Markup

from range_control.context import Range
from range_control.core import metrics
from range_control.core.errors import ServiceError, Unauthorized
from range_control.core.languages import N_
from range_control.core.permissions import Permission, Place, allows
from range_control.services.people import accounts, sessions
from range_control.web.errors import html_error
from range_control.web.i18n import gettext, message
from range_control.web.sessions import LoginLimiter

SID = "sid"  # the only session key: the secret of a server-side session (services.sessions)
KIND = "kind"  # "team", "organiser" or "person": which login the browser holds


def ctx() -> Range:
    return current_app.extensions["range"]


def login_limiter() -> LoginLimiter:
    return current_app.extensions["login_limiter"]


def too_many(template: str, wait: int, **context: object) -> tuple[str, int, dict[str, str]]:
    """The login form again, refused for ``wait`` seconds (said, and in ``Retry-After``)."""
    metrics.RATE_LIMITED.labels("login").inc()
    flash(gettext("Too many failed logins: try again in %(wait)d s.", wait=wait), "error")
    return render_template(template, **context), 429, {"Retry-After": str(max(1, wait))}


def local_path(target: str | None, prefix: str = "/", limit: int = 2000) -> str | None:
    """``target`` when it is a path of this site under ``prefix`` that a header can carry
    (ASCII, printable, no ``//`` or backslash, at most ``limit`` characters), else None: a
    redirect to it never leaves the site."""
    if (
        target
        and len(target) <= limit
        and target.startswith(prefix)
        and target.isascii()
        and target.isprintable()
        and "//" not in target
        and "\\" not in target
    ):
        return target
    return None


@contextmanager
def flash_errors() -> Iterator[None]:
    """A form's action: a refusal by the service (bad input, conflict, limit, ...) becomes a
    message on the page the user is sent back to, never an error page."""
    try:
        yield
    except ServiceError as exc:
        flash(message(exc), "error")


def person_login(place: str, template: str, **context: object) -> Any:
    """The form's account and password open a person's session in ``place`` (console or
    portal): None when it did (the caller redirects), else the refusal to answer with (rate
    limited per address and account name, the same words for every wrong credential)."""
    login = request.form.get("login", "").strip().lower()[:254]
    wait = login_limiter().wait("person-login", request.remote_addr, login)
    if wait is not None:
        return too_many(template, wait, **context)
    try:
        sid, _account = sessions.open_person(
            ctx(), login, request.form.get("password", ""), place, request.form.get("code") or None
        )
    except Unauthorized as exc:
        login_limiter().failed("person-login", request.remote_addr, login)
        flash(message(exc), "error")
        return render_template(template, **context), 401
    begin_session(sid, sessions.PERSON)
    return None


def begin_session(sid: str, kind: str) -> None:
    """A login's browser session: a new one (no fixation) that holds only the server-side
    session's secret and which login it is."""
    session.clear()
    session[SID], session[KIND] = sid, kind
    session.permanent = True


# The person-only pages (second factor, own sessions), asked for by a token's session.
_NOT_A_PERSON = {
    "console": N_(
        "The organiser token has no second factor or sessions of its own: sign in "
        "with your account."
    ),
    "portal": N_(
        "The team token has no second factor or sessions of its own: sign in with your account."
    ),
}


def not_a_person(place: str) -> Response:
    return html_error(403, "forbidden", gettext(_NOT_A_PERSON[place]))


def second_factor_page(account: Any, place: str) -> Response:
    """``/<place>/security``: the key as a QR code for an authenticator app, then the code it
    shows turns the factor on (the key travels in the form, never in a cookie or a log).
    ``account`` None: a token's session, which has none (403)."""
    if account is None:
        return not_a_person(place)
    key = accounts.new_totp_key()
    if request.method == "POST" and not account.totp:
        given = request.form.get("key", "")[:64]
        with flash_errors():
            accounts.enrol_totp(ctx(), account, given, request.form.get("code", "")[:20])
            flash(gettext("Second factor on: sign-ins now ask for its code."), "ok")
            return redirect(url_for("console.index" if place == "console" else "portal.challenges"))
        if accounts.is_totp_key(given):  # a mistyped code: the same key, try again
            key = given
    uri = accounts.totp_uri(ctx(), account, key)
    import segno

    qr = Markup(segno.make(uri, error="m").svg_inline(scale=4))  # noqa: S704 - segno's SVG
    mine = sessions.sessions_of(ctx(), account.id, session.get(SID, ""))
    body = render_template(
        f"{place}/security.html",
        account=account,
        key=key,
        qr=qr,
        action=url_for(f"{place}.security"),
        sessions=mine,
        end_action=url_for(f"{place}.end_session"),
    )
    return Response(body, headers={"Cache-Control": "no-store"}, mimetype="text/html")


def end_session_action(account: Any, place: str) -> Response:
    """One of the person's own sessions ends (another browser, a lost laptop)."""
    if account is None:
        return not_a_person(place)
    if sessions.end_session(ctx(), account.id, request.form.get("handle", "")[:16]):
        flash(gettext("Session ended."), "ok")
    else:
        flash(gettext("No such session."), "error")
    return redirect(url_for(f"{place}.security"))


def may(permission: str) -> bool:
    """In a template: may this page's caller do what ``permission`` covers (a button shown)?"""
    place = Place.CONSOLE if request.blueprint == "console" else Place.PORTAL
    return allows(g.get("holder"), Permission(permission), place)
