"""The organiser console: event control, the environment grid (team x challenge), the live
attempts feed, flag-sharing alerts, teams, announcements and awards. Organiser token only; a
team session is refused here."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from dataclasses import fields
from datetime import timedelta
from functools import wraps
from typing import Any

from flask import Blueprint, flash, g, redirect, render_template, request, session, url_for
from werkzeug.wrappers import Response

from range_control.errors import InvalidInput
from range_control.services import access, admin, dashboard, environments, scenario, teams
from range_control.settings import secret
from scoreboard_web.common import ORGANISER, TEAM, ctx, flash_errors, html_error, login_limiter

bp = Blueprint("console", __name__, url_prefix="/console", template_folder="templates")

ACTOR = "organiser"
CONTROLS = {"start": scenario.start, "pause": scenario.pause, "resume": scenario.resume,
            "skip": scenario.skip, "end": scenario.end}  # fmt: skip


def _fingerprint(token: str) -> str:
    return hashlib.sha256(b"console:" + token.encode()).hexdigest()


def _is_organiser() -> bool:
    held = session.get(ORGANISER, "")
    want = _fingerprint(secret(ctx().settings.admin_token))
    return bool(held) and hmac.compare_digest(held, want)


def organiser_required(fn: Callable[..., Any]) -> Callable[..., Any]:
    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        if not _is_organiser():
            if session.get(TEAM):
                return html_error(403, "forbidden",
                                  "The organiser console refuses team sessions.")  # fmt: skip
            return redirect(url_for("console.login"))
        g.actor = ACTOR
        return fn(*args, **kwargs)

    return wrapper


def _back() -> Response:
    return redirect(url_for("console.index"))


@bp.route("/login", methods=["GET", "POST"])
def login() -> Any:
    if request.method == "GET":
        return render_template("console/login.html")
    wait = login_limiter().hit("console-login", request.remote_addr or "?")
    if wait is not None:
        flash(f"Too many login attempts from your address: try again in {wait} s.", "error")
        return render_template("console/login.html"), 429
    token = request.form.get("token", "").strip()
    if not access.is_organiser_token(ctx(), token):
        flash("That is not the organiser token.", "error")
        return render_template("console/login.html"), 401
    session.clear()
    session[ORGANISER] = _fingerprint(token)
    session.permanent = True
    return _back()


@bp.post("/logout")
def logout() -> Response:
    session.pop(ORGANISER, None)
    return redirect(url_for("console.login"))


@bp.get("/")
@organiser_required
def index() -> str:
    d = dashboard.console(ctx())
    return render_template("console/index.html", **{f.name: getattr(d, f.name) for f in fields(d)})


@bp.post("/event/<action>")
@organiser_required
def event_control(action: str) -> Response:
    with flash_errors():
        if action == "extend":
            minutes = request.form.get("minutes", "")
            if not minutes.isdigit() or not 1 <= int(minutes) <= 24 * 60:
                raise InvalidInput("minutes: a whole number from 1 to 1440")
            scenario.extend(ctx(), timedelta(minutes=int(minutes)), ACTOR)
            flash(f"Current phase extended by {minutes} min.", "ok")
        elif action in CONTROLS:
            ev = CONTROLS[action](ctx(), ACTOR)
            flash(f"Event {action}: now {ev.state.replace('_', ' ')}.", "ok")
        else:
            flash(f"Unknown action {action!r}.", "error")
    return _back()


@bp.post("/environments")
@organiser_required
def env_action() -> Response:
    action = request.form.get("action", "")
    sel = environments.Selection(team=request.form.get("team") or None,
                                 challenge=request.form.get("challenge") or None)  # fmt: skip
    ops = {"up": environments.up, "reset": environments.reset, "stop": environments.down}
    with flash_errors():
        if action not in ops:
            raise InvalidInput(f"action: one of {', '.join(ops)}")
        n = ops[action](ctx(), sel, ACTOR)
        flash(f"{action}: {n} instance(s); the reconciler applies it within seconds.", "ok")
    return _back()


@bp.post("/teams")
@organiser_required
def add_team() -> Response:
    with flash_errors():
        nt = teams.add_team(ctx(), request.form.get("name", ""),
                            request.form.get("country") or None, actor=ACTOR)  # fmt: skip
        flash(f"Team {nt.team.name} added. Its token, shown once: {nt.token}", "token")
    return _back()


@bp.post("/teams/<int:team_id>/<action>")
@organiser_required
def team_action(team_id: int, action: str) -> Response:
    with flash_errors():
        if action in ("disable", "enable"):
            t = teams.set_disabled(ctx(), team_id, action == "disable", ACTOR)
            flash(f"Team {t.name} {action}d.", "ok")
        elif action == "rotate":
            nt = teams.rotate_token(ctx(), team_id, ACTOR)
            flash(f"New token for {nt.team.name}, shown once: {nt.token}", "token")
        else:
            flash(f"Unknown action {action!r}.", "error")
    return _back()


@bp.post("/announcements")
@organiser_required
def post_announcement() -> Response:
    with flash_errors():
        scenario.post_announcement(ctx(), request.form.get("title", ""),
                                   request.form.get("body", ""), ACTOR)  # fmt: skip
        flash("Announcement posted.", "ok")
    return _back()


@bp.post("/awards")
@organiser_required
def add_award() -> Response:
    value = request.form.get("value", "").strip()
    with flash_errors():
        if not value.lstrip("-").isdigit():
            raise InvalidInput("value: a whole number (negative for a penalty)")
        admin.add_award(ctx(), request.form.get("team", ""), int(value),
                        request.form.get("reason", ""), ACTOR)  # fmt: skip
        flash("Award given.", "ok")
    return _back()


def _attempt_filter() -> admin.AttemptFilter:
    return admin.AttemptFilter(
        team=request.args.get("team") or None,
        challenge=request.args.get("challenge") or None,
        result=request.args.get("result") or None,
        limit=100,
    )


@bp.get("/attempts")
@organiser_required
def attempts_page() -> str:
    f = _attempt_filter()
    return render_template("console/attempts.html", rows=admin.list_attempts(ctx(), f), f=f,
                           teams=teams.list_teams(ctx()),
                           challenges=admin.list_challenges(ctx()))  # fmt: skip


@bp.get("/attempts/feed")
@organiser_required
def attempts_feed() -> str:
    """The rows alone, for the page's live refresh."""
    rows = admin.list_attempts(ctx(), _attempt_filter())
    return render_template("console/_attempts.html", rows=rows)
