"""The team portal (``/portal/``): a team's token or one of its members. Every view acts for the
session's team only (no URL names a team, so no team reaches another's instance, attempts or
hints) and declares the permission it needs (``core.permissions``): playing, a person's own
second factor and sessions, or the captain's management of the team. Challenges, attempts,
hints, instances and graded tasks (``challenges``), how members reach their targets
(``access``), the team's people (``team``)."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from range_control.core.actors import Actor
from range_control.core.errors import Unauthorized
from range_control.core.permissions import TEAM_ROLES, Machine, Permission, Place, Role, allows
from range_control.services.event import scenario
from range_control.services.people import accounts, sessions
from range_control.web.common import sign_in
from range_control.web.i18n import gettext, message
from range_control.web.pages.common import (
    KIND,
    SID,
    begin_session,
    ctx,
    end_session_action,
    local_path,
    login_limiter,
    not_a_person,
    person_login,
    second_factor_page,
    too_many,
)

F = TypeVar("F", bound=Callable[..., Any])
bp = Blueprint("portal", __name__, url_prefix="/portal")


@bp.context_processor
def _banner() -> dict[str, Any]:
    """Team pages show the event banner: a pause, the phase and the countdown, everywhere."""
    if getattr(g, "team", None) is None:
        return {}
    w = g.get("where") or scenario.where(ctx())  # a page that read it already
    phase = w.at.phase if w.at is not None else None
    return {
        "banner": {
            "ev": w.view,
            "phase_title": phase.title if phase else None,
            "phase_translations": scenario.phase_translations(w),
            "next_at": w.at.next_at if w.at is not None else None,
        },
        "now": ctx().clock.now(),
        "has_defence": w.spec is not None and w.spec.defence is not None,
    }


def page(need: Permission) -> Callable[[F], F]:
    """A portal page that needs ``need``: the team's token session, or a member's (the team is
    the account's, now) whose role grants it (``core.permissions``). ``g.team``, ``g.account``
    (None for the token), ``g.holder`` and ``g.actor`` are set for the view."""

    def declare(fn: F) -> F:
        @wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            sid, kind = session.get(SID), session.get(KIND)
            if not sid or kind not in (sessions.TEAM, sessions.PERSON):
                return redirect(url_for("portal.login", next=request.path))
            try:
                if not g.get("portal_who"):  # not already by ``signed_in`` in this request
                    _who(sid, kind)
            except Unauthorized as exc:
                session.clear()
                flash(message(exc), "error")
                return redirect(url_for("portal.login"))
            own = need is Permission.OWN_ACCOUNT
            if g.account is not None and not own and accounts.must_enrol(ctx(), g.account):
                flash(gettext("Your role needs a second factor: add it before going on."), "info")
                return redirect(url_for("portal.security"))
            if not allows(g.holder, need, Place.PORTAL):
                if own:
                    return not_a_person("portal")
                abort(403)
            return fn(*args, **kwargs)

        wrapper.rule = (Place.PORTAL, need)  # type: ignore[attr-defined]
        return wrapper  # type: ignore[return-value]

    return declare


def signed_in() -> bool:
    """Is there a team's or a member's valid session (``g`` then set as a page sets it)? For a
    hook that runs before the page (``challenges.upload_limit``); the page still checks its
    permission."""
    sid, kind = session.get(SID), session.get(KIND)
    if not sid or kind not in (sessions.TEAM, sessions.PERSON):
        return False
    try:
        _who(sid, kind)
    except Unauthorized:
        return False
    g.portal_who = True
    return True


def _who(sid: str, kind: str) -> None:
    if kind == sessions.PERSON:
        g.account = sessions.person_of(ctx(), sid)
        if g.account.role not in TEAM_ROLES:
            raise Unauthorized("your account signs in to the organiser console, not the portal")
        g.team = sessions.team_of_account(ctx(), g.account)
        g.holder, g.actor = Role(g.account.role), accounts.actor(g.account)
    else:
        g.account = None
        g.team = sessions.team_of(ctx(), sid)
        g.holder, g.actor = Machine.TEAM_TOKEN, Actor.team(g.team.id, g.team.name)


def _safe_next(target: str | None) -> str:
    """Only a path of the portal itself: no other host, no scheme, nothing a header cannot hold."""
    return local_path(target, "/portal/", 300) or url_for("portal.challenges")


@bp.route("/login", methods=["GET", "POST"])
@sign_in
def login() -> Any:
    if request.method == "GET":
        return render_template("portal/login.html", next=request.args.get("next", ""))
    if "login" in request.form:  # a member, with an account
        refused = person_login("portal", "portal/login.html", next="")
        if refused is not None:
            return refused
        flash(gettext("Logged in."), "ok")
        return redirect(_safe_next(request.form.get("next")))
    token = request.form.get("token", "").strip()
    wait = login_limiter().wait("team-login", request.remote_addr, token)
    if wait is not None:
        return too_many("portal/login.html", wait, next="")
    try:
        sid, team = sessions.open_team(ctx(), token)
    except Unauthorized as exc:
        login_limiter().failed("team-login", request.remote_addr, token)
        flash(message(exc), "error")
        return render_template("portal/login.html", next=request.form.get("next", "")), 401
    begin_session(sid, sessions.TEAM)
    flash(gettext("Logged in as %(team)s.", team=team.name), "ok")
    return redirect(_safe_next(request.form.get("next")))


@bp.post("/logout")
@sign_in
def logout() -> Response:
    sessions.close(ctx(), session.get(SID, ""))
    session.clear()
    flash(gettext("Logged out."), "ok")
    return redirect(url_for("portal.login"))


@bp.route("/security", methods=["GET", "POST"])
@page(Permission.OWN_ACCOUNT)
def security() -> Response:
    """A member's second factor (the team token has none)."""
    return second_factor_page(g.account, "portal")


@bp.post("/security/end-session")
@page(Permission.OWN_ACCOUNT)
def end_session() -> Response:
    return end_session_action(g.account, "portal")


from range_control.web.pages.portal import access, challenges, defence, team  # noqa: E402,F401
