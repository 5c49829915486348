"""The organiser console (``/console/``): people with a console role (organiser, grader, observer)
or the organiser token's session. Each page declares the permission it needs
(``core.permissions``): observers and graders look, graders also grade, organisers change; a
team's session is refused here. Event control and environments (``event``), teams and tokens
(``people``), the attempts record (``records``), WireGuard (``access``), graded tasks and the
report (``whitecell``)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import fields
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from range_control.core.actors import ORGANISER_TOKEN
from range_control.core.errors import Unauthorized
from range_control.core.permissions import CONSOLE_ROLES, Machine, Permission, Place, Role, allows
from range_control.services.organiser import dashboard
from range_control.services.people import accounts, sessions
from range_control.web.common import sign_in
from range_control.web.i18n import gettext, label, message
from range_control.web.pages.common import (
    KIND,
    SID,
    begin_session,
    ctx,
    end_session_action,
    html_error,
    login_limiter,
    not_a_person,
    person_login,
    second_factor_page,
    too_many,
)

F = TypeVar("F", bound=Callable[..., Any])
bp = Blueprint("console", __name__, url_prefix="/console")


def page(need: Permission) -> Callable[[F], F]:
    """A console page that needs ``need``: the organiser token's session, or a person with a
    console role whose role grants it (``core.permissions``). A team's session is refused; a
    person whose role requires a second factor adds it first."""

    def declare(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            refused = _who()
            if refused is not None:
                return refused
            own = need is Permission.OWN_ACCOUNT
            if g.account is not None and not own and accounts.must_enrol(ctx(), g.account):
                flash(gettext("Your role needs a second factor: add it before going on."), "info")
                return redirect(url_for("console.security"))
            if not allows(g.holder, need, Place.CONSOLE):
                if own:
                    return not_a_person("console")
                refused_text = gettext(
                    "Read-only: your role (%(role)s) may look at the console, not change anything.",
                    role=label(g.holder),
                )
                return html_error(403, "forbidden", refused_text)
            return fn(*args, **kwargs)

        wrapper.rule = (Place.CONSOLE, need)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return declare


def _who() -> Response | None:
    """``g.holder``, ``g.actor`` and ``g.account`` of the session; else the refusal."""
    kind, sid = session.get(KIND), session.get(SID, "")
    if kind == sessions.ORGANISER and sessions.is_organiser(ctx(), sid):
        g.holder, g.actor, g.account = Machine.ORGANISER_TOKEN, ORGANISER_TOKEN, None
        return None
    if kind == sessions.PERSON:
        try:
            account = sessions.person_of(ctx(), sid)
        except Unauthorized as exc:
            session.clear()
            flash(message(exc), "error")
            return redirect(url_for("console.login"))
        if account.role in CONSOLE_ROLES:
            g.holder, g.actor, g.account = Role(account.role), accounts.actor(account), account
            return None
    elif kind != sessions.TEAM:
        return redirect(url_for("console.login"))
    return html_error(403, "forbidden", gettext("The organiser console refuses team sessions."))


def _back() -> Response:
    """After signing in: the console, or for a red cell member its own page."""
    if session.get(KIND) == sessions.PERSON:
        with contextlib.suppress(Unauthorized):
            if sessions.person_of(ctx(), session.get(SID, "")).role == Role.RED:
                return redirect(url_for("console.red_page"))
    return redirect(url_for("console.index"))


@bp.route("/login", methods=["GET", "POST"])
@sign_in
def login() -> Any:
    if request.method == "GET":
        return render_template("console/login.html")
    if "login" in request.form:  # a person, with an account
        refused = person_login("console", "console/login.html")
        return refused or _back()
    token = request.form.get("token", "").strip()
    wait = login_limiter().wait("console-login", request.remote_addr, token)
    if wait is not None:
        return too_many("console/login.html", wait)
    try:
        sid = sessions.open_organiser(ctx(), token)
    except Unauthorized:
        login_limiter().failed("console-login", request.remote_addr, token)
        flash(gettext("That is not the organiser token."), "error")
        return render_template("console/login.html"), 401
    begin_session(sid, sessions.ORGANISER)
    return _back()


@bp.post("/logout")
@sign_in
def logout() -> Response:
    sessions.close(ctx(), session.get(SID, ""))
    session.clear()
    return redirect(url_for("console.login"))


@bp.get("/")
@page(Permission.LOOK)
def index() -> str:
    d = dashboard.console(ctx())
    return render_template("console/index.html", **{f.name: getattr(d, f.name) for f in fields(d)})


@bp.route("/security", methods=["GET", "POST"])
@page(Permission.OWN_ACCOUNT)
def security() -> Response | str:
    """A person's second factor (the organiser token has none)."""
    return second_factor_page(g.account, "console")


@bp.post("/security/end-session")
@page(Permission.OWN_ACCOUNT)
def end_session() -> Response:
    return end_session_action(g.account, "console")


from range_control.web.pages.console import (  # noqa: E402,F401  (pages register on bp)
    access,
    defence,
    event,
    people,
    records,
    redcell,
    whitecell,
)
